package wire

// SessionSetupRequest is an SMB2 SESSION_SETUP request.
type SessionSetupRequest struct {
	Flags             uint8
	SecurityMode      uint8
	Capabilities      uint32
	PreviousSessionID uint64
	SecurityBuffer    []byte
}

// Session setup request flags.
const SessionFlagBinding uint8 = 0x01

// Session flags of the response.
const (
	SessionIsGuest     uint16 = 0x0001
	SessionIsNull      uint16 = 0x0002
	SessionEncryptData uint16 = 0x0004
)

// ParseSessionSetupRequest decodes msg.
func ParseSessionSetupRequest(msg []byte) (*SessionSetupRequest, error) {
	b, err := body(msg, 25, 24, "SESSION_SETUP")
	if err != nil {
		return nil, err
	}
	r := &SessionSetupRequest{
		Flags:             b[2],
		SecurityMode:      b[3],
		Capabilities:      le.Uint32(b[4:]),
		PreviousSessionID: le.Uint64(b[16:]),
	}
	r.SecurityBuffer, err = buffer(msg, uint32(le.Uint16(b[12:])), uint32(le.Uint16(b[14:])), HeaderSize+24, "SESSION_SETUP")
	return r, err
}

// AppendSessionSetupResponse appends a SESSION_SETUP response body.
func AppendSessionSetupResponse(b []byte, flags uint16, token []byte) []byte {
	b = le.AppendUint16(b, 9)
	b = le.AppendUint16(b, flags)
	b = le.AppendUint16(b, HeaderSize+8)
	b = le.AppendUint16(b, uint16(len(token)))
	if len(token) == 0 {
		return append(b, 0)
	}
	return append(b, token...)
}

// ParseSmall checks a 4-byte body (LOGOFF, TREE_DISCONNECT, ECHO, CANCEL).
func ParseSmall(msg []byte, name string) error {
	_, err := body(msg, 4, 4, name)
	return err
}

// AppendSmall appends the 4-byte response body of LOGOFF,
// TREE_DISCONNECT and ECHO.
func AppendSmall(b []byte) []byte { return append(b, 4, 0, 0, 0) }

// TreeConnectRequest is an SMB2 TREE_CONNECT request.
type TreeConnectRequest struct {
	Flags uint16
	Path  string
}

// MaxPathBytes bounds a path or file name (UTF-16 bytes).
const MaxPathBytes = 2048

// ParseTreeConnectRequest decodes msg.
func ParseTreeConnectRequest(msg []byte) (*TreeConnectRequest, error) {
	b, err := body(msg, 9, 8, "TREE_CONNECT")
	if err != nil {
		return nil, err
	}
	r := &TreeConnectRequest{Flags: le.Uint16(b[2:])}
	n := uint32(le.Uint16(b[6:]))
	if n > MaxPathBytes {
		return nil, malformed("TREE_CONNECT: path of %d bytes", n)
	}
	p, err := buffer(msg, uint32(le.Uint16(b[4:])), n, HeaderSize+8, "TREE_CONNECT")
	if err != nil {
		return nil, err
	}
	r.Path, err = UTF16(p)
	return r, err
}

// Share types and flags of the TREE_CONNECT response.
const (
	ShareTypePipe uint8 = 0x02

	ShareFlagNoCaching uint32 = 0x00000030
)

// AppendTreeConnectResponse appends a TREE_CONNECT response body.
func AppendTreeConnectResponse(b []byte, shareType uint8, flags, caps, access uint32) []byte {
	b = le.AppendUint16(b, 16)
	b = append(b, shareType, 0)
	b = le.AppendUint32(b, flags)
	b = le.AppendUint32(b, caps)
	return le.AppendUint32(b, access)
}

// CreateRequest is an SMB2 CREATE request; create contexts are validated
// for bounds and otherwise ignored.
type CreateRequest struct {
	OplockLevel        uint8
	ImpersonationLevel uint32
	DesiredAccess      uint32
	FileAttributes     uint32
	ShareAccess        uint32
	CreateDisposition  uint32
	CreateOptions      uint32
	Name               string
	Contexts           []byte
}

// ParseCreateRequest decodes msg.
func ParseCreateRequest(msg []byte) (*CreateRequest, error) {
	b, err := body(msg, 57, 56, "CREATE")
	if err != nil {
		return nil, err
	}
	r := &CreateRequest{
		OplockLevel:        b[3],
		ImpersonationLevel: le.Uint32(b[4:]),
		DesiredAccess:      le.Uint32(b[24:]),
		FileAttributes:     le.Uint32(b[28:]),
		ShareAccess:        le.Uint32(b[32:]),
		CreateDisposition:  le.Uint32(b[36:]),
		CreateOptions:      le.Uint32(b[40:]),
	}
	n := uint32(le.Uint16(b[46:]))
	if n > MaxPathBytes {
		return nil, malformed("CREATE: name of %d bytes", n)
	}
	name, err := buffer(msg, uint32(le.Uint16(b[44:])), n, HeaderSize+56, "CREATE name")
	if err != nil {
		return nil, err
	}
	if r.Name, err = UTF16(name); err != nil {
		return nil, err
	}
	r.Contexts, err = buffer(msg, le.Uint32(b[48:]), le.Uint32(b[52:]), HeaderSize+56, "CREATE contexts")
	return r, err
}

// CreateResponse is the part of a CREATE response a pipe needs.
type CreateResponse struct {
	CreateAction   uint32
	FileAttributes uint32
	FileID         FileID
}

// Append appends the CREATE response body (times zero, sizes zero).
func (r *CreateResponse) Append(b []byte) []byte {
	b = le.AppendUint16(b, 89)
	b = append(b, 0, 0) // oplock level, flags
	b = le.AppendUint32(b, r.CreateAction)
	for range 6 { // four times, allocation size, end of file
		b = le.AppendUint64(b, 0)
	}
	b = le.AppendUint32(b, r.FileAttributes)
	b = le.AppendUint32(b, 0)
	b = r.FileID.Append(b)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	return append(b, 0)
}

// CloseRequest is an SMB2 CLOSE request.
type CloseRequest struct {
	Flags  uint16
	FileID FileID
}

// ParseCloseRequest decodes msg.
func ParseCloseRequest(msg []byte) (*CloseRequest, error) {
	b, err := body(msg, 24, 24, "CLOSE")
	if err != nil {
		return nil, err
	}
	return &CloseRequest{Flags: le.Uint16(b[2:]), FileID: fileID(b[8:])}, nil
}

// AppendCloseResponse appends a CLOSE response body with no attributes.
func AppendCloseResponse(b []byte) []byte {
	b = le.AppendUint16(b, 60)
	return append(b, make([]byte, 58)...)
}

// FlushRequest is an SMB2 FLUSH request.
type FlushRequest struct{ FileID FileID }

// ParseFlushRequest decodes msg.
func ParseFlushRequest(msg []byte) (*FlushRequest, error) {
	b, err := body(msg, 24, 24, "FLUSH")
	if err != nil {
		return nil, err
	}
	return &FlushRequest{FileID: fileID(b[8:])}, nil
}

// AppendFlushResponse appends a FLUSH response body.
func AppendFlushResponse(b []byte) []byte { return append(b, 4, 0, 0, 0) }

// ReadRequest is an SMB2 READ request.
type ReadRequest struct {
	Flags        uint8
	Length       uint32
	Offset       uint64
	FileID       FileID
	MinimumCount uint32
}

// ParseReadRequest decodes msg.
func ParseReadRequest(msg []byte) (*ReadRequest, error) {
	b, err := body(msg, 49, 48, "READ")
	if err != nil {
		return nil, err
	}
	r := &ReadRequest{
		Flags:        b[3],
		Length:       le.Uint32(b[4:]),
		Offset:       le.Uint64(b[8:]),
		FileID:       fileID(b[16:]),
		MinimumCount: le.Uint32(b[32:]),
	}
	if _, err := buffer(msg, uint32(le.Uint16(b[44:])), uint32(le.Uint16(b[46:])), HeaderSize+48, "READ channel info"); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendReadResponse appends a READ response body carrying data.
func AppendReadResponse(b []byte, data []byte, remaining uint32) []byte {
	return append(AppendReadResponseHead(b, len(data), remaining), data...)
}

// AppendReadResponseHead appends what of a READ response comes before its
// n octets of data (with the pad octet of an empty answer), for a sender
// that appends the data itself.
func AppendReadResponseHead(b []byte, n int, remaining uint32) []byte {
	b = le.AppendUint16(b, 17)
	b = append(b, HeaderSize+16, 0)
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, remaining)
	b = le.AppendUint32(b, 0)
	if n == 0 {
		return append(b, 0)
	}
	return b
}

// WriteRequest is an SMB2 WRITE request; Data aliases the message.
type WriteRequest struct {
	Offset uint64
	FileID FileID
	Flags  uint32
	Data   []byte
}

// ParseWriteRequest decodes msg.
func ParseWriteRequest(msg []byte) (*WriteRequest, error) {
	b, err := body(msg, 49, 48, "WRITE")
	if err != nil {
		return nil, err
	}
	r := &WriteRequest{Offset: le.Uint64(b[8:]), FileID: fileID(b[16:]), Flags: le.Uint32(b[44:])}
	r.Data, err = buffer(msg, uint32(le.Uint16(b[2:])), le.Uint32(b[4:]), HeaderSize+48, "WRITE data")
	if err != nil {
		return nil, err
	}
	if _, err := buffer(msg, uint32(le.Uint16(b[40:])), uint32(le.Uint16(b[42:])), HeaderSize+48, "WRITE channel info"); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendWriteResponse appends a WRITE response body.
func AppendWriteResponse(b []byte, count uint32) []byte {
	b = le.AppendUint16(b, 17)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, count)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, 0)
	return le.AppendUint16(b, 0)
}

// IOCTL control codes and flags.
const (
	FsctlPipeTransceive        uint32 = 0x0011C017
	FsctlPipePeek              uint32 = 0x0011400C
	FsctlPipeWait              uint32 = 0x00110018
	FsctlValidateNegotiateInfo uint32 = 0x00140204
	FsctlDFSGetReferrals       uint32 = 0x00060194
	FsctlQueryNetworkInterface uint32 = 0x001401FC

	IoctlIsFsctl uint32 = 0x00000001
)

// IoctlRequest is an SMB2 IOCTL request; Input aliases the message.
type IoctlRequest struct {
	CtlCode           uint32
	FileID            FileID
	Input             []byte
	MaxInputResponse  uint32
	MaxOutputResponse uint32
	Flags             uint32
}

// ParseIoctlRequest decodes msg.
func ParseIoctlRequest(msg []byte) (*IoctlRequest, error) {
	b, err := body(msg, 57, 56, "IOCTL")
	if err != nil {
		return nil, err
	}
	r := &IoctlRequest{
		CtlCode:           le.Uint32(b[4:]),
		FileID:            fileID(b[8:]),
		MaxInputResponse:  le.Uint32(b[32:]),
		MaxOutputResponse: le.Uint32(b[44:]),
		Flags:             le.Uint32(b[48:]),
	}
	r.Input, err = buffer(msg, le.Uint32(b[24:]), le.Uint32(b[28:]), HeaderSize+56, "IOCTL input")
	if err != nil {
		return nil, err
	}
	if _, err := buffer(msg, le.Uint32(b[36:]), le.Uint32(b[40:]), HeaderSize+56, "IOCTL output"); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendIoctlResponse appends an IOCTL response body with output.
func AppendIoctlResponse(b []byte, ctl uint32, fid FileID, output []byte) []byte {
	return append(AppendIoctlResponseHead(b, ctl, fid, len(output)), output...)
}

// AppendIoctlResponseHead appends what of an IOCTL response comes before
// its n octets of output, for a sender that appends the output itself.
func AppendIoctlResponseHead(b []byte, ctl uint32, fid FileID, n int) []byte {
	b = le.AppendUint16(b, 49)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, ctl)
	b = fid.Append(b)
	b = le.AppendUint32(b, HeaderSize+48) // input offset
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, HeaderSize+48) // output offset
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, 0)
	return le.AppendUint32(b, 0)
}

// ValidateNegotiateInfo is the input of FSCTL_VALIDATE_NEGOTIATE_INFO.
type ValidateNegotiateInfo struct {
	Capabilities uint32
	GUID         [16]byte
	SecurityMode uint16
	Dialects     []uint16
}

// ParseValidateNegotiateInfo decodes the IOCTL input.
func ParseValidateNegotiateInfo(in []byte) (*ValidateNegotiateInfo, error) {
	if len(in) < 24 {
		return nil, malformed("VALIDATE_NEGOTIATE_INFO: %d bytes", len(in))
	}
	v := &ValidateNegotiateInfo{Capabilities: le.Uint32(in), SecurityMode: le.Uint16(in[20:])}
	copy(v.GUID[:], in[4:20])
	n := int(le.Uint16(in[22:]))
	if 24+2*n > len(in) {
		return nil, malformed("VALIDATE_NEGOTIATE_INFO: %d dialects in %d bytes", n, len(in))
	}
	v.Dialects = make([]uint16, n)
	for i := range v.Dialects {
		v.Dialects[i] = le.Uint16(in[24+2*i:])
	}
	return v, nil
}

// AppendValidateNegotiateResponse appends the IOCTL output of
// FSCTL_VALIDATE_NEGOTIATE_INFO.
func AppendValidateNegotiateResponse(b []byte, caps uint32, guid [16]byte, secMode, dialect uint16) []byte {
	b = le.AppendUint32(b, caps)
	b = append(b, guid[:]...)
	b = le.AppendUint16(b, secMode)
	return le.AppendUint16(b, dialect)
}

// Info types and classes of QUERY_INFO.
const (
	InfoFile       uint8 = 0x01
	InfoFilesystem uint8 = 0x02
	InfoSecurity   uint8 = 0x03
	InfoQuota      uint8 = 0x04

	FileBasicInformation          uint8 = 4
	FileStandardInformation       uint8 = 5
	FileInternalInformation       uint8 = 6
	FileEAInformation             uint8 = 7
	FileAccessInformation         uint8 = 8
	FilePositionInformation       uint8 = 14
	FileModeInformation           uint8 = 16
	FileAlignmentInformation      uint8 = 17
	FileAllInformation            uint8 = 18
	FileNetworkOpenInformation    uint8 = 34
	FilePipeInformation           uint8 = 23
	FilePipeLocalInformation      uint8 = 24
	FileAttributeTagInformation   uint8 = 35
	FileStreamInformation         uint8 = 22
	FileCompressionInformation    uint8 = 28
	FileNormalizedNameInformation uint8 = 48
)

// QueryInfoRequest is an SMB2 QUERY_INFO request.
type QueryInfoRequest struct {
	InfoType           uint8
	InfoClass          uint8
	OutputBufferLength uint32
	Input              []byte
	AdditionalInfo     uint32
	Flags              uint32
	FileID             FileID
}

// ParseQueryInfoRequest decodes msg.
func ParseQueryInfoRequest(msg []byte) (*QueryInfoRequest, error) {
	b, err := body(msg, 41, 40, "QUERY_INFO")
	if err != nil {
		return nil, err
	}
	r := &QueryInfoRequest{
		InfoType:           b[2],
		InfoClass:          b[3],
		OutputBufferLength: le.Uint32(b[4:]),
		AdditionalInfo:     le.Uint32(b[16:]),
		Flags:              le.Uint32(b[20:]),
		FileID:             fileID(b[24:]),
	}
	r.Input, err = buffer(msg, uint32(le.Uint16(b[8:])), le.Uint32(b[12:]), HeaderSize+40, "QUERY_INFO input")
	return r, err
}

// AppendQueryInfoResponse appends a QUERY_INFO response body.
func AppendQueryInfoResponse(b []byte, out []byte) []byte {
	b = le.AppendUint16(b, 9)
	b = le.AppendUint16(b, HeaderSize+8)
	b = le.AppendUint32(b, uint32(len(out)))
	if len(out) == 0 {
		return append(b, 0)
	}
	return append(b, out...)
}

// AppendErrorResponse appends the SMB2 ERROR response body (no contexts).
func AppendErrorResponse(b []byte) []byte {
	b = le.AppendUint16(b, 9)
	b = append(b, 0, 0)
	b = le.AppendUint32(b, 0)
	return append(b, 0)
}
