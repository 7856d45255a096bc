package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// running is a server started by start.
type running struct {
	srv   *Server
	addrs Addrs
	stop  func() error // cancels Run and returns its result
}

// start runs cfg (on loopback ports) until the test ends.
func start(t testing.TB, cfg Config) *running {
	t.Helper()
	if cfg.RPCAddr == "" {
		cfg.RPCAddr = "127.0.0.1:0"
	}
	ready := make(chan Addrs, 1)
	cfg.OnReady = func(a Addrs) { ready <- a }
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	r := &running{srv: srv}
	select {
	case r.addrs = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready")
	}
	var result error
	stopped := false
	r.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-errc
		}
		return result
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// runReady runs srv under ctx until it is ready and returns the addresses
// it reported and a stop that cancels Run and returns its result.
func runReady(t testing.TB, ctx context.Context, srv *Server) (Addrs, func() error) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	addrs := make(chan Addrs, 1)
	srv.cfg.OnReady = func(a Addrs) { addrs <- a }
	go func() { done <- srv.Run(runCtx) }()
	select {
	case a := <-addrs:
		return a, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatal(err)
		return Addrs{}, nil
	}
}

// dial binds srvsvc on the server as user at the given auth type and level
// (AuthTypeNone: no DCE/RPC authentication).
func dial(t testing.TB, addr, user, pass string, typ dcerpc.AuthType, level dcerpc.AuthLevel) (*srvs.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var cfg dcerpc.ClientConfig
	if typ != dcerpc.AuthTypeNone {
		ini, err := rpcauth.Initiator(context.Background(), &ntlm.Client{User: user, Domain: "WKS", Password: pass}, typ, level)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Auth, cfg.AuthContextID = ini, 1
	}
	rpc := dcerpc.NewClient(conn, cfg)
	t.Cleanup(func() { rpc.Close() })
	return srvs.Bind(ctx, rpc)
}

func enum(c *srvs.Client, level session.Level) (*srvs.EnumResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.EnumAll(ctx, level, "", "", session.MaxPreferredLength)
}

func TestRunAuthLevels(t *testing.T) {
	r := start(t, Config{Seeds: []Seed{{Client: "10.0.0.5", User: "carol", Time: 60}}})
	for _, typ := range []dcerpc.AuthType{dcerpc.AuthTypeNTLM, dcerpc.AuthTypeSPNEGO} {
		for _, level := range []dcerpc.AuthLevel{dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy} {
			c, err := dial(t, r.addrs.RPC, "alice", "AlicePass1", typ, level)
			if err != nil {
				t.Fatalf("type %d level %s: bind: %v", typ, level, err)
			}
			res, err := enum(c, 502)
			if err != nil || len(res.Entries) != 1 || res.Entries[0].ClientName != `\\10.0.0.5` || res.Entries[0].Time < 60 {
				t.Errorf("type %d level %s: %+v, %v", typ, level, res, err)
			}
			// bob is authenticated just as well but not an administrator.
			c, err = dial(t, r.addrs.RPC, "bob", "BobPass1", typ, level)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := enum(c, 10); !errors.Is(err, session.StatusAccessDenied) {
				t.Errorf("bob: %v, want status 5", err)
			}
		}
	}
	// NTLMSSP's third leg (auth3) has no answer: a wrong password shows on
	// the first call, as a fault 0x5.
	c, err := dial(t, r.addrs.RPC, "alice", "wrong", dcerpc.AuthTypeNTLM, dcerpc.AuthLevelIntegrity)
	if err == nil {
		_, err = enum(c, 1)
	}
	var fe *dcerpc.Fault
	if !errors.As(err, &fe) || fe.Status != dcerpc.StatusAccessDenied {
		t.Errorf("wrong password: %v, want fault 0x5", err)
	}
}

func TestConnectLevel(t *testing.T) {
	for _, allow := range []bool{false, true} {
		r := start(t, Config{AllowConnectLevel: allow, Seeds: []Seed{{Client: "10.0.0.5", User: "carol"}}})
		c, err := dial(t, r.addrs.RPC, "alice", "AlicePass1", dcerpc.AuthTypeNTLM, dcerpc.AuthLevelConnect)
		if err != nil {
			t.Fatalf("allow=%v: the bind must succeed: %v", allow, err)
		}
		res, err := enum(c, 1)
		var fe *dcerpc.Fault
		if !allow {
			if !errors.As(err, &fe) || fe.Status != dcerpc.StatusAccessDenied {
				t.Errorf("connect level refused: got %+v, %v; want fault 0x5", res, err)
			}
			continue
		}
		if err != nil || len(res.Entries) != 1 {
			t.Errorf("connect level allowed: %+v, %v", res, err)
		}
	}
}

func TestAnonymous(t *testing.T) {
	r := start(t, Config{Seeds: []Seed{{Client: "10.0.0.5", User: "carol"}}})
	c, err := dial(t, r.addrs.RPC, "", "", dcerpc.AuthTypeNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enum(c, 0); !errors.Is(err, session.StatusAccessDenied) {
		t.Errorf("anonymous under modern: %v, want status 5", err)
	}
	r = start(t, Config{Policy: session.PolicyOpen(), Seeds: []Seed{{Client: "10.0.0.5", User: "carol"}}})
	c, err = dial(t, r.addrs.RPC, "", "", dcerpc.AuthTypeNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := enum(c, 0); err != nil || len(res.Entries) != 1 {
		t.Errorf("anonymous under open: %+v, %v", res, err)
	}
}

func TestReadyFileAndEPM(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	r := start(t, Config{EPMAddr: "127.0.0.1:0", ReadyFile: ready})
	b, err := os.ReadFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("ready file %q: %v", b, err)
	}
	if got["rpc"] != r.addrs.RPC || got["epm"] != r.addrs.EPM || len(got) != 2 {
		t.Fatalf("ready file %v, want %+v", got, r.addrs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	port, err := epm.MapAddr(ctx, r.addrs.EPM, srvs.Syntax())
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := net.SplitHostPort(r.addrs.RPC)
	if p := (net.JoinHostPort("", itoa(port))); p != ":"+want {
		t.Errorf("mapper says port %d, server listens on %s", port, r.addrs.RPC)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the ready file: %v", entries)
	}
}

func itoa(p uint16) string { return (&net.TCPAddr{Port: int(p)}).String()[1:] }

func TestReadyFileWithoutEPM(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	start(t, Config{ReadyFile: ready})
	b, err := os.ReadFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil || len(got) != 1 || got["rpc"] == "" {
		t.Fatalf("ready file %q (%v)", b, err)
	}
}

func TestDemoAccountsLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		rpc, epm string
	}{
		{"0.0.0.0:0", ""}, {":0", ""}, {"[::]:0", ""}, {"192.0.2.1:0", ""}, {"127.0.0.1:0", "0.0.0.0:0"},
	} {
		srv, err := New(Config{RPCAddr: tc.rpc, EPMAddr: tc.epm})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Run(context.Background()); !errors.Is(err, ErrExposedDemoAccounts) {
			t.Errorf("%s/%s: Run = %v, want ErrExposedDemoAccounts", tc.rpc, tc.epm, err)
		}
	}
	for _, a := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.3.4.5:0"} {
		if !IsLoopback(a) {
			t.Errorf("IsLoopback(%q) = false", a)
		}
	}
	// With an accounts file, any address is allowed: the check is only
	// about the public demo passwords.
	acc, err := ntlm.NewAccounts("D", false, ntlm.Account{Name: "x", NTHash: ntlm.NTHash("y")})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{RPCAddr: "0.0.0.0:0", Accounts: acc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Run(ctx); err != nil {
		t.Errorf("Run with an accounts file on 0.0.0.0: %v", err)
	}
}

// A call in progress finishes when the context ends; new connections are
// refused afterwards, and Run returns nil.
func TestGracefulStop(t *testing.T) {
	r := start(t, Config{Seeds: []Seed{{Client: "10.0.0.5", User: "carol"}}})
	c, err := dial(t, r.addrs.RPC, "alice", "AlicePass1", dcerpc.AuthTypeNTLM, dcerpc.AuthLevelIntegrity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enum(c, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", r.addrs.RPC, time.Second); err == nil {
		conn.Close()
		t.Error("still accepting after stop")
	}
	if err := r.srv.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}

func TestListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv, err := New(Config{RPCAddr: l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("Run on a busy port succeeded")
	}
	srv, _ = New(Config{EPMAddr: l.Addr().String()})
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("Run with a busy mapper port succeeded")
	}
}

// Seeds land in the table in order, with their ages, idle times, opens
// and flags.
func TestSeedTimes(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := session.NewManualClock(now)
	srv, err := New(Config{Clock: clock, Seeds: []Seed{
		{Client: `\\10.0.0.5`, User: "alice", Opens: 3, Time: 3600, Idle: 60, Transport: `\Device\NetbiosSmb`},
		{Client: "fe80::1%eth0", User: "bob", Time: session.TimeUnknown, Flags: session.FlagGuest | session.FlagNoEncryption, ClientType: "Windows 5.0"},
		{Client: "WKS1", User: "", Time: 5, Idle: session.TimeUnknown},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Table().Snapshot()
	want := []session.Info{
		{ClientName: `\\10.0.0.5`, UserName: "alice", NumOpens: 3, Time: 3600, IdleTime: 60, Transport: `\Device\NetbiosSmb`},
		{ClientName: `\\[fe80::1]`, UserName: "bob", Time: session.TimeUnknown, UserFlags: 3, ClientType: "Windows 5.0"},
		{ClientName: `\\WKS1`, Time: 5, IdleTime: 5},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	clock.Advance(10 * time.Second)
	if got := srv.Table().Snapshot(); got[0].Time != 3610 || got[0].IdleTime != 70 {
		t.Errorf("after 10 s: %+v", got[0])
	}
}

func TestCompatForcesBareNames(t *testing.T) {
	srv, err := New(Config{Compat: srvs.CompatSamba417, Seeds: []Seed{{Client: "10.0.0.5", User: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Table().CnameStyle() != session.CnameBare {
		t.Error("samba-4.17 profile with Windows-style names")
	}
}

// Failed logons are throttled per client host, not per connection: once
// an account's budget from a host is spent (one failure here), even the
// right password from a new connection is refused until it refills.
func TestThrottlePerHost(t *testing.T) {
	r := start(t, Config{Throttle: &ntlm.Throttle{FailureDelay: -1, SourceAccountBurst: 1}, Seeds: []Seed{{Client: "10.0.0.5", User: "carol"}}})
	call := func(pass string) error {
		c, err := dial(t, r.addrs.RPC, "alice", pass, dcerpc.AuthTypeNTLM, dcerpc.AuthLevelIntegrity)
		if err == nil {
			_, err = enum(c, 1)
		}
		return err
	}
	if err := call("AlicePass1"); err != nil {
		t.Fatalf("first logon: %v", err)
	}
	if err := call("wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := call("AlicePass1"); err == nil {
		t.Error("right password accepted during the penalty from another connection")
	}
}

// Cancelling Run's context lets a call in progress finish and be answered
// before the server stops.
func TestDrainOnCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Listeners: Listeners{RPC: l}})
	if err != nil {
		t.Fatal(err)
	}
	slow := dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("6e657473-6573-7369-6f6e-736c6f777731"), Major: 1}
	entered := make(chan struct{})
	err = srv.rpc.Register(dcerpc.Interface{Syntax: slow, Handler: dcerpc.HandlerFunc(func(ctx context.Context, c *dcerpc.Call) ([]byte, error) {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		return []byte("done"), nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rpc := dcerpc.NewClient(conn, dcerpc.ClientConfig{})
	defer rpc.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := rpc.Bind(cctx, slow); err != nil {
		t.Fatal(err)
	}
	answer := make(chan error, 1)
	go func() {
		out, err := rpc.Call(cctx, 0, nil)
		if err == nil && string(out) != "done" {
			err = errors.New("wrong answer " + string(out))
		}
		answer <- err
	}()
	<-entered
	cancel()
	if err := <-answer; err != nil {
		t.Errorf("call in progress during the stop: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
