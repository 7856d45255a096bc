package dcerpc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PDU is one decoded or to-be-encoded connection-oriented PDU: *Bind (also
// alter_context), *BindAck (also alter_context_resp), *BindNak, *Request,
// *Response, *Fault, *Auth3, *Shutdown, *CoCancel or *Orphaned.
//
// Encoders know their size (Size) and write into a caller's buffer
// (MarshalTo); they fill in the version, data representation, PDU type,
// frag_length, auth_length and the auth padding. Decoders (DecodePDU) are
// bounds-checked views: byte-slice fields alias the input.
type PDU interface {
	// Hdr returns the common header. Encoders use its Flags, CallID and
	// VersionMinor, and set the rest.
	Hdr() *Header
	// Size is the encoded length in octets.
	Size() int
	// MarshalTo encodes into b[:Size()] and returns Size(). It fails when
	// b is too short or the PDU cannot be represented (over 65535 octets,
	// too many elements).
	MarshalTo(b []byte) (int, error)

	ptype() PType
	bodyLen() int
	putBody(b []byte)
	verifier() *AuthVerifier
	// stubPad reports whether auth padding aligns the stub to 16 (request,
	// response, fault) rather than the trailer to 4.
	stubPad() bool
}

// ContextElem is one presentation context offered in a bind or
// alter_context (p_cont_elem_t).
type ContextElem struct {
	ContextID        uint16
	AbstractSyntax   SyntaxID
	TransferSyntaxes []SyntaxID
}

// ContextResult is the result of one presentation context (p_cont_def_result_t,
// MS-RPCE adds negotiate_ack).
type ContextResult uint16

// Presentation context results.
const (
	ResultAcceptance        ContextResult = 0
	ResultUserRejection     ContextResult = 1
	ResultProviderRejection ContextResult = 2
	ResultNegotiateAck      ContextResult = 3
)

// ProviderReason is the reason of a rejected context (p_provider_reason_t).
// For a negotiate_ack result the field carries the accepted feature bits.
type ProviderReason uint16

// Provider reasons.
const (
	ReasonNotSpecified                 ProviderReason = 0
	ReasonAbstractSyntaxNotSupported   ProviderReason = 1
	ReasonTransferSyntaxesNotSupported ProviderReason = 2
	ReasonLocalLimitExceeded           ProviderReason = 3
)

func (r ProviderReason) String() string {
	switch r {
	case ReasonNotSpecified:
		return "not specified"
	case ReasonAbstractSyntaxNotSupported:
		return "abstract syntax not supported"
	case ReasonTransferSyntaxesNotSupported:
		return "proposed transfer syntaxes not supported"
	case ReasonLocalLimitExceeded:
		return "local limit exceeded"
	}
	return "unknown"
}

// ContextResultElem is one entry of a bind_ack result list (p_result_t).
type ContextResultElem struct {
	Result         ContextResult
	Reason         ProviderReason
	TransferSyntax SyntaxID
}

// BindNakReason is the provider_reject_reason of a bind_nak.
type BindNakReason uint16

// bind_nak reasons (C706 p_reject_reason_t, MS-RPCE additions).
const (
	NakReasonNotSpecified              BindNakReason = 0
	NakReasonTemporaryCongestion       BindNakReason = 1
	NakReasonLocalLimitExceeded        BindNakReason = 2
	NakReasonProtocolVersionNotSupport BindNakReason = 4
	NakReasonAuthTypeNotRecognized     BindNakReason = 8
	NakReasonInvalidChecksum           BindNakReason = 9
)

func (r BindNakReason) String() string {
	switch r {
	case NakReasonNotSpecified:
		return "not specified"
	case NakReasonTemporaryCongestion:
		return "temporary congestion"
	case NakReasonLocalLimitExceeded:
		return "local limit exceeded"
	case NakReasonProtocolVersionNotSupport:
		return "protocol version not supported"
	case NakReasonAuthTypeNotRecognized:
		return "authentication type not recognized"
	case NakReasonInvalidChecksum:
		return "invalid checksum"
	}
	return "unknown"
}

// Version is an RPC protocol version in a bind_nak.
type Version struct{ Major, Minor uint8 }

// Bind is a bind (ptype 11) or, with Header.Type = PTypeAlterContext, an
// alter_context (ptype 14).
type Bind struct {
	Header
	MaxXmitFrag  uint16
	MaxRecvFrag  uint16
	AssocGroupID uint32
	Contexts     []ContextElem
	Auth         *AuthVerifier
}

// BindAck is a bind_ack (ptype 12) or, with Header.Type =
// PTypeAlterContextResp, an alter_context_resp (ptype 15).
type BindAck struct {
	Header
	MaxXmitFrag  uint16
	MaxRecvFrag  uint16
	AssocGroupID uint32
	// SecondaryAddr is the port_spec without its terminating NUL; "" is
	// encoded as a zero length.
	SecondaryAddr string
	Results       []ContextResultElem
	Auth          *AuthVerifier
}

// BindNak is a bind_nak (ptype 13).
type BindNak struct {
	Header
	Reason   BindNakReason
	Versions []Version
}

// Request is a request (ptype 0). Object is present on the wire when
// Flags has FlagObjectUUID.
type Request struct {
	Header
	AllocHint uint32
	ContextID uint16
	Opnum     uint16
	Object    UUID
	Stub      []byte
	Auth      *AuthVerifier
}

// Response is a response (ptype 2).
type Response struct {
	Header
	AllocHint   uint32
	ContextID   uint16
	CancelCount uint8
	Stub        []byte
	Auth        *AuthVerifier
}

// FaultPDU is a fault PDU (ptype 3). (Fault is the error a Handler
// returns to have one sent.)
type FaultPDU struct {
	Header
	AllocHint   uint32
	ContextID   uint16
	CancelCount uint8
	Status      uint32
	// Stub is optional extended error information, carried opaquely.
	Stub []byte
	Auth *AuthVerifier
}

// Auth3 is an rpc_auth_3 (ptype 16): four octets of padding and the
// verifier.
type Auth3 struct {
	Header
	Auth *AuthVerifier
}

// Shutdown is a shutdown (ptype 17): header only.
type Shutdown struct{ Header }

// CoCancel is a co_cancel (ptype 18).
type CoCancel struct {
	Header
	Auth *AuthVerifier
}

// Orphaned is an orphaned (ptype 19).
type Orphaned struct {
	Header
	Auth *AuthVerifier
}

// Hdr returns the common header.
func (p *Bind) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *BindAck) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *BindNak) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *Request) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *Response) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *FaultPDU) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *Auth3) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *Shutdown) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *CoCancel) Hdr() *Header { return &p.Header }

// Hdr returns the common header.
func (p *Orphaned) Hdr() *Header { return &p.Header }

func (p *Bind) ptype() PType {
	if p.Type == PTypeAlterContext {
		return PTypeAlterContext
	}
	return PTypeBind
}

func (p *BindAck) ptype() PType {
	if p.Type == PTypeAlterContextResp {
		return PTypeAlterContextResp
	}
	return PTypeBindAck
}
func (p *BindNak) ptype() PType  { return PTypeBindNak }
func (p *Request) ptype() PType  { return PTypeRequest }
func (p *Response) ptype() PType { return PTypeResponse }
func (p *FaultPDU) ptype() PType { return PTypeFault }
func (p *Auth3) ptype() PType    { return PTypeAuth3 }
func (p *Shutdown) ptype() PType { return PTypeShutdown }
func (p *CoCancel) ptype() PType { return PTypeCoCancel }
func (p *Orphaned) ptype() PType { return PTypeOrphaned }

func (p *Bind) verifier() *AuthVerifier     { return p.Auth }
func (p *BindAck) verifier() *AuthVerifier  { return p.Auth }
func (p *BindNak) verifier() *AuthVerifier  { return nil }
func (p *Request) verifier() *AuthVerifier  { return p.Auth }
func (p *Response) verifier() *AuthVerifier { return p.Auth }
func (p *FaultPDU) verifier() *AuthVerifier { return p.Auth }
func (p *Auth3) verifier() *AuthVerifier    { return p.Auth }
func (p *Shutdown) verifier() *AuthVerifier { return nil }
func (p *CoCancel) verifier() *AuthVerifier { return p.Auth }
func (p *Orphaned) verifier() *AuthVerifier { return p.Auth }

func (p *Bind) stubPad() bool     { return false }
func (p *BindAck) stubPad() bool  { return false }
func (p *BindNak) stubPad() bool  { return false }
func (p *Request) stubPad() bool  { return true }
func (p *Response) stubPad() bool { return true }
func (p *FaultPDU) stubPad() bool { return true }
func (p *Auth3) stubPad() bool    { return false }
func (p *Shutdown) stubPad() bool { return false }
func (p *CoCancel) stubPad() bool { return false }
func (p *Orphaned) stubPad() bool { return false }

// Size is the encoded length.
func (p *Bind) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *BindAck) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *BindNak) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *Request) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *Response) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *FaultPDU) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *Auth3) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *Shutdown) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *CoCancel) Size() int { return pduSize(p) }

// Size is the encoded length.
func (p *Orphaned) Size() int { return pduSize(p) }

// MarshalTo encodes into b.
func (p *Bind) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *BindAck) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *BindNak) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *Request) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *Response) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *FaultPDU) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *Auth3) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *Shutdown) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *CoCancel) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// MarshalTo encodes into b.
func (p *Orphaned) MarshalTo(b []byte) (int, error) { return marshalPDU(p, b) }

// Marshal encodes p into a new buffer.
func Marshal(p PDU) ([]byte, error) {
	b := make([]byte, p.Size())
	n, err := p.MarshalTo(b)
	return b[:n], err
}

// authPad is the number of padding octets placed before the sec_trailer:
// request, response and fault stubs are padded to a multiple of 16
// (MS-RPCE 2.2.2.11); other PDUs align the trailer to 4 from the start of
// the PDU.
func authPad(p PDU, bodyEnd int) int {
	if p.verifier() == nil {
		return 0
	}
	if p.stubPad() {
		stub := bodyEnd - HeaderLen - fixedBody(p)
		return (authPadAlign - stub%authPadAlign) % authPadAlign
	}
	return (4 - bodyEnd%4) % 4
}

// fixedBody is the length of the body before the stub.
func fixedBody(p PDU) int {
	switch q := p.(type) {
	case *Request:
		if q.Flags&FlagObjectUUID != 0 {
			return 24
		}
		return 8
	case *Response:
		return 8
	case *FaultPDU:
		return 16
	}
	return 0
}

func pduSize(p PDU) int {
	n := HeaderLen + p.bodyLen()
	if a := p.verifier(); a != nil {
		n += authPad(p, n) + authTrailerLen + len(a.Value)
	}
	return n
}

func marshalPDU(p PDU, b []byte) (int, error) {
	n := pduSize(p)
	if n > math.MaxUint16 {
		return 0, fmt.Errorf("dcerpc: %s of %d octets exceeds a fragment", p.ptype(), n)
	}
	if len(b) < n {
		return 0, fmt.Errorf("dcerpc: buffer of %d octets for a %d-octet %s", len(b), n, p.ptype())
	}
	if err := checkCounts(p); err != nil {
		return 0, err
	}
	h := p.Hdr()
	h.Version = 5
	h.Type = p.ptype()
	h.DataRep = dataRepLE
	h.FragLength = uint16(n)
	h.AuthLength = 0
	bodyEnd := HeaderLen + p.bodyLen()
	p.putBody(b[HeaderLen:bodyEnd])
	if a := p.verifier(); a != nil {
		if len(a.Value) > math.MaxUint16 {
			return 0, fmt.Errorf("dcerpc: auth_value of %d octets", len(a.Value))
		}
		pad := authPad(p, bodyEnd)
		clear(b[bodyEnd : bodyEnd+pad])
		a.PadLength = uint8(pad)
		t := b[bodyEnd+pad:]
		t[0] = byte(a.Type)
		t[1] = byte(a.Level)
		t[2] = uint8(pad)
		t[3] = 0
		binary.LittleEndian.PutUint32(t[4:], a.ContextID)
		copy(t[authTrailerLen:], a.Value)
		h.AuthLength = uint16(len(a.Value))
	}
	h.put(b)
	return n, nil
}

func checkCounts(p PDU) error {
	switch q := p.(type) {
	case *Bind:
		if len(q.Contexts) > math.MaxUint8 {
			return fmt.Errorf("dcerpc: %d presentation contexts", len(q.Contexts))
		}
		for _, c := range q.Contexts {
			if len(c.TransferSyntaxes) > math.MaxUint8 {
				return fmt.Errorf("dcerpc: %d transfer syntaxes", len(c.TransferSyntaxes))
			}
		}
	case *BindAck:
		if len(q.Results) > math.MaxUint8 {
			return fmt.Errorf("dcerpc: %d results", len(q.Results))
		}
		if len(q.SecondaryAddr) >= math.MaxUint16 {
			return fmt.Errorf("dcerpc: secondary address too long")
		}
	case *BindNak:
		if len(q.Versions) > math.MaxUint8 {
			return fmt.Errorf("dcerpc: %d versions", len(q.Versions))
		}
	}
	return nil
}

// Body lengths and encoders.

func (p *Bind) bodyLen() int {
	n := 12
	for _, c := range p.Contexts {
		n += 4 + syntaxIDLen + syntaxIDLen*len(c.TransferSyntaxes)
	}
	return n
}

func (p *Bind) putBody(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], p.MaxXmitFrag)
	le.PutUint16(b[2:], p.MaxRecvFrag)
	le.PutUint32(b[4:], p.AssocGroupID)
	b[8], b[9], b[10], b[11] = uint8(len(p.Contexts)), 0, 0, 0
	o := 12
	for _, c := range p.Contexts {
		le.PutUint16(b[o:], c.ContextID)
		b[o+2], b[o+3] = uint8(len(c.TransferSyntaxes)), 0
		c.AbstractSyntax.put(b[o+4:])
		o += 4 + syntaxIDLen
		for _, t := range c.TransferSyntaxes {
			t.put(b[o:])
			o += syntaxIDLen
		}
	}
}

// secAddrLen is the encoded port_any_t length (with NUL) of s.
func secAddrLen(s string) int {
	if s == "" {
		return 0
	}
	return len(s) + 1
}

func (p *BindAck) bodyLen() int {
	n := 8 + 2 + secAddrLen(p.SecondaryAddr)
	n += (4 - (HeaderLen+n)%4) % 4
	return n + 4 + 24*len(p.Results)
}

func (p *BindAck) putBody(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], p.MaxXmitFrag)
	le.PutUint16(b[2:], p.MaxRecvFrag)
	le.PutUint32(b[4:], p.AssocGroupID)
	sl := secAddrLen(p.SecondaryAddr)
	le.PutUint16(b[8:], uint16(sl))
	o := 10
	if sl > 0 {
		o += copy(b[o:], p.SecondaryAddr)
		b[o] = 0
		o++
	}
	for (HeaderLen+o)%4 != 0 {
		b[o] = 0
		o++
	}
	b[o], b[o+1], b[o+2], b[o+3] = uint8(len(p.Results)), 0, 0, 0
	o += 4
	for _, r := range p.Results {
		le.PutUint16(b[o:], uint16(r.Result))
		le.PutUint16(b[o+2:], uint16(r.Reason))
		r.TransferSyntax.put(b[o+4:])
		o += 24
	}
}

func (p *BindNak) bodyLen() int {
	n := 3 + 2*len(p.Versions)
	return n + (4-(HeaderLen+n)%4)%4
}

func (p *BindNak) putBody(b []byte) {
	clear(b)
	binary.LittleEndian.PutUint16(b, uint16(p.Reason))
	b[2] = uint8(len(p.Versions))
	for i, v := range p.Versions {
		b[3+2*i], b[4+2*i] = v.Major, v.Minor
	}
}

func (p *Request) bodyLen() int { return fixedBody(p) + len(p.Stub) }

func (p *Request) putBody(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], p.AllocHint)
	le.PutUint16(b[4:], p.ContextID)
	le.PutUint16(b[6:], p.Opnum)
	o := 8
	if p.Flags&FlagObjectUUID != 0 {
		p.Object.putWire(b[8:])
		o = 24
	}
	copy(b[o:], p.Stub)
}

func (p *Response) bodyLen() int { return 8 + len(p.Stub) }

func (p *Response) putBody(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], p.AllocHint)
	le.PutUint16(b[4:], p.ContextID)
	b[6], b[7] = p.CancelCount, 0
	copy(b[8:], p.Stub)
}

func (p *FaultPDU) bodyLen() int { return 16 + len(p.Stub) }

func (p *FaultPDU) putBody(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], p.AllocHint)
	le.PutUint16(b[4:], p.ContextID)
	b[6], b[7] = p.CancelCount, 0
	le.PutUint32(b[8:], p.Status)
	le.PutUint32(b[12:], 0)
	copy(b[16:], p.Stub)
}

func (p *Auth3) bodyLen() int     { return 4 }
func (p *Auth3) putBody(b []byte) { clear(b[:4]) }

func (p *Shutdown) bodyLen() int   { return 0 }
func (p *Shutdown) putBody([]byte) {}
func (p *CoCancel) bodyLen() int   { return 0 }
func (p *CoCancel) putBody([]byte) {}
func (p *Orphaned) bodyLen() int   { return 0 }
func (p *Orphaned) putBody([]byte) {}

// splitAuth separates the body of a fragment from its verifier. It returns
// the body without the auth padding.
func splitAuth(h Header, b []byte) (body []byte, av *AuthVerifier, err error) {
	if h.AuthLength == 0 {
		return b[HeaderLen:], nil, nil
	}
	to := int(h.FragLength) - int(h.AuthLength) - authTrailerLen
	if to < HeaderLen {
		return nil, nil, malformed("auth_length %d does not fit", h.AuthLength)
	}
	t := b[to:]
	av = &AuthVerifier{
		Type:      AuthType(t[0]),
		Level:     AuthLevel(t[1]),
		PadLength: t[2],
		ContextID: binary.LittleEndian.Uint32(t[4:]),
		Value:     t[authTrailerLen : authTrailerLen+int(h.AuthLength)],
	}
	body = b[HeaderLen:to]
	if int(av.PadLength) > len(body) {
		return nil, nil, malformed("auth_pad_length %d over a %d-octet body", av.PadLength, len(body))
	}
	return body[:len(body)-int(av.PadLength)], av, nil
}

// DecodePDU decodes exactly one PDU. b must hold frag_length octets, no
// more and no less. The result aliases b.
func DecodePDU(b []byte) (PDU, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if len(b) != int(h.FragLength) {
		return nil, malformed("frag_length %d but %d octets", h.FragLength, len(b))
	}
	body, av, err := splitAuth(h, b)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch h.Type {
	case PTypeBind, PTypeAlterContext:
		return decodeBind(h, body, av)
	case PTypeBindAck, PTypeAlterContextResp:
		return decodeBindAck(h, body, av)
	case PTypeBindNak:
		if len(body) < 2 {
			return nil, malformed("bind_nak body of %d octets", len(body))
		}
		p := &BindNak{Header: h, Reason: BindNakReason(le.Uint16(body))}
		if len(body) >= 3 {
			n := int(body[2])
			if 3+2*n > len(body) {
				return nil, malformed("bind_nak lists %d versions in %d octets", n, len(body))
			}
			p.Versions = make([]Version, n)
			for i := range p.Versions {
				p.Versions[i] = Version{body[3+2*i], body[4+2*i]}
			}
		}
		return p, nil
	case PTypeRequest:
		p := &Request{Header: h, Auth: av}
		fixed := fixedBody(p)
		if len(body) < fixed {
			return nil, malformed("request body of %d octets", len(body))
		}
		p.AllocHint = le.Uint32(body[0:])
		p.ContextID = le.Uint16(body[4:])
		p.Opnum = le.Uint16(body[6:])
		if h.Flags&FlagObjectUUID != 0 {
			p.Object = uuidFromWire(body[8:24])
		}
		p.Stub = body[fixed:]
		return p, nil
	case PTypeResponse:
		if len(body) < 8 {
			return nil, malformed("response body of %d octets", len(body))
		}
		return &Response{Header: h, AllocHint: le.Uint32(body), ContextID: le.Uint16(body[4:]),
			CancelCount: body[6], Stub: body[8:], Auth: av}, nil
	case PTypeFault:
		if len(body) < 16 {
			return nil, malformed("fault body of %d octets", len(body))
		}
		return &FaultPDU{Header: h, AllocHint: le.Uint32(body), ContextID: le.Uint16(body[4:]),
			CancelCount: body[6], Status: le.Uint32(body[8:]), Stub: body[16:], Auth: av}, nil
	case PTypeAuth3:
		if av == nil {
			return nil, malformed("auth3 without verifier")
		}
		return &Auth3{Header: h, Auth: av}, nil
	case PTypeShutdown:
		return &Shutdown{Header: h}, nil
	case PTypeCoCancel:
		return &CoCancel{Header: h, Auth: av}, nil
	case PTypeOrphaned:
		return &Orphaned{Header: h, Auth: av}, nil
	}
	return nil, malformed("unknown PDU type %d", uint8(h.Type))
}

func decodeBind(h Header, body []byte, av *AuthVerifier) (*Bind, error) {
	if len(body) < 12 {
		return nil, malformed("%s body of %d octets", h.Type, len(body))
	}
	le := binary.LittleEndian
	p := &Bind{Header: h, MaxXmitFrag: le.Uint16(body), MaxRecvFrag: le.Uint16(body[2:]),
		AssocGroupID: le.Uint32(body[4:]), Auth: av}
	n := int(body[8])
	o := 12
	// Each element needs at least 24 octets: refuse a lying count before
	// allocating.
	if n*(4+syntaxIDLen) > len(body)-o {
		return nil, malformed("%s lists %d contexts in %d octets", h.Type, n, len(body))
	}
	p.Contexts = make([]ContextElem, n)
	for i := range p.Contexts {
		if len(body)-o < 4+syntaxIDLen {
			return nil, malformed("%s context %d truncated", h.Type, i)
		}
		c := &p.Contexts[i]
		c.ContextID = le.Uint16(body[o:])
		nt := int(body[o+2])
		c.AbstractSyntax = syntaxFromWire(body[o+4:])
		o += 4 + syntaxIDLen
		if nt*syntaxIDLen > len(body)-o {
			return nil, malformed("%s context %d lists %d transfer syntaxes", h.Type, i, nt)
		}
		c.TransferSyntaxes = make([]SyntaxID, nt)
		for j := range c.TransferSyntaxes {
			c.TransferSyntaxes[j] = syntaxFromWire(body[o:])
			o += syntaxIDLen
		}
	}
	return p, nil
}

func decodeBindAck(h Header, body []byte, av *AuthVerifier) (*BindAck, error) {
	if len(body) < 10 {
		return nil, malformed("%s body of %d octets", h.Type, len(body))
	}
	le := binary.LittleEndian
	p := &BindAck{Header: h, MaxXmitFrag: le.Uint16(body), MaxRecvFrag: le.Uint16(body[2:]),
		AssocGroupID: le.Uint32(body[4:]), Auth: av}
	sl := int(le.Uint16(body[8:]))
	o := 10
	if sl > len(body)-o {
		return nil, malformed("%s secondary address of %d octets in %d", h.Type, sl, len(body))
	}
	addr := body[o : o+sl]
	if len(addr) > 0 && addr[len(addr)-1] == 0 {
		addr = addr[:len(addr)-1]
	}
	p.SecondaryAddr = string(addr)
	o += sl
	o += (4 - (HeaderLen+o)%4) % 4
	if o+4 > len(body) {
		return nil, malformed("%s result list truncated", h.Type)
	}
	n := int(body[o])
	o += 4
	if n*24 > len(body)-o {
		return nil, malformed("%s lists %d results in %d octets", h.Type, n, len(body)-o)
	}
	p.Results = make([]ContextResultElem, n)
	for i := range p.Results {
		p.Results[i] = ContextResultElem{
			Result:         ContextResult(le.Uint16(body[o:])),
			Reason:         ProviderReason(le.Uint16(body[o+2:])),
			TransferSyntax: syntaxFromWire(body[o+4:]),
		}
		o += 24
	}
	return p, nil
}
