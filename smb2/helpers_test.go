package smb2_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/msgstream"
	"github.com/netsession/netsession/internal/smbtest"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// fixture is a running server on loopback with alice (Administrators)
// and bob, its table on a manual clock.
type fixture struct {
	table *session.Table
	clock *session.ManualClock
	srv   *smb2.Server
	rpc   *dcerpc.Server
	addr  string
	port  string
}

type option = func(*smb2.Server)

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	clock := session.NewManualClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	s := smbtest.Start(t, session.New(session.Options{Clock: clock}), opts...)
	return &fixture{table: s.Table, clock: clock, srv: s.SMB, rpc: s.RPC, addr: s.Addr, port: s.Port}
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

// pipeStream reads go-smb2's pipe file as a byte stream: each READ asks
// for a whole message (up to 64 KiB).
func pipeStream(f io.ReadWriter) *msgstream.Stream {
	return &msgstream.Stream{
		Send: func(b []byte) error { _, err := f.Write(b); return err },
		Recv: f.Read,
	}
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
	c, err := srvs.Bind(context.Background(), dcerpc.NewClient(pipeStream(f), dcerpc.ClientConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
