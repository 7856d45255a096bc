package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/smb2"
)

// Config.Limits and Timeouts reach the services they name: a zero Config
// gives each its package's defaults (and the server's own for the
// endpoint mapper and metrics), MaxConnsPerAddr fills every listener's
// per-address bound left zero, and a listener's own value wins.
func TestConfigLimitsReachServices(t *testing.T) {
	zero, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if zero.smb.Limits != (smb2.Limits{}) || zero.smb.Timeouts != (smb2.Timeouts{}) || zero.rpc.Limits != (dcerpc.Limits{}) {
		t.Errorf("zero Config: smb %+v %+v, rpc %+v; want zero (the packages' defaults)", zero.smb.Limits, zero.smb.Timeouts, zero.rpc.Limits)
	}
	if l := zero.epm.Limits; l.MaxConns != DefaultEPMMaxConns || l.MaxConnsPerAddr != DefaultEPMMaxConnsPerAddr {
		t.Errorf("endpoint mapper limits %+v", l)
	}
	if l := zero.cfg.Limits; l.MetricsMaxConns != DefaultMetricsMaxConns || l.MetricsMaxConnsPerAddr != DefaultMetricsMaxConnsPerAddr {
		t.Errorf("metrics limits %+v", l)
	}
	if zero.cfg.Timeouts.Shutdown != DefaultShutdownTimeout {
		t.Errorf("shutdown timeout %v", zero.cfg.Timeouts.Shutdown)
	}

	srv, err := New(Config{
		Limits: Limits{
			MaxConnsPerAddr: 3,
			SMB:             smb2.Limits{MaxConns: 7},
			RPC:             dcerpc.Limits{MaxConns: 9, MaxConnsPerAddr: 5},
		},
		Timeouts: Timeouts{SMB: smb2.Timeouts{Idle: -1}, RPC: dcerpc.Timeouts{Idle: time.Minute}, Shutdown: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := srv.smb.Limits; l.MaxConns != 7 || l.MaxConnsPerAddr != 3 {
		t.Errorf("smb limits %+v", l)
	}
	if l := srv.rpc.Limits; l.MaxConns != 9 || l.MaxConnsPerAddr != 5 {
		t.Errorf("rpc limits %+v", l)
	}
	if l := srv.epm.Limits; l.MaxConns != DefaultEPMMaxConns || l.MaxConnsPerAddr != 3 {
		t.Errorf("epm limits %+v", l)
	}
	if l := srv.cfg.Limits; l.MetricsMaxConnsPerAddr != 3 {
		t.Errorf("metrics per address %d", l.MetricsMaxConnsPerAddr)
	}
	if srv.smb.Timeouts.Idle != -1 || srv.rpc.Timeouts.Idle != time.Minute || srv.cfg.Timeouts.Shutdown != time.Second {
		t.Errorf("timeouts: smb %+v rpc %+v shutdown %v", srv.smb.Timeouts, srv.rpc.Timeouts, srv.cfg.Timeouts.Shutdown)
	}
}

// Run serves the listeners it is given instead of opening its own, checks
// them for the demo accounts as it would an address, and closes them.
func TestRunGivenListeners(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, Config{Listeners: Listeners{RPC: l}})
	if r.addrs.RPC != l.Addr().String() {
		t.Fatalf("served on %s, given %s", r.addrs.RPC, l.Addr())
	}
	if _, err := dial(t, r.addrs.RPC, "alice", "AlicePass1", dcerpc.AuthTypeNTLM, dcerpc.AuthLevelIntegrity); err != nil {
		t.Fatal(err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("the given listener is still open after Run returned")
	}

	// A listener a service manager passed may be bound anywhere: one that
	// says it is on a routable address is refused like that address.
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wide := routable{inner}
	srv, err := New(Config{Listeners: Listeners{RPC: wide}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(t.Context()); !errors.Is(err, ErrExposedDemoAccounts) {
		t.Fatalf("demo accounts on a given routable listener: %v", err)
	}
	if _, err := inner.Accept(); err == nil {
		t.Error("the refused listener is still open")
	}
}

// routable is a loopback listener that reports a routable address.
type routable struct{ net.Listener }

func (routable) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 445} }
