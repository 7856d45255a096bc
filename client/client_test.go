package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/session"
)

func TestMain(m *testing.M) {
	code := addc.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func admin() client.Options {
	return client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: `NETSESS\` + adminUser, Password: adminPass}, Timeout: 10 * time.Second}
}

func dial(t *testing.T, addr string, o client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), addr, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func users(ss []client.Session) []string {
	var u []string
	for _, s := range ss {
		u = append(u, s.UserName)
	}
	return u
}

// Every level reads the whole table, at every protection and with both
// auth types; the fields a level does not carry stay zero.
func TestEnumLevels(t *testing.T) {
	srv := startServer(t, serverConfig{})
	for _, auth := range []dcerpc.AuthLevel{dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy, dcerpc.AuthLevelConnect} {
		for _, spnego := range []bool{false, true} {
			o := admin()
			o.Auth, o.SPNEGO = auth, spnego
			c := dial(t, srv.addr, o)
			for _, l := range session.Levels() {
				res, err := c.EnumAll(context.Background(), l, client.Filter{})
				if err != nil {
					t.Fatalf("%s spnego=%v level %d: %v", auth, spnego, l, err)
				}
				if res.Level != l || len(res.Sessions) != 4 || res.Pages != 1 {
					t.Fatalf("level %d: %+v", l, res)
				}
				s := res.Sessions[2]
				want := session.Info{ClientName: `\\10.0.0.7`, UserName: "carol", NumOpens: 1, Time: 90, IdleTime: 90,
					UserFlags: session.FlagGuest, ClientType: "Windows 5.0"}.Project(l)
				if diff := cmp.Diff(want, s.Info); diff != "" || s.Level != l {
					t.Errorf("level %d entry (-want +got):\n%s", l, diff)
				}
				if s.ClientHost() != "10.0.0.7" || res.Sessions[1].ClientHost() != "fe80::9" {
					t.Errorf("ClientHost %q %q", s.ClientHost(), res.Sessions[1].ClientHost())
				}
			}
		}
	}
}

// Level auto settles on the first level granted and reports the others.
func TestAutoFallback(t *testing.T) {
	tests := []struct {
		name   string
		cfg    serverConfig
		want   session.Level
		tried  []client.Attempt
		errIs  error
		status session.Status
	}{
		{"modern", serverConfig{}, 502, nil, nil, 0},
		{"policy 0,1=user", serverConfig{policy: "0,1=user"}, 1,
			[]client.Attempt{{502, session.StatusAccessDenied}, {10, session.StatusAccessDenied}}, nil, 0},
		{"samba-like 0x7C", serverConfig{wrap: rpctest.StatusAt(map[uint32]session.Status{502: 0x7C, 10: 0x7C, 2: 0x7C})}, 1,
			[]client.Attempt{{502, session.StatusInvalidLevel}, {10, session.StatusInvalidLevel}}, nil, 0},
		{"not supported", serverConfig{wrap: rpctest.StatusAt(map[uint32]session.Status{502: 0x32, 10: 0x32, 1: 0x7C})}, 0,
			[]client.Attempt{{502, session.StatusNotSupported}, {10, session.StatusNotSupported}, {1, session.StatusInvalidLevel}}, nil, 0},
		{"other status stops", serverConfig{wrap: rpctest.StatusAt(map[uint32]session.Status{502: 8})}, 502, nil, client.ErrStatus, 8},
		{"all denied", serverConfig{policy: "del=admin"}, 0,
			[]client.Attempt{{502, 5}, {10, 5}, {1, 5}, {0, 5}}, client.ErrAccessDenied, 5},
		{"denied then invalid", serverConfig{policy: "1,0=user", wrap: rpctest.StatusAt(map[uint32]session.Status{1: 0x7C, 0: 0x7C})}, 0,
			[]client.Attempt{{502, 5}, {10, 5}, {1, 0x7C}, {0, 0x7C}}, client.ErrAccessDenied, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.cfg)
			o := admin()
			if tc.cfg.policy != "" {
				o.Credentials = client.Credentials{User: plainUser + "@NETSESS", Password: plainPass}
			}
			c := dial(t, srv.addr, o)
			res, err := c.EnumAll(context.Background(), client.LevelAuto, client.Filter{})
			if tc.errIs != nil {
				var ce *client.Error
				if !errors.Is(err, tc.errIs) || !errors.As(err, &ce) || ce.Status != tc.status {
					t.Fatalf("err %v, want %v status %d", err, tc.errIs, tc.status)
				}
				if diff := cmp.Diff(tc.tried, ce.Tried); diff != "" {
					t.Errorf("Tried (-want +got):\n%s", diff)
				}
				if !errors.Is(err, tc.status) {
					t.Errorf("errors.Is(err, %v) false", tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != tc.want || len(res.Sessions) != 4 || res.Sessions[0].Level != tc.want {
				t.Errorf("level %d, %d sessions; want level %d", res.Level, len(res.Sessions), tc.want)
			}
			if diff := cmp.Diff(tc.tried, res.Tried); diff != "" {
				t.Errorf("Tried (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFiltersAndPaging(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := context.Background()
	tests := []struct {
		f      client.Filter
		budget uint32
		want   []string
		pages  int
	}{
		{client.Filter{}, 0, []string{"alice", "alice", "carol", "WKS8$"}, 1},
		{client.Filter{User: "ALICE"}, 0, []string{"alice", "alice"}, 1},
		{client.Filter{Client: "10.0.0.7"}, 0, []string{"carol"}, 1},
		{client.Filter{Client: `\\[fe80::9]`, User: "alice"}, 0, []string{"alice"}, 1},
		{client.Filter{User: "mallory"}, 0, nil, 1},
		{client.Filter{Client: "10.9.9.9"}, 0, nil, 1},
		{client.Filter{}, 1, []string{"alice", "alice", "carol", "WKS8$"}, 4},
		{client.Filter{User: "alice"}, 1, []string{"alice", "alice"}, 2},
	}
	for _, tc := range tests {
		o := admin()
		o.PrefMaxLen = tc.budget
		c := dial(t, srv.addr, o)
		res, err := c.EnumAll(ctx, 1, tc.f)
		if err != nil {
			t.Fatalf("%+v: %v", tc.f, err)
		}
		if diff := cmp.Diff(tc.want, users(res.Sessions)); diff != "" || res.Pages != tc.pages {
			t.Errorf("%+v budget %d: pages %d (want %d), users (-want +got):\n%s", tc.f, tc.budget, res.Pages, tc.pages, diff)
		}
		// The iterator yields the same, and stops early when asked.
		var got []string
		for s, err := range c.Enum(ctx, 1, tc.f) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s.UserName)
			if len(got) == 2 {
				break
			}
		}
		if len(tc.want) >= 2 && !cmp.Equal(got, tc.want[:2]) {
			t.Errorf("iterator: %v", got)
		}
	}
}

func TestEnumIteratorError(t *testing.T) {
	srv := startServer(t, serverConfig{})
	o := admin()
	o.Credentials = client.Credentials{User: plainUser, Password: plainPass}
	c := dial(t, srv.addr, o)
	n := 0
	for _, err := range c.Enum(context.Background(), 502, client.Filter{}) {
		n++
		if !errors.Is(err, client.ErrAccessDenied) {
			t.Errorf("yielded %v", err)
		}
	}
	if n != 1 {
		t.Errorf("%d yields", n)
	}
}

func TestGetInfoAndDelete(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c := dial(t, srv.addr, admin())
	ctx := context.Background()
	s, err := c.GetInfo(ctx, "10.0.0.7", "carol", client.LevelAuto)
	if err != nil || s.Level != 2 || s.ClientType != "Windows 5.0" || s.NumOpens != 1 {
		t.Fatalf("GetInfo auto: %+v, %v", s, err)
	}
	s, err = c.GetInfo(ctx, `\\10.0.0.5`, "alice", 10)
	if err != nil || s.Level != 10 || s.UserName != "alice" || s.Time != 90 {
		t.Fatalf("GetInfo 10: %+v, %v", s, err)
	}
	if _, err := c.GetInfo(ctx, "10.0.0.5", "carol", 1); !errors.Is(err, client.ErrNotFound) || !errors.Is(err, session.StatusClientNameNotFound) {
		t.Errorf("GetInfo no match: %v", err)
	}
	if _, err := c.GetInfo(ctx, "10.0.0.5", "alice", 502); !errors.Is(err, client.ErrInvalidLevel) {
		t.Errorf("GetInfo 502: %v", err)
	}
	if err := c.Delete(ctx, "", ""); !errors.Is(err, client.ErrStatus) || !errors.Is(err, session.StatusInvalidParameter) {
		t.Errorf("Delete everything: %v", err)
	}
	if err := c.Delete(ctx, "10.0.0.7", ""); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := c.Delete(ctx, "10.0.0.7", ""); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Delete again: %v", err)
	}
	if srv.table.Len() != 3 {
		t.Errorf("%d sessions left", srv.table.Len())
	}
	bob := dial(t, srv.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: plainUser, Password: plainPass}})
	if err := bob.Delete(ctx, "", "alice"); !errors.Is(err, client.ErrAccessDenied) {
		t.Errorf("bob deletes: %v", err)
	}
}

// Each failure has its kind, and the message says which.
func TestFailureKinds(t *testing.T) {
	good := startServer(t, serverConfig{})
	open := startServer(t, serverConfig{policy: "open"})
	fault := startServer(t, serverConfig{wrap: rpctest.Faulting(0x6F7)})
	silent := rpctest.Silent(t)
	closed := rpctest.ClosedPort(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		addr   string
		o      client.Options
		kind   client.Kind
		errIs  error
		inText string
	}{
		{"unreachable", closed, admin(), client.KindUnreachable, client.ErrUnreachable, "unreachable"},
		{"timeout", silent, client.Options{Transport: client.TransportTCP, Credentials: admin().Credentials, Timeout: 200 * time.Millisecond}, client.KindTimeout, client.ErrTimeout, "timeout"},
		{"wrong password", good.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: adminUser, Password: "nope"}}, client.KindLogonFailure, client.ErrLogonFailure, "logon failure"},
		{"wrong password spnego", good.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: adminUser, Password: "nope"}, SPNEGO: true}, client.KindLogonFailure, client.ErrLogonFailure, "logon failure"},
		{"unknown user", good.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: "mallory", Password: "x"}, Auth: dcerpc.AuthLevelPrivacy}, client.KindLogonFailure, client.ErrLogonFailure, "logon failure"},
		{"access denied", good.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: plainUser, Password: plainPass}}, client.KindAccessDenied, session.StatusAccessDenied, "access denied (ERROR_ACCESS_DENIED, 5) at level 502"},
		{"anonymous denied", good.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{Anonymous: true}}, client.KindAccessDenied, client.ErrAccessDenied, "at level 502"},
		{"fault", fault.addr, admin(), client.KindFault, dcerpc.ErrBadStub, "the RPC failed: fault 0x000006f7"},
		{"anonymous open", open.addr, client.Options{Transport: client.TransportTCP}, 0, nil, ""},
		{"hash", good.addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: adminUser, NTHash: hash(adminPass)}}, 0, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var err error
			c, err := client.Dial(ctx, tc.addr, tc.o)
			if err == nil {
				_, err = c.EnumAll(ctx, 502, client.Filter{})
				c.Close()
			}
			if tc.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if client.KindOf(err) != tc.kind || !errors.Is(err, tc.errIs) || !strings.Contains(err.Error(), tc.inText) {
				t.Errorf("got %v (kind %v), want kind %v, %v, text %q", err, client.KindOf(err), tc.kind, tc.errIs, tc.inText)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func hash(p string) []byte {
	h := ntlmHash(p)
	return h[:]
}

func TestCanceled(t *testing.T) {
	silent := rpctest.Silent(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := client.Dial(ctx, silent, admin())
	if !errors.Is(err, client.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}

func TestMapper(t *testing.T) {
	srv := startServer(t, serverConfig{})
	_, port, _ := net.SplitHostPort(srv.addr)
	var asked string
	o := admin()
	o.MapperAddr = "127.0.0.1:1"
	o.Mapper = func(_ context.Context, addr string) (int, error) {
		asked = addr
		var p int
		for _, r := range port {
			p = p*10 + int(r-'0')
		}
		return p, nil
	}
	c := dial(t, "127.0.0.1", o)
	if _, err := c.EnumAll(context.Background(), 0, client.Filter{}); err != nil || asked != "127.0.0.1:1" {
		t.Fatalf("%v, asked %q", err, asked)
	}
	o.MapperAddr = ""
	o.Mapper = func(context.Context, string) (int, error) { return 0, errors.New("no such endpoint") }
	if _, err := client.Dial(context.Background(), "127.0.0.1", o); !errors.Is(err, client.ErrUnreachable) && !strings.Contains(err.Error(), "127.0.0.1:135") {
		t.Errorf("mapper failure: %v", err)
	}
	// The built-in mapper client: a mapper on a closed port is
	// unreachable, a real one answers.
	o.Mapper = nil
	o.MapperAddr = rpctest.ClosedPort(t)
	if _, err := client.Dial(context.Background(), "127.0.0.1", o); !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), "endpoint mapper") {
		t.Errorf("mapper on a closed port: %v", err)
	}
	o.MapperAddr = startMapper(t, srv.addr)
	c = dial(t, "127.0.0.1", o)
	if _, err := c.EnumAll(context.Background(), 0, client.Filter{}); err != nil {
		t.Fatalf("through epm: %v", err)
	}
}

func TestDialArguments(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		server string
		o      client.Options
		text   string
	}{
		{"", client.Options{Transport: client.TransportTCP}, "no server"},
		{"host:99999", client.Options{Transport: client.TransportTCP}, "bad port"},
		{"host:1", client.Options{Transport: "udp"}, "unknown transport"},
		{"host:1", client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{Anonymous: true, User: "x"}}, "anonymous"},
		{"host:1", client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{User: "x", NTHash: []byte{1}}}, "NT hash"},
	} {
		if _, err := client.Dial(ctx, tc.server, tc.o); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Dial(%q, %+v): %v, want %q", tc.server, tc.o, err, tc.text)
		}
	}
}

func TestParseNTHash(t *testing.T) {
	h := hash("x")
	for _, s := range []string{"%x", "aad3b435b51404eeaad3b435b51404ee:%x", "%U"} {
		got, err := client.ParseNTHash(strings.ReplaceAll(strings.ReplaceAll(s, "%x", hexOf(h)), "%U", strings.ToUpper(hexOf(h))))
		if err != nil || !cmp.Equal(got, h) {
			t.Errorf("%s: %x %v", s, got, err)
		}
	}
	for _, s := range []string{"", "00", "zz" + strings.Repeat("0", 30)} {
		if _, err := client.ParseNTHash(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// The per-call deadline covers each call after the bind too: a server that
// binds and then never answers a request is a timeout, not a hang.
func TestCallTimeout(t *testing.T) {
	stall := func(dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(ctx context.Context, _ *dcerpc.Call) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}
	srv := startServer(t, serverConfig{wrap: stall})
	o := admin()
	o.Timeout = 300 * time.Millisecond
	c := dial(t, srv.addr, o)
	start := time.Now()
	_, err := c.EnumAll(context.Background(), client.LevelAuto, client.Filter{})
	var ce *client.Error
	if !errors.Is(err, client.ErrTimeout) || !errors.As(err, &ce) || ce.Level != 502 || !ce.HasLevel {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

// One Client serves several goroutines; their calls are serialised on the
// connection and each enumeration pages independently.
func TestConcurrentCalls(t *testing.T) {
	srv := startServer(t, serverConfig{})
	o := admin()
	o.PrefMaxLen = 1 // one entry per page: the calls interleave
	c := dial(t, srv.addr, o)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			l := session.Levels()[i%5]
			res, err := c.EnumAll(context.Background(), l, client.Filter{})
			if err == nil && (len(res.Sessions) != 4 || res.Pages != 4) {
				err = fmt.Errorf("level %d: %d sessions in %d pages", l, len(res.Sessions), res.Pages)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
