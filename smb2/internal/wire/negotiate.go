package wire

// Negotiate context types.
const (
	CtxPreauthIntegrity uint16 = 0x0001
	CtxEncryption       uint16 = 0x0002
	CtxCompression      uint16 = 0x0003
	CtxNetname          uint16 = 0x0005
	CtxTransport        uint16 = 0x0006
	CtxRDMATransform    uint16 = 0x0007
	CtxSigning          uint16 = 0x0008
)

// HashSHA512 is the only pre-authentication integrity hash algorithm.
const HashSHA512 uint16 = 0x0001

// Security mode bits.
const (
	SigningEnabled  uint16 = 0x0001
	SigningRequired uint16 = 0x0002
)

// Global capabilities.
const (
	CapDFS               uint32 = 0x00000001
	CapLeasing           uint32 = 0x00000002
	CapLargeMTU          uint32 = 0x00000004
	CapMultiChannel      uint32 = 0x00000008
	CapPersistentHandles uint32 = 0x00000010
	CapDirectoryLeasing  uint32 = 0x00000020
	CapEncryption        uint32 = 0x00000040
)

// MaxNegotiateContexts bounds the contexts a NEGOTIATE may carry.
const MaxNegotiateContexts = 32

// NegotiateContext is one negotiate context; Data aliases the message.
type NegotiateContext struct {
	Type uint16
	Data []byte
}

// NegotiateRequest is an SMB2 NEGOTIATE request.
type NegotiateRequest struct {
	SecurityMode uint16
	Capabilities uint32
	ClientGUID   [16]byte
	Dialects     []uint16
	Contexts     []NegotiateContext // only when 0x0311 is offered
}

// ParseNegotiateRequest decodes msg (header included).
func ParseNegotiateRequest(msg []byte) (*NegotiateRequest, error) {
	b, err := body(msg, 36, 36, "NEGOTIATE")
	if err != nil {
		return nil, err
	}
	n := int(le.Uint16(b[2:]))
	if n == 0 {
		return nil, malformed("NEGOTIATE: no dialects")
	}
	if 36+2*n > len(b) {
		return nil, malformed("NEGOTIATE: %d dialects in %d bytes", n, len(b))
	}
	r := &NegotiateRequest{
		SecurityMode: le.Uint16(b[4:]),
		Capabilities: le.Uint32(b[8:]),
		Dialects:     make([]uint16, n),
	}
	copy(r.ClientGUID[:], b[12:28])
	has311 := false
	for i := range r.Dialects {
		r.Dialects[i] = le.Uint16(b[36+2*i:])
		has311 = has311 || r.Dialects[i] == Dialect311
	}
	if !has311 {
		return r, nil
	}
	off := int(le.Uint32(b[28:]))
	cnt := int(le.Uint16(b[32:]))
	if cnt > MaxNegotiateContexts {
		return nil, malformed("NEGOTIATE: %d contexts", cnt)
	}
	if cnt > 0 && (off < HeaderSize+36+2*n || off > len(msg)) {
		return nil, malformed("NEGOTIATE: context offset %d", off)
	}
	for i := 0; i < cnt; i++ {
		off = (off + 7) &^ 7
		if off+8 > len(msg) {
			return nil, malformed("NEGOTIATE: context %d outside message", i)
		}
		typ := le.Uint16(msg[off:])
		dl := int(le.Uint16(msg[off+2:]))
		if off+8+dl > len(msg) {
			return nil, malformed("NEGOTIATE: context %d length %d", i, dl)
		}
		r.Contexts = append(r.Contexts, NegotiateContext{Type: typ, Data: msg[off+8 : off+8+dl]})
		off += 8 + dl
	}
	return r, nil
}

// Context returns the data of the first context of type t.
func (r *NegotiateRequest) Context(t uint16) ([]byte, bool) {
	for _, c := range r.Contexts {
		if c.Type == t {
			return c.Data, true
		}
	}
	return nil, false
}

// ParseIDList decodes the "count, then count 16-bit ids" layout shared by
// the encryption and signing contexts, and the preauth context (which has
// a salt length between count and ids: skip reports its size).
func ParseIDList(data []byte, skip int) ([]uint16, error) {
	if len(data) < 2+skip {
		return nil, malformed("negotiate context: %d bytes", len(data))
	}
	n := int(le.Uint16(data))
	if n == 0 || 2+skip+2*n > len(data) {
		return nil, malformed("negotiate context: %d ids in %d bytes", n, len(data))
	}
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = le.Uint16(data[2+skip+2*i:])
	}
	return ids, nil
}

// NegotiateResponse is an SMB2 NEGOTIATE response.
type NegotiateResponse struct {
	SecurityMode    uint16
	Dialect         uint16
	ServerGUID      [16]byte
	Capabilities    uint32
	MaxTransactSize uint32
	MaxReadSize     uint32
	MaxWriteSize    uint32
	SystemTime      uint64
	SecurityBuffer  []byte
	Contexts        []NegotiateContext
}

// Append appends the body (after the header, which starts at b[0]).
func (r *NegotiateResponse) Append(b []byte) []byte {
	start := len(b) - HeaderSize
	b = le.AppendUint16(b, 65)
	b = le.AppendUint16(b, r.SecurityMode)
	b = le.AppendUint16(b, r.Dialect)
	b = le.AppendUint16(b, uint16(len(r.Contexts)))
	b = append(b, r.ServerGUID[:]...)
	b = le.AppendUint32(b, r.Capabilities)
	b = le.AppendUint32(b, r.MaxTransactSize)
	b = le.AppendUint32(b, r.MaxReadSize)
	b = le.AppendUint32(b, r.MaxWriteSize)
	b = le.AppendUint64(b, r.SystemTime)
	b = le.AppendUint64(b, 0) // ServerStartTime
	b = le.AppendUint16(b, HeaderSize+64)
	b = le.AppendUint16(b, uint16(len(r.SecurityBuffer)))
	ctxOffAt := len(b)
	b = le.AppendUint32(b, 0)
	b = append(b, r.SecurityBuffer...)
	if len(r.SecurityBuffer) == 0 {
		b = append(b, 0) // the body is never shorter than its StructureSize says
	}
	if len(r.Contexts) > 0 {
		b = appendContexts(b, start, ctxOffAt, r.Contexts)
	}
	return b
}

// appendContexts appends a NEGOTIATE's context list, 8-aligned from the
// header at start, and stores its offset at b[offAt:].
func appendContexts(b []byte, start, offAt int, ctxs []NegotiateContext) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	le.PutUint32(b[offAt:], uint32(len(b)-start))
	for i, c := range ctxs {
		b = le.AppendUint16(b, c.Type)
		b = le.AppendUint16(b, uint16(len(c.Data)))
		b = le.AppendUint32(b, 0)
		b = append(b, c.Data...)
		if i < len(ctxs)-1 {
			for (len(b)-start)%8 != 0 {
				b = append(b, 0)
			}
		}
	}
	return b
}

// SMB1Dialects extracts the dialect strings of an SMB1 NEGOTIATE
// (SMB_COM_NEGOTIATE, 0x72): 32-byte SMB1 header, word count 0, byte count,
// then 0x02-prefixed NUL-terminated strings.
func SMB1Dialects(msg []byte) ([]string, error) {
	if len(msg) < 35 || string(msg[:4]) != ProtocolSMB1 || msg[4] != 0x72 {
		return nil, malformed("SMB1 NEGOTIATE")
	}
	wc := int(msg[32])
	p := 33 + 2*wc
	if p+2 > len(msg) {
		return nil, malformed("SMB1 NEGOTIATE: word count %d", wc)
	}
	bc := int(le.Uint16(msg[p:]))
	p += 2
	if p+bc > len(msg) {
		return nil, malformed("SMB1 NEGOTIATE: byte count %d", bc)
	}
	data := msg[p : p+bc]
	var out []string
	for len(data) > 0 {
		if data[0] != 0x02 {
			return nil, malformed("SMB1 NEGOTIATE: buffer format %#x", data[0])
		}
		data = data[1:]
		i := 0
		for i < len(data) && data[i] != 0 {
			i++
		}
		if i == len(data) {
			return nil, malformed("SMB1 NEGOTIATE: unterminated dialect")
		}
		out = append(out, string(data[:i]))
		data = data[i+1:]
		if len(out) > 64 {
			return nil, malformed("SMB1 NEGOTIATE: too many dialects")
		}
	}
	return out, nil
}
