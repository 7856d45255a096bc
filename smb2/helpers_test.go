package smb2_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// fixture is a running server on loopback with alice (Administrators)
// and bob.
type fixture struct {
	table *session.Table
	clock *session.ManualClock
	srv   *smb2.Server
	rpc   *dcerpc.Server
	addr  string
	port  string
	errc  chan error
}

type option func(*smb2.Server)

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{"Administrators"}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("BobPass1")},
	)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: session.NewManualClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)), errc: make(chan error, 1)}
	f.table = session.New(session.Options{Clock: f.clock})
	f.rpc = &dcerpc.Server{}
	if err := f.rpc.Register((&srvs.Handler{Table: f.table}).Interface()); err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if os.Getenv("SMB2_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f.srv = &smb2.Server{
		Table:  f.table,
		Auth:   &ntlm.Server{Accounts: accounts, ComputerName: "NETSESS"},
		RPC:    f.rpc,
		Logger: logger,
	}
	for _, o := range opts {
		o(f.srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	_, f.port, _ = net.SplitHostPort(f.addr)
	go func() { f.errc <- f.srv.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		f.srv.Close()
		if err := <-f.errc; !errors.Is(err, smb2.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		f.rpc.Close()
	})
	return f
}

// dial logs in with go-smb2.
func (f *fixture) dial(t testing.TB, user, pass string, dialect uint16) *gosmb2.Session {
	t.Helper()
	d := &gosmb2.Dialer{
		Negotiator: gosmb2.Negotiator{SpecifiedDialect: dialect},
		Initiator:  &gosmb2.NTLMInitiator{User: user, Password: pass},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.Dial(ctx, f.addr)
	if err != nil {
		t.Fatalf("dial %s at %#x: %v", user, dialect, err)
	}
	t.Cleanup(func() { _ = s.Logoff() })
	return s
}

// msgPipe turns go-smb2's pipe file into a byte stream: each READ asks for
// a whole message (up to 64 KiB) and hands it out in portions.
type msgPipe struct {
	f   io.ReadWriter
	buf []byte
	rd  []byte
}

func (p *msgPipe) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *msgPipe) Read(b []byte) (int, error) {
	if len(p.rd) == 0 {
		if p.buf == nil {
			p.buf = make([]byte, 65536)
		}
		n, err := p.f.Read(p.buf)
		if n == 0 {
			return 0, err
		}
		p.rd = p.buf[:n]
	}
	n := copy(b, p.rd)
	p.rd = p.rd[n:]
	return n, nil
}

// srvsvc opens \PIPE\srvsvc on IPC$ and binds.
func srvsvc(t testing.TB, s *gosmb2.Session) *srvs.Client {
	t.Helper()
	share, err := s.Mount("IPC$")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = share.Umount() })
	f, err := share.OpenFile("srvsvc", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	c, err := srvs.Bind(context.Background(), dcerpc.NewClient(&msgPipe{f: f}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
