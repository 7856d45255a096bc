// Package rpctest is test support: in-process srvsvc servers on loopback
// ports and listeners that misbehave, for the tests of the packages that
// talk to a srvsvc server (the client library and the command line).
//
// It lives outside the _test files so that those packages share one
// implementation; it is not meant for use outside tests. Every helper
// takes a testing.TB, fails the test on a setup error and releases what it
// started with t.Cleanup.
package rpctest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// The accounts every Server knows, in the NETSESS domain: AdminUser is in
// Administrators, PlainUser in no group.
const (
	AdminUser, AdminPass = "alice", "AlicePass1"
	PlainUser, PlainPass = "bob", "BobPass1"
)

// Session is a session a Server holds from the start.
type Session struct {
	session.Spec
	// Opens is how many files the session holds open.
	Opens int
}

// Config says what a Server holds and how it answers.
type Config struct {
	// Policy is the table's access policy in session.ParsePolicy's
	// syntax; "" is "modern".
	Policy string
	// Sessions are opened in order, at 2026-01-02 03:04:05 UTC on the
	// server's manual clock.
	Sessions []Session
	// Idle is how far the clock moves on after the sessions are opened.
	Idle time.Duration
	// ComputerName is the NTLM acceptor's computer name.
	ComputerName string
	// Wrap, if set, decorates the srvsvc handler.
	Wrap func(dcerpc.Handler) dcerpc.Handler
}

// Server is a srvsvc server (ncacn_ip_tcp, NTLM through rpcauth) serving
// a session table until the test ends.
type Server struct {
	// Addr is the loopback address it listens on.
	Addr  string
	Table *session.Table
	Clock *session.ManualClock
}

// NewServer starts a Server for cfg.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Policy == "" {
		cfg.Policy = "modern"
	}
	pol, err := session.ParsePolicy(cfg.Policy)
	if err != nil {
		t.Fatal(err)
	}
	clock := session.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	table := session.New(session.Options{Clock: clock, Policy: pol})
	for _, sp := range cfg.Sessions {
		s, err := table.Open(sp.Spec)
		if err != nil {
			t.Fatal(err)
		}
		for range sp.Opens {
			s.AddOpen()
		}
	}
	clock.Advance(cfg.Idle)
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: AdminUser, NTHash: ntlm.NTHash(AdminPass), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: PlainUser, NTHash: ntlm.NTHash(PlainPass)},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dcerpc.Server{Auth: rpcauth.MustAcceptors(&ntlm.Server{Accounts: accounts, ComputerName: cfg.ComputerName})}
	iface := (&srvs.Handler{Table: table}).Interface()
	if cfg.Wrap != nil {
		iface.Handler = cfg.Wrap(iface.Handler)
	}
	if err := srv.Register(iface); err != nil {
		t.Fatal(err)
	}
	return &Server{Addr: Serve(t, srv), Table: table, Clock: clock}
}

// Serve serves srv on a free loopback port until the test ends, then
// closes it and waits for Serve to return; it returns the address.
func Serve(t testing.TB, srv *dcerpc.Server) string {
	t.Helper()
	l := listen(t)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(context.Background(), l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

// StatusAt is a Config.Wrap that answers NetrSessionEnum at the given
// levels with a status and no entries; other calls go to the handler.
func StatusAt(statuses map[uint32]session.Status) func(dcerpc.Handler) dcerpc.Handler {
	return func(h dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
			if call.Opnum == srvs.OpNetrSessionEnum {
				var req srvs.SessionEnumRequest
				if err := req.UnmarshalNDR(call.Stub); err != nil {
					return nil, err
				}
				if st, ok := statuses[uint32(req.Level)]; ok {
					resp := req.Response(uint32(st))
					return resp.MarshalNDR()
				}
			}
			return h.ServeRPC(ctx, call)
		})
	}
}

// Faulting is a Config.Wrap that answers every call with a fault.
func Faulting(status uint32) func(dcerpc.Handler) dcerpc.Handler {
	return func(dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(context.Context, *dcerpc.Call) ([]byte, error) {
			return nil, &dcerpc.Fault{Status: status}
		})
	}
}

// Silent returns the address of a listener that accepts connections and
// never answers on them.
func Silent(t testing.TB) string {
	t.Helper()
	l := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	return addr
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
