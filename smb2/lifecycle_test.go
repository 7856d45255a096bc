package smb2_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/srvs"
)

// Shutdown lets connections go, removes their sessions and makes Serve
// return ErrServerClosed (checked by the fixture's cleanup).
func TestShutdown(t *testing.T) {
	f := newFixture(t)
	srvsvc(t, f.dial(t, "alice", "AlicePass1", 0))
	if f.table.Len() != 1 {
		t.Fatalf("%d sessions", f.table.Len())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if f.table.Len() != 0 {
		t.Errorf("%d sessions after Shutdown", f.table.Len())
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// ServeConn serves a single connection, here over net.Pipe, and returns
// when the client goes away.
func TestServeConnPipe(t *testing.T) {
	f := newFixture(t)
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- f.srv.ServeConn(context.Background(), a) }()
	d := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: "alice", Password: "AlicePass1"}}
	s, err := d.DialConn(context.Background(), b, "pipe")
	if err != nil {
		t.Fatal(err)
	}
	share, err := s.Mount("IPC$")
	if err != nil {
		t.Fatal(err)
	}
	file, err := share.OpenFile("srvsvc", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := srvs.Bind(context.Background(), dcerpc.NewClient(pipeStream(file), dcerpc.ClientConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnumAll(context.Background(), 10, "", "", session.MaxPreferredLength); err != nil {
		t.Fatal(err)
	}
	file.Close()
	share.Umount()
	s.Logoff()
	b.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeConn: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not return")
	}
	if f.table.Len() != 0 {
		t.Errorf("%d sessions left", f.table.Len())
	}
}

// With SigningEnabled, a client that does not ask for signing may send
// unsigned requests; the default policy refuses them (see the malformed
// table).
func TestSigningEnabledPolicy(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Signing = smb2.SigningEnabled })
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	signer := c.signer
	c.signer = nil
	st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), false)
	if err != nil || st != 0 {
		t.Fatalf("unsigned tree connect: %v %v", st, err)
	}
	// A signed request still gets a signed, verifiable answer.
	c.signer = signer
	st, _, err = c.do(c.build(wire.CmdCreate, createBody("srvsvc")), true)
	if err != nil || st != 0 {
		t.Fatalf("signed create: %v %v", st, err)
	}
}

// Unknown users become guests only when the accounts allow it and the
// server admits guests; the table marks such sessions SESS_GUEST.
func TestGuest(t *testing.T) {
	for _, allow := range []bool{false, true} {
		f := newFixture(t, func(s *smb2.Server) {
			acc, _ := ntlm.NewAccounts("NETSESS", true, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1")})
			s.Auth = &ntlm.Server{Accounts: acc}
			s.AllowGuest = allow
		})
		d := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: "mallory", Password: "x"}}
		s, err := d.Dial(context.Background(), f.addr)
		if !allow {
			if err == nil {
				s.Logoff()
				t.Error("guest admitted although not allowed")
			}
			continue
		}
		if err != nil {
			t.Fatalf("guest refused: %v", err)
		}
		if _, err := s.Mount("IPC$"); err != nil {
			t.Fatal(err)
		}
		res, err := f.table.Enum(context.Background(), session.Caller{User: "x", Groups: []string{"Administrators"}}, session.EnumQuery{Level: 1, PrefMaxLen: session.MaxPreferredLength})
		if err != nil || len(res.Entries) != 1 || res.Entries[0].UserFlags&session.FlagGuest == 0 {
			t.Errorf("guest session: %+v %v", res.Entries, err)
		}
		s.Logoff()
	}
}

// Many calls on one connection walk the message-ID window far past the
// initial grant; credits keep flowing.
func TestManyCalls(t *testing.T) {
	f := newFixture(t)
	c := srvsvc(t, f.dial(t, "alice", "AlicePass1", smb2.Dialect311))
	for i := range 300 {
		if _, err := c.EnumAll(context.Background(), 0, "", "", session.MaxPreferredLength); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// Close ends a connection even while a READ waits for a pipe handler
// that is busy; custom PipeHandlers are served by name.
func TestCloseDuringPipeWait(t *testing.T) {
	got := make(chan session.Caller, 1)
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"slow": smb2.PipeHandler(func(ctx context.Context, conn net.Conn, caller session.Caller) error {
			got <- caller
			buf := make([]byte, 10)
			_, _ = conn.Read(buf) // take the request, then never answer
			<-ctx.Done()
			return ctx.Err()
		})}
	})
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true); err != nil || st != 0 {
		t.Fatal(st, err)
	}
	if st, _, err := c.do(c.build(wire.CmdCreate, createBody("srvsvc")), true); err != nil || st != smb2.StatusObjectNameNotFound {
		t.Fatalf("srvsvc without a handler: %v %v", st, err)
	}
	st, body, err := c.do(c.build(wire.CmdCreate, createBody("slow")), true)
	if err != nil || st != 0 {
		t.Fatal(st, err)
	}
	fid := body[64:80]
	if caller := <-got; caller.User != "alice" {
		t.Errorf("handler caller %+v", caller)
	}
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte("hello"), 0)), true); err != nil || st != 0 {
		t.Fatal(st, err)
	}
	msg := c.build(wire.CmdRead, readBody(fid, 100))
	c.signer.Sign(msg)
	if err := c.sendFrame(msg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the READ is now waiting
	start := time.Now()
	f.srv.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestParseSigningPolicy(t *testing.T) {
	for _, p := range []smb2.SigningPolicy{smb2.SigningRequired, smb2.SigningEnabled} {
		got, err := smb2.ParseSigningPolicy(p.String())
		if err != nil || got != p {
			t.Errorf("%v: %v %v", p, got, err)
		}
	}
	if _, err := smb2.ParseSigningPolicy("sometimes"); err == nil {
		t.Error("bad policy accepted")
	}
}
