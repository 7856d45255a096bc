// Package wire encodes and decodes the SMB2 messages the server handles:
// the 64-byte header and the request and response bodies of the commands
// used on IPC$ named pipes (MS-SMB2 2.2).
//
// Decoders are bounds-checked views: every offset and length a peer sends
// is checked against the bytes received before it is used, so a lying
// value yields ErrMalformed, never a panic or a large allocation. Slices
// in decoded values alias the input. Encoders append to a caller's slice.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

var le = binary.LittleEndian

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("smb2: malformed message")

func malformed(what string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(what, args...))
}

// Protocol identifiers of the first four bytes of a message.
const (
	ProtocolSMB2       = "\xfeSMB"
	ProtocolSMB1       = "\xffSMB"
	ProtocolTransform  = "\xfdSMB"
	ProtocolCompressed = "\xfcSMB"
)

// HeaderSize is the size of the SMB2 header.
const HeaderSize = 64

// Commands.
const (
	CmdNegotiate      uint16 = 0x0000
	CmdSessionSetup   uint16 = 0x0001
	CmdLogoff         uint16 = 0x0002
	CmdTreeConnect    uint16 = 0x0003
	CmdTreeDisconnect uint16 = 0x0004
	CmdCreate         uint16 = 0x0005
	CmdClose          uint16 = 0x0006
	CmdFlush          uint16 = 0x0007
	CmdRead           uint16 = 0x0008
	CmdWrite          uint16 = 0x0009
	CmdLock           uint16 = 0x000A
	CmdIoctl          uint16 = 0x000B
	CmdCancel         uint16 = 0x000C
	CmdEcho           uint16 = 0x000D
	CmdQueryDirectory uint16 = 0x000E
	CmdChangeNotify   uint16 = 0x000F
	CmdQueryInfo      uint16 = 0x0010
	CmdSetInfo        uint16 = 0x0011
	CmdOplockBreak    uint16 = 0x0012
	NumCommands              = 0x0013
)

// Header flags.
const (
	FlagServerToRedir     uint32 = 0x00000001
	FlagAsyncCommand      uint32 = 0x00000002
	FlagRelatedOperations uint32 = 0x00000004
	FlagSigned            uint32 = 0x00000008
	FlagPriorityMask      uint32 = 0x00000070
	FlagDFSOperations     uint32 = 0x10000000
	FlagReplayOperation   uint32 = 0x20000000
)

// Header is the SMB2 packet header, sync or async form.
type Header struct {
	CreditCharge uint16
	Status       uint32 // ChannelSequence/Reserved in requests
	Command      uint16
	Credit       uint16 // CreditRequest or CreditResponse
	Flags        uint32
	NextCommand  uint32
	MessageID    uint64
	AsyncID      uint64 // async form only
	TreeID       uint32 // sync form only
	SessionID    uint64
	Signature    [16]byte
}

// ParseHeader decodes the header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, malformed("header: %d bytes", len(b))
	}
	if string(b[:4]) != ProtocolSMB2 {
		return h, malformed("header: protocol id %x", b[:4])
	}
	if le.Uint16(b[4:]) != HeaderSize {
		return h, malformed("header: structure size %d", le.Uint16(b[4:]))
	}
	h.CreditCharge = le.Uint16(b[6:])
	h.Status = le.Uint32(b[8:])
	h.Command = le.Uint16(b[12:])
	h.Credit = le.Uint16(b[14:])
	h.Flags = le.Uint32(b[16:])
	h.NextCommand = le.Uint32(b[20:])
	h.MessageID = le.Uint64(b[24:])
	if h.Flags&FlagAsyncCommand != 0 {
		h.AsyncID = le.Uint64(b[32:])
	} else {
		h.TreeID = le.Uint32(b[36:])
	}
	h.SessionID = le.Uint64(b[40:])
	copy(h.Signature[:], b[48:64])
	return h, nil
}

// Append appends the encoded header to b.
func (h *Header) Append(b []byte) []byte {
	var x [HeaderSize]byte
	copy(x[:], ProtocolSMB2)
	le.PutUint16(x[4:], HeaderSize)
	le.PutUint16(x[6:], h.CreditCharge)
	le.PutUint32(x[8:], h.Status)
	le.PutUint16(x[12:], h.Command)
	le.PutUint16(x[14:], h.Credit)
	le.PutUint32(x[16:], h.Flags)
	le.PutUint32(x[20:], h.NextCommand)
	le.PutUint64(x[24:], h.MessageID)
	if h.Flags&FlagAsyncCommand != 0 {
		le.PutUint64(x[32:], h.AsyncID)
	} else {
		le.PutUint32(x[36:], h.TreeID)
	}
	le.PutUint64(x[40:], h.SessionID)
	copy(x[48:], h.Signature[:])
	return append(b, x[:]...)
}

// body checks the StructureSize of a request body and that the fixed part
// is present. msg is the whole message (header included); offsets in
// bodies are relative to its start.
func body(msg []byte, structSize uint16, fixed int, name string) ([]byte, error) {
	if len(msg) < HeaderSize+fixed {
		return nil, malformed("%s: %d bytes", name, len(msg))
	}
	b := msg[HeaderSize:]
	if le.Uint16(b) != structSize {
		return nil, malformed("%s: structure size %d, want %d", name, le.Uint16(b), structSize)
	}
	return b, nil
}

// buffer returns msg[off:off+n] after checking it lies within the message
// and after the fixed part of the body. An empty buffer may have any
// offset.
func buffer(msg []byte, off, n uint32, minOff int, what string) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	end := uint64(off) + uint64(n)
	if int(off) < minOff || end > uint64(len(msg)) {
		return nil, malformed("%s: buffer [%d,+%d) outside message of %d bytes", what, off, n, len(msg))
	}
	return msg[off:end], nil
}

// UTF16 decodes little-endian UTF-16 of even length.
func UTF16(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", malformed("odd UTF-16 length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = le.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// AppendUTF16 appends s as little-endian UTF-16 without terminator.
func AppendUTF16(b []byte, s string) []byte {
	for _, u := range utf16.Encode([]rune(s)) {
		b = le.AppendUint16(b, u)
	}
	return b
}

// FileID is an SMB2_FILEID.
type FileID struct{ Persistent, Volatile uint64 }

func fileID(b []byte) FileID { return FileID{le.Uint64(b), le.Uint64(b[8:])} }

// Append appends the 16-byte encoding.
func (f FileID) Append(b []byte) []byte {
	b = le.AppendUint64(b, f.Persistent)
	return le.AppendUint64(b, f.Volatile)
}
