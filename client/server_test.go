package client_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// Accounts of the test servers.
const (
	adminUser, adminPass = rpctest.AdminUser, rpctest.AdminPass
	plainUser, plainPass = rpctest.PlainUser, rpctest.PlainPass
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

// startServer serves a table of four sessions (alice twice, carol as a
// guest holding one open, a machine account) plus cfg.extra, under the
// given policy; the accounts are alice (Administrators) and bob.
func startServer(t testing.TB, cfg serverConfig) *testServer {
	t.Helper()
	sessions := []rpctest.Session{
		{Spec: session.Spec{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`}},
		{Spec: session.Spec{Client: "fe80::9%eth0", User: "alice", Transport: `\Device\NetbiosSmb`}},
		{Spec: session.Spec{Client: "10.0.0.7", User: "carol", Guest: true, ClientType: "Windows 5.0"}, Opens: 1},
		{Spec: session.Spec{Client: "10.0.0.8", User: "WKS8$"}},
	}
	for i := range cfg.extra {
		sessions = append(sessions, rpctest.Session{Spec: session.Spec{Client: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), User: fmt.Sprintf("user%03d", i)}})
	}
	srv := rpctest.NewServer(t, rpctest.Config{
		Policy:       cfg.policy,
		Sessions:     sessions,
		Idle:         90 * time.Second,
		ComputerName: "FS",
		Wrap:         cfg.wrap,
	})
	return &testServer{addr: srv.Addr, table: srv.Table, clock: srv.Clock}
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
	return rpctest.Serve(t, srv)
}

// startBenchServer holds n sessions and returns the server's address.
func startBenchServer(b *testing.B, n int) string {
	return startServer(b, serverConfig{extra: n - 4}).addr
}
