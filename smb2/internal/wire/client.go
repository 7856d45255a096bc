package wire

// The client's side of the commands: request encoders and response
// decoders. Like the server's decoders, the response decoders check every
// offset and length against the message before using it, and return views
// into the message.

// NegotiateRequestBody is what a client's NEGOTIATE request carries.
type NegotiateRequestBody struct {
	SecurityMode uint16
	Capabilities uint32
	ClientGUID   [16]byte
	Dialects     []uint16
	Contexts     []NegotiateContext // sent only when 0x0311 is offered
}

// Append appends the request body (the header starts at b[0], offsets are
// relative to it).
func (r *NegotiateRequestBody) Append(b []byte) []byte {
	start := len(b) - HeaderSize
	b = le.AppendUint16(b, 36)
	b = le.AppendUint16(b, uint16(len(r.Dialects)))
	b = le.AppendUint16(b, r.SecurityMode)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, r.Capabilities)
	b = append(b, r.ClientGUID[:]...)
	ctxAt := len(b)
	b = le.AppendUint32(b, 0) // context offset
	b = le.AppendUint16(b, uint16(len(r.Contexts)))
	b = le.AppendUint16(b, 0)
	for _, d := range r.Dialects {
		b = le.AppendUint16(b, d)
	}
	if len(r.Contexts) == 0 {
		return b
	}
	return appendContexts(b, start, ctxAt, r.Contexts)
}

// ParseNegotiateResponse decodes msg (header included). Contexts are
// decoded only for dialect 0x0311.
func ParseNegotiateResponse(msg []byte) (*NegotiateResponse, error) {
	b, err := body(msg, 65, 64, "NEGOTIATE response")
	if err != nil {
		return nil, err
	}
	r := &NegotiateResponse{
		SecurityMode:    le.Uint16(b[2:]),
		Dialect:         le.Uint16(b[4:]),
		Capabilities:    le.Uint32(b[24:]),
		MaxTransactSize: le.Uint32(b[28:]),
		MaxReadSize:     le.Uint32(b[32:]),
		MaxWriteSize:    le.Uint32(b[36:]),
		SystemTime:      le.Uint64(b[40:]),
	}
	copy(r.ServerGUID[:], b[8:24])
	r.SecurityBuffer, err = buffer(msg, uint32(le.Uint16(b[56:])), uint32(le.Uint16(b[58:])), HeaderSize+64, "NEGOTIATE response security buffer")
	if err != nil {
		return nil, err
	}
	if r.Dialect != Dialect311 {
		return r, nil
	}
	cnt := int(le.Uint16(b[6:]))
	off := int(le.Uint32(b[60:]))
	if cnt > MaxNegotiateContexts {
		return nil, malformed("NEGOTIATE response: %d contexts", cnt)
	}
	if cnt > 0 && (off < HeaderSize+64 || off > len(msg)) {
		return nil, malformed("NEGOTIATE response: context offset %d", off)
	}
	for i := 0; i < cnt; i++ {
		off = (off + 7) &^ 7
		if off+8 > len(msg) {
			return nil, malformed("NEGOTIATE response: context %d outside message", i)
		}
		typ := le.Uint16(msg[off:])
		dl := int(le.Uint16(msg[off+2:]))
		if off+8+dl > len(msg) {
			return nil, malformed("NEGOTIATE response: context %d length %d", i, dl)
		}
		r.Contexts = append(r.Contexts, NegotiateContext{Type: typ, Data: msg[off+8 : off+8+dl]})
		off += 8 + dl
	}
	return r, nil
}

// Context returns the data of the only context of type t; ok is false when
// there is none, and dup true when there are several.
func (r *NegotiateResponse) Context(t uint16) (data []byte, ok, dup bool) {
	for _, c := range r.Contexts {
		if c.Type == t {
			if ok {
				return data, ok, true
			}
			data, ok = c.Data, true
		}
	}
	return data, ok, false
}

// AppendSessionSetupRequest appends a SESSION_SETUP request body.
func AppendSessionSetupRequest(b []byte, secMode uint8, caps uint32, token []byte) []byte {
	b = le.AppendUint16(b, 25)
	b = append(b, 0, secMode)
	b = le.AppendUint32(b, caps)
	b = le.AppendUint32(b, 0) // channel
	b = le.AppendUint16(b, HeaderSize+24)
	b = le.AppendUint16(b, uint16(len(token)))
	b = le.AppendUint64(b, 0) // previous session
	if len(token) == 0 {
		return append(b, 0)
	}
	return append(b, token...)
}

// SessionSetupResponse is an SMB2 SESSION_SETUP response.
type SessionSetupResponse struct {
	Flags          uint16
	SecurityBuffer []byte
}

// ParseSessionSetupResponse decodes msg.
func ParseSessionSetupResponse(msg []byte) (*SessionSetupResponse, error) {
	b, err := body(msg, 9, 8, "SESSION_SETUP response")
	if err != nil {
		return nil, err
	}
	r := &SessionSetupResponse{Flags: le.Uint16(b[2:])}
	r.SecurityBuffer, err = buffer(msg, uint32(le.Uint16(b[4:])), uint32(le.Uint16(b[6:])), HeaderSize+8, "SESSION_SETUP response")
	return r, err
}

// AppendTreeConnectRequest appends a TREE_CONNECT request body.
func AppendTreeConnectRequest(b []byte, path string) []byte {
	b = le.AppendUint16(b, 9)
	b = le.AppendUint16(b, 0) // flags
	b = le.AppendUint16(b, HeaderSize+8)
	lenAt := len(b)
	b = le.AppendUint16(b, 0)
	n := len(b)
	b = AppendUTF16(b, path)
	le.PutUint16(b[lenAt:], uint16(len(b)-n))
	if len(b) == n {
		b = append(b, 0)
	}
	return b
}

// TreeConnectResponse is an SMB2 TREE_CONNECT response.
type TreeConnectResponse struct {
	ShareType     uint8
	ShareFlags    uint32
	Capabilities  uint32
	MaximalAccess uint32
}

// ParseTreeConnectResponse decodes msg.
func ParseTreeConnectResponse(msg []byte) (*TreeConnectResponse, error) {
	b, err := body(msg, 16, 16, "TREE_CONNECT response")
	if err != nil {
		return nil, err
	}
	return &TreeConnectResponse{
		ShareType:     b[2],
		ShareFlags:    le.Uint32(b[4:]),
		Capabilities:  le.Uint32(b[8:]),
		MaximalAccess: le.Uint32(b[12:]),
	}, nil
}

// AppendSmallRequest appends the 4-byte body of LOGOFF and
// TREE_DISCONNECT requests.
func AppendSmallRequest(b []byte) []byte { return append(b, 4, 0, 0, 0) }

// CreatePipeRequest is the CREATE request of a client opening a named
// pipe.
type CreatePipeRequest struct {
	ImpersonationLevel uint32
	DesiredAccess      uint32
	ShareAccess        uint32
	CreateDisposition  uint32
	CreateOptions      uint32
	Name               string
}

// Append appends the request body, without create contexts.
func (r *CreatePipeRequest) Append(b []byte) []byte {
	b = le.AppendUint16(b, 57)
	b = append(b, 0, 0) // security flags, oplock level none
	b = le.AppendUint32(b, r.ImpersonationLevel)
	b = le.AppendUint64(b, 0) // SmbCreateFlags
	b = le.AppendUint64(b, 0) // reserved
	b = le.AppendUint32(b, r.DesiredAccess)
	b = le.AppendUint32(b, 0) // file attributes
	b = le.AppendUint32(b, r.ShareAccess)
	b = le.AppendUint32(b, r.CreateDisposition)
	b = le.AppendUint32(b, r.CreateOptions)
	b = le.AppendUint16(b, HeaderSize+56)
	lenAt := len(b)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, 0) // contexts offset
	b = le.AppendUint32(b, 0) // contexts length
	n := len(b)
	b = AppendUTF16(b, r.Name)
	le.PutUint16(b[lenAt:], uint16(len(b)-n))
	if len(b) == n {
		b = append(b, 0)
	}
	return b
}

// ParseCreateResponse decodes msg: the action, attributes and file id.
func ParseCreateResponse(msg []byte) (*CreateResponse, error) {
	b, err := body(msg, 89, 88, "CREATE response")
	if err != nil {
		return nil, err
	}
	r := &CreateResponse{
		CreateAction:   le.Uint32(b[4:]),
		FileAttributes: le.Uint32(b[56:]),
		FileID:         fileID(b[64:]),
	}
	if _, err := buffer(msg, le.Uint32(b[80:]), le.Uint32(b[84:]), HeaderSize+88, "CREATE response contexts"); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendCloseRequest appends a CLOSE request body.
func AppendCloseRequest(b []byte, fid FileID) []byte {
	b = le.AppendUint16(b, 24)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, 0)
	return fid.Append(b)
}

// ParseCloseResponse checks a CLOSE response body.
func ParseCloseResponse(msg []byte) error {
	_, err := body(msg, 60, 60, "CLOSE response")
	return err
}

// AppendReadRequest appends a READ request body.
func AppendReadRequest(b []byte, fid FileID, length uint32, offset uint64) []byte {
	b = le.AppendUint16(b, 49)
	b = append(b, 0x50, 0) // padding: data offset wanted in the answer; flags
	b = le.AppendUint32(b, length)
	b = le.AppendUint64(b, offset)
	b = fid.Append(b)
	b = le.AppendUint32(b, 0) // minimum count
	b = le.AppendUint32(b, 0) // channel
	b = le.AppendUint32(b, 0) // remaining bytes
	b = le.AppendUint16(b, 0) // channel info offset
	b = le.AppendUint16(b, 0) // channel info length
	return append(b, 0)
}

// ReadResponse is an SMB2 READ response; Data aliases the message.
type ReadResponse struct {
	Data      []byte
	Remaining uint32
}

// ParseReadResponse decodes msg.
func ParseReadResponse(msg []byte) (*ReadResponse, error) {
	b, err := body(msg, 17, 16, "READ response")
	if err != nil {
		return nil, err
	}
	r := &ReadResponse{Remaining: le.Uint32(b[8:])}
	r.Data, err = buffer(msg, uint32(b[2]), le.Uint32(b[4:]), HeaderSize+16, "READ response data")
	return r, err
}

// AppendWriteRequest appends a WRITE request body carrying data.
func AppendWriteRequest(b []byte, fid FileID, offset uint64, data []byte) []byte {
	b = le.AppendUint16(b, 49)
	b = le.AppendUint16(b, HeaderSize+48)
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint64(b, offset)
	b = fid.Append(b)
	b = le.AppendUint32(b, 0) // channel
	b = le.AppendUint32(b, 0) // remaining bytes
	b = le.AppendUint16(b, 0) // channel info offset
	b = le.AppendUint16(b, 0) // channel info length
	b = le.AppendUint32(b, 0) // flags
	if len(data) == 0 {
		return append(b, 0)
	}
	return append(b, data...)
}

// ParseWriteResponse decodes msg and returns the count written.
func ParseWriteResponse(msg []byte) (uint32, error) {
	b, err := body(msg, 17, 16, "WRITE response")
	if err != nil {
		return 0, err
	}
	return le.Uint32(b[4:]), nil
}

// AppendIoctlRequest appends an IOCTL request body: an FSCTL on fid with
// input, asking for at most maxOut bytes of output.
func AppendIoctlRequest(b []byte, ctl uint32, fid FileID, input []byte, maxOut uint32) []byte {
	b = le.AppendUint16(b, 57)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, ctl)
	b = fid.Append(b)
	if len(input) > 0 {
		b = le.AppendUint32(b, HeaderSize+56)
	} else {
		b = le.AppendUint32(b, 0)
	}
	b = le.AppendUint32(b, uint32(len(input)))
	b = le.AppendUint32(b, 0) // max input response
	b = le.AppendUint32(b, 0) // output offset
	b = le.AppendUint32(b, 0) // output count
	b = le.AppendUint32(b, maxOut)
	b = le.AppendUint32(b, IoctlIsFsctl)
	b = le.AppendUint32(b, 0)
	if len(input) == 0 {
		return append(b, 0)
	}
	return append(b, input...)
}

// IoctlResponse is an SMB2 IOCTL response; Output aliases the message.
type IoctlResponse struct {
	CtlCode uint32
	FileID  FileID
	Output  []byte
}

// ParseIoctlResponse decodes msg.
func ParseIoctlResponse(msg []byte) (*IoctlResponse, error) {
	b, err := body(msg, 49, 48, "IOCTL response")
	if err != nil {
		return nil, err
	}
	r := &IoctlResponse{CtlCode: le.Uint32(b[4:]), FileID: fileID(b[8:])}
	if _, err := buffer(msg, le.Uint32(b[24:]), le.Uint32(b[28:]), HeaderSize+48, "IOCTL response input"); err != nil {
		return nil, err
	}
	r.Output, err = buffer(msg, le.Uint32(b[32:]), le.Uint32(b[36:]), HeaderSize+48, "IOCTL response output")
	return r, err
}

// AppendValidateNegotiateInfo appends the input of
// FSCTL_VALIDATE_NEGOTIATE_INFO.
func AppendValidateNegotiateInfo(b []byte, v *ValidateNegotiateInfo) []byte {
	b = le.AppendUint32(b, v.Capabilities)
	b = append(b, v.GUID[:]...)
	b = le.AppendUint16(b, v.SecurityMode)
	b = le.AppendUint16(b, uint16(len(v.Dialects)))
	for _, d := range v.Dialects {
		b = le.AppendUint16(b, d)
	}
	return b
}

// ValidateNegotiateResponse is the output of FSCTL_VALIDATE_NEGOTIATE_INFO.
type ValidateNegotiateResponse struct {
	Capabilities uint32
	GUID         [16]byte
	SecurityMode uint16
	Dialect      uint16
}

// ParseValidateNegotiateResponse decodes the IOCTL output.
func ParseValidateNegotiateResponse(out []byte) (*ValidateNegotiateResponse, error) {
	if len(out) < 24 {
		return nil, malformed("VALIDATE_NEGOTIATE_INFO response: %d bytes", len(out))
	}
	v := &ValidateNegotiateResponse{Capabilities: le.Uint32(out), SecurityMode: le.Uint16(out[20:]), Dialect: le.Uint16(out[22:])}
	copy(v.GUID[:], out[4:20])
	return v, nil
}
