package smb2_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// gatePipe answers each input it reads with "re:" and the input, but only
// once the test lets it through release.
func gatePipe(release <-chan struct{}) smb2.PipeHandler {
	return func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil
			}
			if _, err := conn.Write(append([]byte("re:"), buf[:n]...)); err != nil {
				return nil
			}
		}
	}
}

// send signs (when sign is set) and sends msg without waiting for an
// answer.
func (c *rawClient) send(msg []byte, sign bool) {
	c.t.Helper()
	if sign {
		if err := c.signer.Sign(msg); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.sendFrame(msg); err != nil {
		c.t.Fatal(err)
	}
}

// next receives one answer and checks its signature when it is signed.
func (c *rawClient) next() (wire.Header, []byte) {
	c.t.Helper()
	resp, err := c.recv()
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := wire.ParseHeader(resp)
	if err != nil {
		c.t.Fatal(err)
	}
	if h.Flags&wire.FlagSigned != 0 {
		if err := c.signer.Verify(resp); err != nil {
			c.t.Fatalf("%d answer: %v", h.Command, err)
		}
	}
	return h, resp[wire.HeaderSize:]
}

func readData(t *testing.T, body []byte) string {
	t.Helper()
	off, n := int(body[2]), int(le.Uint32(body[4:]))
	if off < wire.HeaderSize || off-wire.HeaderSize+n > len(body) {
		t.Fatalf("read response %x", body)
	}
	return string(body[off-wire.HeaderSize : off-wire.HeaderSize+n])
}

// A READ that has to wait for the pipe's answer gets an unsigned interim
// STATUS_PENDING with an AsyncId and credits; the connection meanwhile
// serves an ECHO (signed, as the request was) and a second session's
// logon and TREE_CONNECT; the final answer comes with the same AsyncId
// and MessageId, signed with the first session's key, without credits.
func TestAsyncPipeRead(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(gatePipe(release))}
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "gate")
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte("ping"), 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	read := c.build(wire.CmdRead, readBody(fid, 1024))
	readMID := c.mid - 1
	c.send(read, true)
	h, _ := c.next()
	if smb2.Status(h.Status) != smb2.StatusPending || h.Command != wire.CmdRead || h.MessageID != readMID {
		t.Fatalf("interim: status %v command %d mid %d", smb2.Status(h.Status), h.Command, h.MessageID)
	}
	if h.Flags&wire.FlagAsyncCommand == 0 || h.AsyncID == 0 || h.Flags&wire.FlagSigned != 0 || h.Credit == 0 {
		t.Fatalf("interim header %+v: want async, an AsyncId, unsigned, credits", h)
	}
	asyncID := h.AsyncID

	c.send(c.build(wire.CmdEcho, le.AppendUint32(nil, 4)), true)
	eh, _ := c.next()
	if eh.Command != wire.CmdEcho || eh.Status != 0 || eh.Flags&wire.FlagSigned == 0 {
		t.Fatalf("while the READ waits: %+v, want a signed ECHO answer", eh)
	}

	// A second session on the same connection logs on and connects.
	sid1, signer1 := c.sid, c.signer
	c.sid, c.signer = 0, nil
	c.login2("alice", "AlicePass1", smb2.Dialect300)
	if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true); err != nil || st != 0 {
		t.Fatalf("second session's tree connect while the READ waits: %v %v", st, err)
	}
	c.sid, c.signer = sid1, signer1

	release <- struct{}{}
	h, body := c.next()
	if smb2.Status(h.Status) != smb2.StatusSuccess || h.Command != wire.CmdRead || h.MessageID != readMID || h.AsyncID != asyncID || h.SessionID != sid1 {
		t.Fatalf("final: %+v, want READ success with AsyncId %d", h, asyncID)
	}
	if h.Flags&wire.FlagAsyncCommand == 0 || h.Flags&wire.FlagSigned == 0 || h.Credit != 0 {
		t.Fatalf("final header %+v: want async, signed, no credits", h)
	}
	if got := readData(t, body); got != "re:ping" {
		t.Fatalf("data %q", got)
	}
}

// pendingRead writes data to the pipe and sends a READ the server answers
// STATUS_PENDING; it returns that interim answer's header.
func pendingRead(t *testing.T, c *rawClient, fid []byte, data string) wire.Header {
	t.Helper()
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte(data), 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	c.send(c.build(wire.CmdRead, readBody(fid, 1024)), true)
	h, _ := c.next()
	if smb2.Status(h.Status) != smb2.StatusPending {
		t.Fatalf("interim status %v", smb2.Status(h.Status))
	}
	return h
}

// cancelFor is an unsigned CANCEL of the asynchronous operation of
// interim answer h.
func cancelFor(c *rawClient, h wire.Header) []byte {
	ch := wire.Header{Command: wire.CmdCancel, Flags: wire.FlagAsyncCommand, MessageID: h.MessageID, AsyncID: h.AsyncID, SessionID: c.sid}
	return append(ch.Append(nil), le.AppendUint32(nil, 4)...)
}

// CANCEL with the AsyncId ends a pending READ with STATUS_CANCELLED; the
// answer the pipe gives later is not lost but read by the next READ.
func TestAsyncPipeReadCancel(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(gatePipe(release))}
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "gate")
	h := pendingRead(t, c, fid, "one")
	c.send(cancelFor(c, h), true)
	fh, _ := c.next()
	if smb2.Status(fh.Status) != smb2.StatusCancelled || fh.AsyncID != h.AsyncID || fh.MessageID != h.MessageID {
		t.Fatalf("after CANCEL: %+v, want STATUS_CANCELLED for AsyncId %d", fh, h.AsyncID)
	}
	release <- struct{}{}
	// The answer arrives; a READ collects it (synchronously or not).
	c.send(c.build(wire.CmdRead, readBody(fid, 1024)), true)
	h, body := c.next()
	if smb2.Status(h.Status) == smb2.StatusPending {
		h, body = c.next()
	}
	if h.Status != 0 || readData(t, body) != "re:one" {
		t.Fatalf("read after cancel: %v %x", smb2.Status(h.Status), body)
	}
}

// ECHO inside a session is verified like any request and answered signed
// exactly when the request was signed (MS-SMB2 3.3.4.1.1): an unsigned
// ECHO on a session that requires signing gets an unsigned answer, not a
// signature made with the session's key.
func TestEchoSigned(t *testing.T) {
	for _, tc := range []struct {
		name       string
		policy     smb2.SigningPolicy
		sign       bool
		wantSigned bool
	}{
		{"required/signed", smb2.SigningRequired, true, true},
		{"required/unsigned", smb2.SigningRequired, false, false},
		{"enabled/signed", smb2.SigningEnabled, true, true},
		{"enabled/unsigned", smb2.SigningEnabled, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(s *smb2.Server) { s.Signing = tc.policy })
			c := dialRaw(t, f.addr)
			c.login("bob", "BobPass1")
			c.send(c.build(wire.CmdEcho, le.AppendUint32(nil, 4)), tc.sign)
			h, _ := c.next() // next verifies a signed answer
			if h.Command != wire.CmdEcho || h.Status != 0 || (h.Flags&wire.FlagSigned != 0) != tc.wantSigned {
				t.Fatalf("ECHO answered %v flags %#x, want signed=%v", smb2.Status(h.Status), h.Flags, tc.wantSigned)
			}
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		f := newFixture(t)
		c := dialRaw(t, f.addr)
		c.login("bob", "BobPass1")
		forged := c.build(wire.CmdEcho, le.AppendUint32(nil, 4))
		if err := c.signer.Sign(forged); err != nil {
			t.Fatal(err)
		}
		forged[50] ^= 0xff // inside the signature
		if err := c.sendFrame(forged); err != nil {
			t.Fatal(err)
		}
		if h, _ := c.next(); smb2.Status(h.Status) != smb2.StatusAccessDenied {
			t.Fatalf("ECHO with a bad signature answered %v", smb2.Status(h.Status))
		}
	})
}

func transceiveBody(fid, input []byte) []byte {
	b := le.AppendUint16(nil, 57)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, wire.FsctlPipeTransceive)
	b = append(b, fid...)
	b = le.AppendUint32(b, wire.HeaderSize+56) // input offset
	b = le.AppendUint32(b, uint32(len(input)))
	b = le.AppendUint32(b, 0)    // max input response
	b = le.AppendUint32(b, 0)    // output offset
	b = le.AppendUint32(b, 0)    // output count
	b = le.AppendUint32(b, 1024) // max output response
	b = le.AppendUint32(b, wire.IoctlIsFsctl)
	b = le.AppendUint32(b, 0)
	return append(b, input...)
}

// A transceive whose answer is late goes asynchronous like a READ, and
// the final IOCTL answer carries the pipe's answer.
func TestAsyncPipeTransceive(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(gatePipe(release))}
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "gate")
	c.send(c.build(wire.CmdIoctl, transceiveBody(fid, []byte("call"))), true)
	h, _ := c.next()
	if smb2.Status(h.Status) != smb2.StatusPending || h.Command != wire.CmdIoctl || h.Flags&wire.FlagAsyncCommand == 0 || h.AsyncID == 0 {
		t.Fatalf("interim %+v", h)
	}
	c.send(c.build(wire.CmdEcho, le.AppendUint32(nil, 4)), true)
	if eh, _ := c.next(); eh.Command != wire.CmdEcho || eh.Status != 0 {
		t.Fatalf("while the transceive waits: %+v", eh)
	}
	release <- struct{}{}
	fh, body := c.next()
	if fh.Status != 0 || fh.Command != wire.CmdIoctl || fh.AsyncID != h.AsyncID || fh.Flags&wire.FlagSigned == 0 {
		t.Fatalf("final %+v", fh)
	}
	off, n := int(le.Uint32(body[32:])), int(le.Uint32(body[36:]))
	if off < wire.HeaderSize || off-wire.HeaderSize+n > len(body) || string(body[off-wire.HeaderSize:off-wire.HeaderSize+n]) != "re:call" {
		t.Fatalf("ioctl answer %x", body)
	}
}

// recvSealed receives one encrypted answer and decrypts it.
func (c *encClient) recvSealed() (wire.Header, []byte) {
	c.t.Helper()
	resp, err := c.recv()
	if err != nil {
		c.t.Fatal(err)
	}
	th, err := smbcrypto.ParseTransformHeader(resp)
	if err != nil {
		c.t.Fatalf("answer not encrypted: %v", err)
	}
	plain, err := smbcrypto.Open(c.dec, th, resp)
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := wire.ParseHeader(plain)
	if err != nil {
		c.t.Fatal(err)
	}
	return h, plain[wire.HeaderSize:]
}

// On an encrypting session the interim and the final answer are both
// encrypted (with distinct nonces: both open), and an ECHO in between is
// served.
func TestAsyncPipeReadEncrypted(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, withEncryption(smb2.EncryptionRequired), func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(gatePipe(release))}
	})
	c := dialEnc(t, f.addr, wire.CapEncryption)
	if st := c.login("alice", "AlicePass1"); st != smb2.StatusSuccess {
		t.Fatalf("login: %v", st)
	}
	st, _, th, err := c.sealed(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)))
	if err != nil || st != 0 {
		t.Fatalf("tree connect: %v %v", st, err)
	}
	c.tree = th.TreeID
	st, body, _, err := c.sealed(c.build(wire.CmdCreate, createBody("gate")))
	if err != nil || st != 0 {
		t.Fatalf("create: %v %v", st, err)
	}
	fid := body[64:80]
	if st, _, _, err := c.sealed(c.build(wire.CmdWrite, writeBody(fid, []byte("secret"), 0))); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	st, _, h, err := c.sealed(c.build(wire.CmdRead, readBody(fid, 1024)))
	if err != nil || st != smb2.StatusPending || h.Flags&wire.FlagAsyncCommand == 0 {
		t.Fatalf("interim: %v %v %+v", st, err, h)
	}
	if st, _, eh, err := c.sealed(c.build(wire.CmdEcho, wire.AppendSmall(nil))); err != nil || st != 0 || eh.Command != wire.CmdEcho {
		t.Fatalf("echo while the READ waits: %v %v %+v", st, err, eh)
	}
	release <- struct{}{}
	fh, fbody := c.recvSealed()
	if fh.Status != 0 || fh.AsyncID != h.AsyncID || readData(t, fbody) != "re:secret" {
		t.Fatalf("final %+v %x", fh, fbody)
	}
}

// A session deleted by the call its pending READ waits for still gets
// the final answer (the NetrSessionDel reply) before it is logged off.
func TestAsyncReadOfDeletedSession(t *testing.T) {
	release := make(chan struct{})
	var table *session.Table
	deleter := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil
		}
		admin := session.Caller{User: "root", Groups: []string{session.GroupAdministrators}}
		if _, err := table.Delete(context.Background(), admin, "", "bob"); err != nil {
			return err
		}
		conn.Write(append([]byte("bye:"), buf[:n]...))
		conn.Read(buf) // idle again
		return nil
	}
	f := newFixture(t, func(s *smb2.Server) { s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(deleter)} })
	table = f.table
	c, fid := openPipe(t, f, "bob", "BobPass1", "gate")
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte("del"), 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	c.send(c.build(wire.CmdRead, readBody(fid, 1024)), true)
	if h, _ := c.next(); smb2.Status(h.Status) != smb2.StatusPending {
		t.Fatalf("interim %v", smb2.Status(h.Status))
	}
	release <- struct{}{}
	h, body := c.next()
	if h.Status != 0 || readData(t, body) != "bye:del" {
		t.Fatalf("final %v %x", smb2.Status(h.Status), body)
	}
}

// Shutdown lets a pending READ finish: the final answer is sent before
// the connection closes.
func TestAsyncReadSurvivesShutdown(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(gatePipe(release))}
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "gate")
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte("last"), 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	c.send(c.build(wire.CmdRead, readBody(fid, 1024)), true)
	if h, _ := c.next(); smb2.Status(h.Status) != smb2.StatusPending {
		t.Fatalf("interim %v", smb2.Status(h.Status))
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- f.srv.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a READ pending", err)
	case <-time.After(50 * time.Millisecond):
	}
	release <- struct{}{}
	h, body := c.next()
	if h.Status != 0 || readData(t, body) != "re:last" {
		t.Fatalf("final %v %x", smb2.Status(h.Status), body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := c.recv(); err == nil {
		t.Fatal("connection still open after Shutdown")
	}
}

// In a signed compound, the ECHO's answer is signed like the others.
func TestEchoSignedInCompound(t *testing.T) {
	f := newFixture(t)
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	tc := c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`))
	echo := c.build(wire.CmdEcho, le.AppendUint32(nil, 4))
	le.PutUint32(echo[16:], le.Uint32(echo[16:])|wire.FlagRelatedOperations)
	if err := c.sendFrame(c.chain(tc, echo)); err != nil {
		t.Fatal(err)
	}
	resp, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range []uint16{wire.CmdTreeConnect, wire.CmdEcho} {
		h, err := wire.ParseHeader(resp)
		if err != nil {
			t.Fatal(err)
		}
		r := resp
		if h.NextCommand != 0 {
			r, resp = resp[:h.NextCommand], resp[h.NextCommand:]
		}
		if h.Command != cmd || h.Status != 0 || h.Flags&wire.FlagSigned == 0 {
			t.Fatalf("answer %d: %+v, want signed success of command %d", i, h, cmd)
		}
		if err := c.signer.Verify(r); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
}

// A CANCEL must prove its session like any request: a forged signature,
// or no signature on a session that signs, cancels nothing (and gets no
// answer); a genuine one then cancels.
func TestCancelAuthenticated(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"gate": smb2.PipeHandler(gatePipe(release))}
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "gate")
	h := pendingRead(t, c, fid, "one")
	forged := cancelFor(c, h)
	if err := c.signer.Sign(forged); err != nil {
		t.Fatal(err)
	}
	forged[50] ^= 0xff
	if err := c.sendFrame(forged); err != nil {
		t.Fatal(err)
	}
	c.send(cancelFor(c, h), false)
	// Neither cancelled the READ: an ECHO is answered first, and the
	// READ then completes with the pipe's answer.
	if st, _, err := c.do(c.build(wire.CmdEcho, le.AppendUint32(nil, 4)), true); err != nil || st != 0 {
		t.Fatalf("echo: %v %v", st, err)
	}
	release <- struct{}{}
	fh, body := c.next()
	if fh.Status != 0 || fh.AsyncID != h.AsyncID || readData(t, body) != "re:one" {
		t.Fatalf("READ after unauthenticated CANCELs: %v %x, want its data", smb2.Status(fh.Status), body)
	}

	// A genuine CANCEL still works.
	h = pendingRead(t, c, fid, "two")
	c.send(cancelFor(c, h), true)
	if fh, _ := c.next(); smb2.Status(fh.Status) != smb2.StatusCancelled || fh.AsyncID != h.AsyncID {
		t.Fatalf("after a signed CANCEL: %v, want STATUS_CANCELLED", smb2.Status(fh.Status))
	}
	release <- struct{}{}
}
