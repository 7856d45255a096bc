package wire

import (
	"bytes"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/netsession/netsession/internal/tokenfile"
)

// capturedResponses reads the server messages captured from Samba.
func capturedResponses(t testing.TB) [][]byte {
	t.Helper()
	out, err := tokenfile.ReadHex(filepath.Join("testdata", "responses-samba.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no captured responses")
	}
	return out
}

// within reports whether sub lies inside msg (or is empty).
func within(sub, msg []byte) bool {
	if len(sub) == 0 {
		return true
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	m := uintptr(unsafe.Pointer(unsafe.SliceData(msg)))
	return s >= m && s+uintptr(len(sub)) <= m+uintptr(len(msg))
}

// decodeResponse runs the client decoder of msg's command and checks that
// every slice it returns lies within msg.
func decodeResponse(t testing.TB, msg []byte) (bool, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return true, err
	}
	check := func(name string, b []byte) {
		if !within(b, msg) {
			t.Fatalf("%s of command %d outside the message", name, h.Command)
		}
	}
	switch h.Command {
	case CmdNegotiate:
		r, err := ParseNegotiateResponse(msg)
		if err == nil {
			check("security buffer", r.SecurityBuffer)
			for _, c := range r.Contexts {
				check("context", c.Data)
			}
		}
		return true, err
	case CmdSessionSetup:
		r, err := ParseSessionSetupResponse(msg)
		if err == nil {
			check("security buffer", r.SecurityBuffer)
		}
		return true, err
	case CmdTreeConnect:
		_, err := ParseTreeConnectResponse(msg)
		return true, err
	case CmdCreate:
		_, err := ParseCreateResponse(msg)
		return true, err
	case CmdClose:
		return true, ParseCloseResponse(msg)
	case CmdRead:
		r, err := ParseReadResponse(msg)
		if err == nil {
			check("data", r.Data)
		}
		return true, err
	case CmdWrite:
		_, err := ParseWriteResponse(msg)
		return true, err
	case CmdIoctl:
		r, err := ParseIoctlResponse(msg)
		if err == nil {
			check("output", r.Output)
		}
		return true, err
	case CmdLogoff, CmdTreeDisconnect:
		return true, ParseSmall(msg, "small")
	}
	return false, nil
}

// TestCapturedResponsesDecode: every answer Samba sent in the captures
// decodes: success and MORE_PROCESSING_REQUIRED with their command's
// decoder, failures as ERROR responses.
func TestCapturedResponsesDecode(t *testing.T) {
	seen := map[uint16]int{}
	for i, msg := range capturedResponses(t) {
		h, err := ParseHeader(msg)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if h.Status != 0 && h.Status != 0xC0000016 {
			// A failure is an ERROR response, which the client judges by
			// its status alone.
			if le.Uint16(msg[HeaderSize:]) != 9 {
				t.Errorf("response %d (status %#x): structure size %d, not an ERROR response", i, h.Status, le.Uint16(msg[HeaderSize:]))
			}
			continue
		}
		if h.Command == CmdNegotiate && le.Uint16(msg[HeaderSize+4:]) == 0x02FF {
			seen[h.Command]++ // the wildcard answer to impacket's SMB1 start
		}
		ok, err := decodeResponse(t, msg)
		if !ok {
			t.Errorf("response %d: no decoder for command %d", i, h.Command)
		}
		if err != nil {
			t.Errorf("response %d (command %d): %v", i, h.Command, err)
		}
		seen[h.Command]++
	}
	for _, cmd := range []uint16{CmdNegotiate, CmdSessionSetup, CmdTreeConnect, CmdCreate, CmdRead, CmdWrite, CmdIoctl, CmdClose, CmdLogoff, CmdTreeDisconnect} {
		if seen[cmd] == 0 {
			t.Errorf("no captured answer of command %d", cmd)
		}
	}
}

// TestCapturedTransceive checks the values of rpcclient's transceive
// answer: the DCE/RPC response PDU is the IOCTL output.
func TestCapturedTransceive(t *testing.T) {
	n := 0
	for _, msg := range capturedResponses(t) {
		h, _ := ParseHeader(msg)
		if h.Command != CmdIoctl || h.Status != 0 {
			continue
		}
		r, err := ParseIoctlResponse(msg)
		if err != nil {
			t.Fatal(err)
		}
		if r.CtlCode != FsctlPipeTransceive {
			t.Errorf("control %#x", r.CtlCode)
		}
		if len(r.Output) < 16 || r.Output[0] != 5 || int(le.Uint16(r.Output[8:])) != len(r.Output) {
			t.Errorf("output is not one DCE/RPC PDU: % x", r.Output[:min(16, len(r.Output))])
		}
		n++
	}
	if n == 0 {
		t.Fatal("no transceive answer captured")
	}
}

// TestClientRequestsRoundTrip: what the client encoders build, the
// server's decoders read back.
func TestClientRequestsRoundTrip(t *testing.T) {
	hdr := func(cmd uint16) []byte {
		h := Header{Command: cmd, MessageID: 7}
		return h.Append(nil)
	}
	fid := FileID{Persistent: 0x1122, Volatile: 0x3344}

	neg := NegotiateRequestBody{SecurityMode: SigningEnabled, Capabilities: CapEncryption, ClientGUID: [16]byte{1, 2, 3},
		Dialects: []uint16{0x0202, 0x0311},
		Contexts: []NegotiateContext{{Type: CtxPreauthIntegrity, Data: []byte{1, 0, 3, 0, 1, 0, 9, 9, 9}}, {Type: CtxSigning, Data: []byte{1, 0, 2, 0}}}}
	nr, err := ParseNegotiateRequest(neg.Append(hdr(CmdNegotiate)))
	if err != nil {
		t.Fatal(err)
	}
	if nr.SecurityMode != neg.SecurityMode || nr.Capabilities != neg.Capabilities || nr.ClientGUID != neg.ClientGUID ||
		len(nr.Dialects) != 2 || nr.Dialects[1] != 0x0311 || len(nr.Contexts) != 2 ||
		!bytes.Equal(nr.Contexts[0].Data, neg.Contexts[0].Data) || !bytes.Equal(nr.Contexts[1].Data, neg.Contexts[1].Data) {
		t.Errorf("NEGOTIATE: %+v", nr)
	}

	ss, err := ParseSessionSetupRequest(AppendSessionSetupRequest(hdr(CmdSessionSetup), 3, 0, []byte("token")))
	if err != nil || ss.SecurityMode != 3 || string(ss.SecurityBuffer) != "token" {
		t.Errorf("SESSION_SETUP: %+v, %v", ss, err)
	}
	tc, err := ParseTreeConnectRequest(AppendTreeConnectRequest(hdr(CmdTreeConnect), `\\srv\IPC$`))
	if err != nil || tc.Path != `\\srv\IPC$` {
		t.Errorf("TREE_CONNECT: %+v, %v", tc, err)
	}
	cr := CreatePipeRequest{ImpersonationLevel: 2, DesiredAccess: 0x12019F, ShareAccess: 3, CreateDisposition: 1, CreateOptions: 0x40, Name: "srvsvc"}
	c, err := ParseCreateRequest(cr.Append(hdr(CmdCreate)))
	if err != nil || c.Name != "srvsvc" || c.DesiredAccess != cr.DesiredAccess || c.ImpersonationLevel != 2 ||
		c.ShareAccess != 3 || c.CreateDisposition != 1 || c.CreateOptions != 0x40 {
		t.Errorf("CREATE: %+v, %v", c, err)
	}
	cl, err := ParseCloseRequest(AppendCloseRequest(hdr(CmdClose), fid))
	if err != nil || cl.FileID != fid {
		t.Errorf("CLOSE: %+v, %v", cl, err)
	}
	rd, err := ParseReadRequest(AppendReadRequest(hdr(CmdRead), fid, 65536, 0))
	if err != nil || rd.FileID != fid || rd.Length != 65536 {
		t.Errorf("READ: %+v, %v", rd, err)
	}
	wr, err := ParseWriteRequest(AppendWriteRequest(hdr(CmdWrite), fid, 0, []byte("pdu")))
	if err != nil || wr.FileID != fid || string(wr.Data) != "pdu" {
		t.Errorf("WRITE: %+v, %v", wr, err)
	}
	io, err := ParseIoctlRequest(AppendIoctlRequest(hdr(CmdIoctl), FsctlPipeTransceive, fid, []byte("in"), 4096))
	if err != nil || io.FileID != fid || string(io.Input) != "in" || io.MaxOutputResponse != 4096 || io.Flags != IoctlIsFsctl || io.CtlCode != FsctlPipeTransceive {
		t.Errorf("IOCTL: %+v, %v", io, err)
	}
	v := &ValidateNegotiateInfo{Capabilities: 0x44, GUID: [16]byte{9}, SecurityMode: 1, Dialects: []uint16{0x0300, 0x0302}}
	vv, err := ParseValidateNegotiateInfo(AppendValidateNegotiateInfo(nil, v))
	if err != nil || vv.Capabilities != v.Capabilities || vv.GUID != v.GUID || vv.SecurityMode != 1 || len(vv.Dialects) != 2 {
		t.Errorf("VALIDATE_NEGOTIATE_INFO: %+v, %v", vv, err)
	}
}

// TestServerResponsesRoundTrip: what the server encoders build, the
// client decoders read back.
func TestServerResponsesRoundTrip(t *testing.T) {
	hdr := func(cmd uint16) []byte {
		h := Header{Command: cmd, Flags: FlagServerToRedir}
		return h.Append(nil)
	}
	fid := FileID{Persistent: 5, Volatile: 6}
	nr := NegotiateResponse{SecurityMode: 3, Dialect: 0x0311, ServerGUID: [16]byte{7}, Capabilities: 0x40,
		MaxTransactSize: 65536, MaxReadSize: 1 << 20, MaxWriteSize: 1 << 16, SecurityBuffer: []byte("hint"),
		Contexts: []NegotiateContext{{Type: CtxPreauthIntegrity, Data: []byte{1, 0, 1, 0, 1, 0, 8}}, {Type: CtxEncryption, Data: []byte{1, 0, 2, 0}}}}
	n, err := ParseNegotiateResponse(nr.Append(hdr(CmdNegotiate)))
	if err != nil || n.Dialect != 0x0311 || n.SecurityMode != 3 || n.ServerGUID != nr.ServerGUID || n.MaxReadSize != 1<<20 ||
		string(n.SecurityBuffer) != "hint" || len(n.Contexts) != 2 || !bytes.Equal(n.Contexts[1].Data, []byte{1, 0, 2, 0}) {
		t.Errorf("NEGOTIATE: %+v, %v", n, err)
	}
	if d, ok, dup := n.Context(CtxEncryption); !ok || dup || len(d) != 4 {
		t.Errorf("Context: %x %v %v", d, ok, dup)
	}
	ss, err := ParseSessionSetupResponse(AppendSessionSetupResponse(hdr(CmdSessionSetup), SessionIsGuest, []byte("tok")))
	if err != nil || ss.Flags != SessionIsGuest || string(ss.SecurityBuffer) != "tok" {
		t.Errorf("SESSION_SETUP: %+v, %v", ss, err)
	}
	tc, err := ParseTreeConnectResponse(AppendTreeConnectResponse(hdr(CmdTreeConnect), ShareTypePipe, 0x8030, 0, 0x1f01ff))
	if err != nil || tc.ShareType != ShareTypePipe || tc.ShareFlags != 0x8030 || tc.MaximalAccess != 0x1f01ff {
		t.Errorf("TREE_CONNECT: %+v, %v", tc, err)
	}
	cr := CreateResponse{CreateAction: 1, FileAttributes: 0x80, FileID: fid}
	c, err := ParseCreateResponse(cr.Append(hdr(CmdCreate)))
	if err != nil || *c != cr {
		t.Errorf("CREATE: %+v, %v", c, err)
	}
	if err := ParseCloseResponse(AppendCloseResponse(hdr(CmdClose))); err != nil {
		t.Errorf("CLOSE: %v", err)
	}
	rd, err := ParseReadResponse(AppendReadResponse(hdr(CmdRead), []byte("data"), 3))
	if err != nil || string(rd.Data) != "data" || rd.Remaining != 3 {
		t.Errorf("READ: %+v, %v", rd, err)
	}
	if w, err := ParseWriteResponse(AppendWriteResponse(hdr(CmdWrite), 42)); err != nil || w != 42 {
		t.Errorf("WRITE: %d, %v", w, err)
	}
	io, err := ParseIoctlResponse(AppendIoctlResponse(hdr(CmdIoctl), FsctlPipeTransceive, fid, []byte("out")))
	if err != nil || io.CtlCode != FsctlPipeTransceive || io.FileID != fid || string(io.Output) != "out" {
		t.Errorf("IOCTL: %+v, %v", io, err)
	}
	vn, err := ParseValidateNegotiateResponse(AppendValidateNegotiateResponse(nil, 0x40, [16]byte{1}, 3, 0x0302))
	if err != nil || vn.Capabilities != 0x40 || vn.GUID != [16]byte{1} || vn.SecurityMode != 3 || vn.Dialect != 0x0302 {
		t.Errorf("VALIDATE_NEGOTIATE_INFO: %+v, %v", vn, err)
	}
}

// TestResponseDecodersReject: lying offsets and lengths are errors.
func TestResponseDecodersReject(t *testing.T) {
	hdr := func(cmd uint16) []byte {
		h := Header{Command: cmd, Flags: FlagServerToRedir}
		return h.Append(nil)
	}
	mutate := func(b []byte, at int, v uint32, size int) []byte {
		b = bytes.Clone(b)
		switch size {
		case 1:
			b[HeaderSize+at] = byte(v)
		case 2:
			le.PutUint16(b[HeaderSize+at:], uint16(v))
		case 4:
			le.PutUint32(b[HeaderSize+at:], v)
		}
		return b
	}
	read := AppendReadResponse(hdr(CmdRead), []byte("data"), 0)
	ioctl := AppendIoctlResponse(hdr(CmdIoctl), FsctlPipeTransceive, FileID{}, []byte("out"))
	ss := AppendSessionSetupResponse(hdr(CmdSessionSetup), 0, []byte("tok"))
	nr := NegotiateResponse{Dialect: 0x0311, Contexts: []NegotiateContext{{Type: 1, Data: []byte{1, 2, 3, 4}}}}
	neg := nr.Append(hdr(CmdNegotiate))
	tests := []struct {
		name string
		msg  []byte
		dec  func([]byte) error
	}{
		{"read length", mutate(read, 4, 1<<31, 4), func(b []byte) error { _, err := ParseReadResponse(b); return err }},
		{"read offset before body", mutate(read, 2, 8, 1), func(b []byte) error { _, err := ParseReadResponse(b); return err }},
		{"read structure size", mutate(read, 0, 9, 2), func(b []byte) error { _, err := ParseReadResponse(b); return err }},
		{"read short", read[:HeaderSize+10], func(b []byte) error { _, err := ParseReadResponse(b); return err }},
		{"ioctl output count", mutate(ioctl, 36, 1000, 4), func(b []byte) error { _, err := ParseIoctlResponse(b); return err }},
		{"ioctl output offset wraps", mutate(ioctl, 32, 0xFFFFFFFF, 4), func(b []byte) error { _, err := ParseIoctlResponse(b); return err }},
		{"ioctl input count", mutate(mutate(ioctl, 24, HeaderSize+48, 4), 28, 100, 4), func(b []byte) error { _, err := ParseIoctlResponse(b); return err }},
		{"session setup token length", mutate(ss, 6, 100, 2), func(b []byte) error { _, err := ParseSessionSetupResponse(b); return err }},
		{"negotiate context count", mutate(neg, 6, 1000, 2), func(b []byte) error { _, err := ParseNegotiateResponse(b); return err }},
		{"negotiate context count 2", mutate(neg, 6, 2, 2), func(b []byte) error { _, err := ParseNegotiateResponse(b); return err }},
		{"negotiate context offset", mutate(neg, 60, 10, 4), func(b []byte) error { _, err := ParseNegotiateResponse(b); return err }},
		{"validate negotiate short", make([]byte, HeaderSize+23), func(b []byte) error { _, err := ParseValidateNegotiateResponse(b[HeaderSize:]); return err }},
	}
	for _, tt := range tests {
		if err := tt.dec(tt.msg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func seedResponses(f *testing.F) {
	for _, msg := range capturedResponses(f) {
		f.Add(msg)
	}
}

// fuzzResponse runs one decoder on arbitrary input: it must not panic,
// and slices it returns must lie within the input.
func fuzzResponse(f *testing.F, dec func(t *testing.T, msg []byte)) {
	seedResponses(f)
	f.Fuzz(dec)
}

func FuzzParseNegotiateResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		r, err := ParseNegotiateResponse(msg)
		if err != nil {
			return
		}
		if !within(r.SecurityBuffer, msg) {
			t.Fatal("security buffer outside the message")
		}
		for _, c := range r.Contexts {
			if !within(c.Data, msg) {
				t.Fatal("context outside the message")
			}
		}
		if len(r.Contexts) > MaxNegotiateContexts {
			t.Fatalf("%d contexts", len(r.Contexts))
		}
	})
}

func FuzzParseSessionSetupResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if r, err := ParseSessionSetupResponse(msg); err == nil && !within(r.SecurityBuffer, msg) {
			t.Fatal("security buffer outside the message")
		}
	})
}

func FuzzParseTreeConnectResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if _, err := ParseTreeConnectResponse(msg); err == nil && len(msg) < HeaderSize+16 {
			t.Fatal("short message accepted")
		}
	})
}

func FuzzParseCreateResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if _, err := ParseCreateResponse(msg); err == nil && len(msg) < HeaderSize+88 {
			t.Fatal("short message accepted")
		}
	})
}

func FuzzParseCloseResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if err := ParseCloseResponse(msg); err == nil && len(msg) < HeaderSize+60 {
			t.Fatal("short message accepted")
		}
	})
}

func FuzzParseReadResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if r, err := ParseReadResponse(msg); err == nil && !within(r.Data, msg) {
			t.Fatal("data outside the message")
		}
	})
}

func FuzzParseWriteResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if _, err := ParseWriteResponse(msg); err == nil && len(msg) < HeaderSize+16 {
			t.Fatal("short message accepted")
		}
	})
}

func FuzzParseIoctlResponse(f *testing.F) {
	fuzzResponse(f, func(t *testing.T, msg []byte) {
		if r, err := ParseIoctlResponse(msg); err == nil && !within(r.Output, msg) {
			t.Fatal("output outside the message")
		}
	})
}

func FuzzParseValidateNegotiateResponse(f *testing.F) {
	f.Add(AppendValidateNegotiateResponse(nil, 0x40, [16]byte{1, 2}, 3, 0x0302))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, out []byte) {
		v, err := ParseValidateNegotiateResponse(out)
		if err != nil {
			return
		}
		if got := AppendValidateNegotiateResponse(nil, v.Capabilities, v.GUID, v.SecurityMode, v.Dialect); !bytes.Equal(got, out[:24]) {
			t.Fatalf("round trip: %x, want %x", got, out[:24])
		}
	})
}
