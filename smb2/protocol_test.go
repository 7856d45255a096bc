package smb2_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/spnego"
)

func smb1Negotiate(dialects ...string) []byte {
	m := make([]byte, 32)
	copy(m, "\xffSMB\x72")
	m = append(m, 0) // word count
	var data []byte
	for _, d := range dialects {
		data = append(append(append(data, 2), d...), 0)
	}
	m = le.AppendUint16(m, uint16(len(data)))
	return append(m, data...)
}

// An SMB1 multi-protocol NEGOTIATE upgrades: "SMB 2.???" gets the
// wildcard and then a real SMB2 NEGOTIATE (message ID 1); "SMB 2.002"
// alone is answered with 2.0.2 at once.
func TestSMB1Upgrade(t *testing.T) {
	f := newFixture(t)
	c := dialRaw(t, f.addr)
	if err := c.sendFrame(smb1Negotiate("NT LM 0.12", "SMB 2.002", "SMB 2.???")); err != nil {
		t.Fatal(err)
	}
	resp, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	h, err := wire.ParseHeader(resp)
	if err != nil || h.Command != wire.CmdNegotiate || h.MessageID != 0 || le.Uint16(resp[wire.HeaderSize+4:]) != 0x02FF {
		t.Fatalf("wildcard answer %+v %v dialect %#x", h, err, le.Uint16(resp[wire.HeaderSize+4:]))
	}
	c.mid = 1
	st, body, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect202, smb2.Dialect210)), false)
	if err != nil || st != 0 || le.Uint16(body[4:]) != smb2.Dialect210 {
		t.Fatalf("second negotiate: %v %v", st, err)
	}

	c2 := dialRaw(t, f.addr)
	if err := c2.sendFrame(smb1Negotiate("NT LM 0.12", "SMB 2.002")); err != nil {
		t.Fatal(err)
	}
	resp, err = c2.recv()
	if err != nil || le.Uint16(resp[wire.HeaderSize+4:]) != smb2.Dialect202 {
		t.Fatalf("2.002 answer: %v", err)
	}
	// The security buffer is the SPNEGO hint.
	off, n := le.Uint16(resp[wire.HeaderSize+56:]), le.Uint16(resp[wire.HeaderSize+58:])
	if !bytes.Equal(resp[off:off+n], spnego.MustAcceptor(&ntlm.Server{}).Advertise()) {
		t.Error("NEGOTIATE security buffer is not the acceptor hint")
	}
	c2.mid = 1
	c2.login2("alice", "AlicePass1", smb2.Dialect202)

	c3 := dialRaw(t, f.addr)
	if err := c3.sendFrame(smb1Negotiate("NT LM 0.12")); err != nil {
		t.Fatal(err)
	}
	if _, err := c3.recv(); err == nil {
		t.Error("SMB1-only client answered")
	}
}

// Anonymous logons are refused unless allowed; allowed, they are null
// sessions without signing, listed in the table with no user.
func TestAnonymousAndGuest(t *testing.T) {
	for _, allow := range []bool{false, true} {
		f := newFixture(t, func(s *smb2.Server) { s.AllowAnonymous = allow })
		c := dialRaw(t, f.addr)
		st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false)
		if err != nil || st != 0 {
			t.Fatal(st, err)
		}
		sp := spnego.MustInitiator(&ntlm.Client{}).NewContext()
		ctx := context.Background()
		tok, _, _ := sp.Step(ctx, nil)
		var flags uint16
		var body []byte
		for {
			st, body, err = c.do(c.build(wire.CmdSessionSetup, sessionSetupBody(tok)), false)
			if err != nil {
				t.Fatal(err)
			}
			if st != smb2.StatusMoreProcessingRequired {
				if st == 0 {
					flags = le.Uint16(body[2:])
				}
				break
			}
			off, n := le.Uint16(body[4:]), le.Uint16(body[6:])
			tok, _, err = sp.Step(ctx, body[int(off)-wire.HeaderSize:int(off)-wire.HeaderSize+int(n)])
			if err != nil {
				t.Fatal(err)
			}
		}
		if !allow {
			if st != smb2.StatusLogonFailure || f.table.Len() != 0 {
				t.Errorf("anonymous refused: %v, %d sessions", st, f.table.Len())
			}
			continue
		}
		if st != 0 || flags != wire.SessionIsNull {
			t.Fatalf("anonymous allowed: %v flags %#x", st, flags)
		}
		// Unsigned requests are fine on a session without a key.
		if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), false); err != nil || st != 0 {
			t.Fatalf("anonymous tree connect: %v %v", st, err)
		}
		if f.table.Len() != 1 {
			t.Errorf("%d sessions", f.table.Len())
		}
	}
}

// A READ or transceive with a buffer smaller than the pipe's message gets
// the first part with STATUS_BUFFER_OVERFLOW; the rest follows.
func TestPipeMessageMode(t *testing.T) {
	f := newFixture(t)
	c, fid := openPipe(t, f, "alice", "AlicePass1", "srvsvc")
	bind := srvsvcBind()
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, bind, 0)), true); err != nil || st != 0 {
		t.Fatal(st, err)
	}
	st, body, err := c.do(c.build(wire.CmdRead, readBody(fid, 16)), true)
	if err != nil || st != smb2.StatusBufferOverflow || le.Uint32(body[4:]) != 16 {
		t.Fatalf("short read: %v %v", st, err)
	}
	fragLen := int(le.Uint16(body[16+8:]))
	st, body, err = c.do(c.build(wire.CmdRead, readBody(fid, 4096)), true)
	if err != nil || st != 0 || int(le.Uint32(body[4:])) != fragLen-16 {
		t.Fatalf("rest: %v %v (%d of %d)", st, err, le.Uint32(body[4:]), fragLen)
	}
	// The same through a transceive with a small output buffer, on a
	// second pipe (a second bind on the first would be refused).
	st, body, err = c.do(c.build(wire.CmdCreate, createBody("srvsvc")), true)
	if err != nil || st != 0 {
		t.Fatal(st, err)
	}
	fid = body[64:80]
	in := ioctlBody(wire.FsctlPipeTransceive, fid)
	le.PutUint32(in[24:], wire.HeaderSize+56)
	le.PutUint32(in[28:], uint32(len(bind)))
	le.PutUint32(in[44:], 20)
	in = append(in, bind...)
	st, body, err = c.do(c.build(wire.CmdIoctl, in), true)
	if err != nil || st != smb2.StatusBufferOverflow || le.Uint32(body[36:]) != 20 {
		t.Fatalf("short transceive: %v %v", st, err)
	}
	st, body, err = c.do(c.build(wire.CmdRead, readBody(fid, 4096)), true)
	if err != nil || st != 0 || int(le.Uint32(body[4:])) != fragLen-20 {
		t.Fatalf("transceive rest: %v %v", st, err)
	}
}

// srvsvcBind is a bind PDU for srvsvc v3.0 with NDR20, call id 1.
func srvsvcBind() []byte {
	b := []byte{5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0}
	b = le.AppendUint16(b, 4280)
	b = le.AppendUint16(b, 4280)
	b = le.AppendUint32(b, 0)
	b = append(b, 1, 0, 0, 0) // one context
	b = append(b, 0, 0, 1, 0)
	b = append(b, 0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88, 3, 0, 0, 0)
	b = append(b, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0)
	return b
}

// FSCTL_VALIDATE_NEGOTIATE_INFO repeats the NEGOTIATE: the true values
// get a signed answer with the server's choice, altered ones end the
// connection.
func TestValidateNegotiate(t *testing.T) {
	f := newFixture(t)
	for _, tamper := range []bool{false, true} {
		c := dialRaw(t, f.addr)
		c.login("alice", "AlicePass1")
		in := le.AppendUint32(nil, 0)
		in = append(in, "0123456789abcdef"...)
		in = le.AppendUint16(in, 1)
		in = le.AppendUint16(in, 1)
		in = le.AppendUint16(in, smb2.Dialect300)
		if tamper {
			in[20] = 3 // security mode "signing required", which was not sent
		}
		all := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		body := ioctlBody(wire.FsctlValidateNegotiateInfo, all)
		le.PutUint32(body[24:], wire.HeaderSize+56)
		le.PutUint32(body[28:], uint32(len(in)))
		le.PutUint32(body[44:], 24)
		st, out, err := c.do(c.build(wire.CmdIoctl, append(body, in...)), true)
		if tamper {
			if err == nil {
				t.Errorf("tampered negotiate answered %v", st)
			}
			continue
		}
		if err != nil || st != 0 {
			t.Fatalf("validate: %v %v", st, err)
		}
		got := out[48:]
		if len(got) != 24 || le.Uint16(got[22:]) != smb2.Dialect300 || le.Uint16(got[20:]) != 3 {
			t.Errorf("validate answer %x", got)
		}
	}
}

// A NetBIOS session request (as sent on port 139) is accepted.
func TestNBSSSessionRequest(t *testing.T) {
	f := newFixture(t)
	c := dialRaw(t, f.addr)
	req := append([]byte{0x81, 0, 0, 68}, make([]byte, 68)...)
	if _, err := c.nc.Write(req); err != nil {
		t.Fatal(err)
	}
	var ans [4]byte
	if _, err := io.ReadFull(c.nc, ans[:]); err != nil || ans[0] != 0x82 {
		t.Fatalf("answer %x %v", ans, err)
	}
	c.login("alice", "AlicePass1")
}

// A compounded CREATE + related CLOSE (FileId all ones) is answered as a
// chain of two signed responses, the CLOSE acting on the file the CREATE
// opened.
func TestCompoundRelated(t *testing.T) {
	f := newFixture(t)
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true); err != nil || st != 0 {
		t.Fatal(st, err)
	}
	first := c.build(wire.CmdCreate, createBody("srvsvc"))
	for len(first)%8 != 0 {
		first = append(first, 0)
	}
	le.PutUint32(first[20:], uint32(len(first)))
	closeBody := le.AppendUint16(nil, 24)
	closeBody = append(closeBody, make([]byte, 6)...)
	closeBody = append(closeBody, bytes.Repeat([]byte{0xff}, 16)...)
	second := c.build(wire.CmdClose, closeBody)
	le.PutUint32(second[16:], le.Uint32(second[16:])|wire.FlagRelatedOperations)
	le.PutUint64(second[40:], ^uint64(0))
	le.PutUint32(second[36:], ^uint32(0))
	c.signer.Sign(first)
	c.signer.Sign(second)
	if err := c.sendFrame(append(first, second...)); err != nil {
		t.Fatal(err)
	}
	resp, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := wire.ParseHeader(resp)
	if h1.NextCommand == 0 || h1.Status != 0 || h1.Command != wire.CmdCreate {
		t.Fatalf("first answer %+v", h1)
	}
	r1, r2 := resp[:h1.NextCommand], resp[h1.NextCommand:]
	h2, _ := wire.ParseHeader(r2)
	if h2.Status != 0 || h2.Command != wire.CmdClose || h2.Flags&wire.FlagRelatedOperations == 0 {
		t.Fatalf("second answer %+v", h2)
	}
	for _, r := range [][]byte{r1, r2} {
		if err := c.signer.Verify(r); err != nil {
			t.Errorf("compound element: %v", err)
		}
	}
	res, err := f.table.Enum(context.Background(), session.Caller{User: "x", Groups: []string{"Administrators"}}, session.EnumQuery{Level: 1, PrefMaxLen: session.MaxPreferredLength})
	if err != nil || len(res.Entries) != 1 || res.Entries[0].NumOpens != 0 {
		t.Errorf("opens after CREATE+CLOSE: %+v %v", res.Entries, err)
	}
}
