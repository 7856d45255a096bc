package dcerpc

import (
	"encoding/binary"
	"fmt"
)

// PType is the PDU type (C706 12.6.4, MS-RPCE 2.2.2.10).
type PType uint8

// Connection-oriented PDU types.
const (
	PTypeRequest          PType = 0
	PTypeResponse         PType = 2
	PTypeFault            PType = 3
	PTypeBind             PType = 11
	PTypeBindAck          PType = 12
	PTypeBindNak          PType = 13
	PTypeAlterContext     PType = 14
	PTypeAlterContextResp PType = 15
	PTypeAuth3            PType = 16
	PTypeShutdown         PType = 17
	PTypeCoCancel         PType = 18
	PTypeOrphaned         PType = 19
)

func (t PType) String() string {
	switch t {
	case PTypeRequest:
		return "request"
	case PTypeResponse:
		return "response"
	case PTypeFault:
		return "fault"
	case PTypeBind:
		return "bind"
	case PTypeBindAck:
		return "bind_ack"
	case PTypeBindNak:
		return "bind_nak"
	case PTypeAlterContext:
		return "alter_context"
	case PTypeAlterContextResp:
		return "alter_context_resp"
	case PTypeAuth3:
		return "auth3"
	case PTypeShutdown:
		return "shutdown"
	case PTypeCoCancel:
		return "co_cancel"
	case PTypeOrphaned:
		return "orphaned"
	}
	return fmt.Sprintf("ptype(%d)", uint8(t))
}

// Flags are the pfc_flags of the common header.
type Flags uint8

// pfc_flags bits.
const (
	FlagFirstFrag Flags = 0x01
	FlagLastFrag  Flags = 0x02
	// FlagPendingCancel in requests; in bind and bind_ack MS-RPCE reuses
	// the bit as PFC_SUPPORT_HEADER_SIGN.
	FlagPendingCancel  Flags = 0x04
	FlagConcMpx        Flags = 0x10
	FlagDidNotExecute  Flags = 0x20
	FlagMaybe          Flags = 0x40
	FlagObjectUUID     Flags = 0x80
	FlagSupportHdrSign       = FlagPendingCancel
)

// HeaderLen is the size of the common header of every connection-oriented
// PDU.
const HeaderLen = 16

// MinFragSize is the smallest fragment every implementation must be able to
// receive (C706 12.6.3.6, MustRecvFragSize). Negotiated sizes never go below
// it.
const MinFragSize = 1432

// MaxFragSize is the largest fragment length that frag_length can carry
// and that is a multiple of 8, as negotiated sizes are.
const MaxFragSize = 65528

// DataRepLE is the only data representation accepted: little-endian
// integers, ASCII characters, IEEE floats.
var dataRepLE = [4]byte{0x10, 0, 0, 0}

// Header is the 16-byte common header.
type Header struct {
	Version      uint8 // rpc_vers, always 5
	VersionMinor uint8 // rpc_vers_minor, 0 or 1
	Type         PType
	Flags        Flags
	DataRep      [4]byte
	FragLength   uint16
	AuthLength   uint16
	CallID       uint32
}

// ParseHeader checks and decodes the common header at the start of b.
// It rejects versions other than 5.0/5.1, data representations other than
// little-endian/ASCII/IEEE, frag_length below 16, and an auth_length that
// cannot fit.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, malformed("header: %d bytes, need %d", len(b), HeaderLen)
	}
	h := Header{
		Version:      b[0],
		VersionMinor: b[1],
		Type:         PType(b[2]),
		Flags:        Flags(b[3]),
		DataRep:      [4]byte(b[4:8]),
		FragLength:   binary.LittleEndian.Uint16(b[8:]),
		AuthLength:   binary.LittleEndian.Uint16(b[10:]),
		CallID:       binary.LittleEndian.Uint32(b[12:]),
	}
	if h.Version != 5 || h.VersionMinor > 1 {
		return h, fmt.Errorf("%w: %w", ErrMalformed, &VersionError{h.Version, h.VersionMinor})
	}
	// Only the integer/character nibble and the float byte are meaningful;
	// the last two octets are reserved.
	if h.DataRep[0] != dataRepLE[0] || h.DataRep[1] != dataRepLE[1] {
		return h, malformed("unsupported data representation % x", h.DataRep[:2])
	}
	if h.FragLength < HeaderLen {
		return h, malformed("frag_length %d below header size", h.FragLength)
	}
	if h.AuthLength != 0 && int(h.AuthLength)+authTrailerLen > int(h.FragLength)-HeaderLen {
		return h, malformed("auth_length %d does not fit in frag_length %d", h.AuthLength, h.FragLength)
	}
	return h, nil
}

// VersionError reports an RPC protocol version other than 5.0 or 5.1.
type VersionError struct{ Major, Minor uint8 }

func (e *VersionError) Error() string {
	return fmt.Sprintf("unsupported RPC version %d.%d", e.Major, e.Minor)
}

func (h *Header) put(b []byte) {
	b[0] = 5
	b[1] = h.VersionMinor
	b[2] = byte(h.Type)
	b[3] = byte(h.Flags)
	copy(b[4:8], dataRepLE[:])
	binary.LittleEndian.PutUint16(b[8:], h.FragLength)
	binary.LittleEndian.PutUint16(b[10:], h.AuthLength)
	binary.LittleEndian.PutUint32(b[12:], h.CallID)
}
