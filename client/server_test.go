package client_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// Accounts of the test servers.
const (
	adminUser, adminPass = "alice", "AlicePass1"
	plainUser, plainPass = "bob", "BobPass1"
)

// testServer is an in-process srvsvc server on a loopback port.
type testServer struct {
	addr  string
	table *session.Table
	clock *session.ManualClock
}

type serverConfig struct {
	policy string
	// extra sessions to hold besides the four standard ones.
	extra int
	// wrap, if set, decorates the srvsvc handler.
	wrap func(dcerpc.Handler) dcerpc.Handler
}

// startServer serves a table of four sessions (alice twice, bob, a machine
// account) under the given policy; the accounts are alice
// (Administrators) and bob.
func startServer(t testing.TB, cfg serverConfig) *testServer {
	t.Helper()
	if cfg.policy == "" {
		cfg.policy = "modern"
	}
	pol, err := session.ParsePolicy(cfg.policy)
	if err != nil {
		t.Fatal(err)
	}
	clock := session.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	table := session.New(session.Options{Clock: clock, Policy: pol})
	for _, sp := range []session.Spec{
		{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`},
		{Client: "fe80::9%eth0", User: "alice", Transport: `\Device\NetbiosSmb`},
		{Client: "10.0.0.7", User: "carol", Guest: true, ClientType: "Windows 5.0"},
		{Client: "10.0.0.8", User: "WKS8$"},
	} {
		s, err := table.Open(sp)
		if err != nil {
			t.Fatal(err)
		}
		if sp.User == "carol" {
			s.AddOpen()
		}
	}
	for i := range cfg.extra {
		if _, err := table.Open(session.Spec{Client: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), User: fmt.Sprintf("user%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(90 * time.Second)
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: adminUser, NTHash: ntlm.NTHash(adminPass), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: plainUser, NTHash: ntlm.NTHash(plainPass)},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dcerpc.Server{Auth: rpcauth.Acceptors(&ntlm.Server{Accounts: accounts, ComputerName: "FS"})}
	iface := (&srvs.Handler{Table: table}).Interface()
	if cfg.wrap != nil {
		iface.Handler = cfg.wrap(iface.Handler)
	}
	if err := srv.Register(iface); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(context.Background(), l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return &testServer{addr: l.Addr().String(), table: table, clock: clock}
}

// statusAt answers NetrSessionEnum at the given levels with a status.
func statusAt(statuses map[uint32]session.Status) func(dcerpc.Handler) dcerpc.Handler {
	return func(h dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
			if call.Opnum == srvs.OpNetrSessionEnum {
				var req srvs.SessionEnumRequest
				if err := req.UnmarshalNDR(call.Stub); err != nil {
					return nil, err
				}
				if st, ok := statuses[req.Level]; ok {
					resp := req.Response(uint32(st))
					return resp.MarshalNDR()
				}
			}
			return h.ServeRPC(ctx, call)
		})
	}
}

// faulting answers every call with a fault.
func faulting(status uint32) func(dcerpc.Handler) dcerpc.Handler {
	return func(dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(context.Context, *dcerpc.Call) ([]byte, error) {
			return nil, &dcerpc.Fault{Status: status}
		})
	}
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startMapper serves an endpoint mapper announcing srvsvc at rpcAddr's port.
func startMapper(t *testing.T, rpcAddr string) string {
	t.Helper()
	ap, err := netip.ParseAddrPort(rpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dcerpc.Server{}
	h := &epm.Handler{Endpoints: []epm.Endpoint{{Interface: srvs.Syntax(), Port: ap.Port()}}}
	if err := srv.Register(h.Interface()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(context.Background(), l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

// startBenchServer holds n sessions and returns the server's address.
func startBenchServer(b *testing.B, n int) string {
	return startServer(b, serverConfig{extra: n - 4}).addr
}
