package fleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/session"
)

func base(third byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 1, third, 1}) }

func TestParseMix(t *testing.T) {
	m, err := fleet.ParseMix("normal=90, denied=5,hang")
	if err != nil || m.String() != "normal=90,denied=5,hang=1" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"", "normal=0", "teapot=1", "normal=x", "normal=-1", "normal=1,normal=2"} {
		if _, err := fleet.ParseMix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, bad := range []fleet.Mix{{{Behavior: "teapot", Weight: 1}}, {{Behavior: fleet.Normal, Weight: -1}, {Behavior: fleet.Hang, Weight: 2}}, {{Behavior: fleet.Normal}}} {
		if f, err := fleet.Start(context.Background(), fleet.Config{Hosts: 2, Mix: bad, Base: base(47)}); err == nil {
			f.Close()
			t.Errorf("mix %v accepted", bad)
		}
	}
	if _, err := fleet.Start(context.Background(), fleet.Config{Hosts: 2, Behaviors: []fleet.Behavior{fleet.Normal}, Base: base(47)}); err == nil {
		t.Error("two hosts with one behaviour accepted")
	}
}

// A fleet follows its mix (every behaviour with a weight gets a host),
// puts host i at Base+i on one port, serves the answering hosts with
// their sessions, refuses connections to Refuse hosts, and is the same
// for the same seed.
func TestFleetLayout(t *testing.T) {
	ctx := context.Background()
	cfg := fleet.Config{Hosts: 100, Base: base(40), Seed: 7}
	f, err := fleet.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	count := f.Count()
	for _, sh := range fleet.DefaultMix() {
		if count[sh.Behavior] != sh.Weight {
			t.Errorf("%s: %d hosts, want %d", sh.Behavior, count[sh.Behavior], sh.Weight)
		}
	}
	users := map[string]int{}
	for i, h := range f.Hosts {
		want, _ := netip.ParseAddr("127.1.40." + strconv.Itoa(i+1))
		if h.Addr != want || h.Target != net.JoinHostPort(want.String(), strconv.Itoa(f.Port)) {
			t.Fatalf("host %d at %v (%s)", i, h.Addr, h.Target)
		}
		for _, s := range h.Sessions {
			users[s.User]++
			if s.Idle > s.Time {
				t.Errorf("%s: idle %d > time %d", h.Target, s.Idle, s.Time)
			}
		}
	}
	shared, machines := 0, 0
	for u, n := range users {
		if n > 1 {
			shared++
		}
		if strings.HasSuffix(u, "$") {
			machines++
		}
	}
	if shared < 5 || machines == 0 {
		t.Errorf("users %v: want users shared across servers and machine accounts", users)
	}

	// The same seed, the same fleet (on other addresses).
	cfg.Base = base(41)
	g, err := fleet.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for i := range f.Hosts {
		a, b := f.Hosts[i], g.Hosts[i]
		if a.Behavior != b.Behavior || len(a.Sessions) != len(b.Sessions) || (len(a.Sessions) > 0 && a.Sessions[0] != b.Sessions[0]) {
			t.Fatalf("host %d differs between two fleets of one seed", i)
		}
	}

	for _, h := range f.Hosts {
		c, err := net.DialTimeout("tcp", h.Target, 2*time.Second)
		switch h.Behavior {
		case fleet.Refuse:
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("%s (refuse): %v", h.Target, err)
			}
		default:
			if err != nil {
				t.Errorf("%s (%s): %v", h.Target, h.Behavior, err)
			}
		}
		if c != nil {
			c.Close()
		}
	}
}

// Every answering behaviour answers a client as Expect says, for the
// scan account; the administrator is served even by a Denied host.
func TestFleetAnswers(t *testing.T) {
	bs := []fleet.Behavior{fleet.Normal, fleet.Denied, fleet.Samba, fleet.Slow}
	f, err := fleet.Start(context.Background(), fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(42), SlowDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enum := func(target, user, pass string) (*client.Result, error) {
		c, err := client.Dial(ctx, target, client.Options{Credentials: client.Credentials{User: user, Password: pass}})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.EnumAll(ctx, client.LevelAuto, client.Filter{})
	}
	for _, h := range f.Hosts {
		exp := fleet.Expect(h.Behavior)
		res, err := enum(h.Target, fleet.ScanUser, fleet.ScanPassword)
		if got := client.ReasonOf(err); got != exp.Reason {
			t.Errorf("%s: %v, want %q", h.Behavior, err, exp.Reason)
			continue
		}
		if exp.Collected && (res.Level != exp.Level || len(res.Sessions) != len(h.Sessions)+1) {
			t.Errorf("%s: level %d, %d sessions, want %d and %d+1", h.Behavior, res.Level, len(res.Sessions), exp.Level, len(h.Sessions))
		}
		if h.Behavior == fleet.Denied {
			res, err := enum(h.Target, fleet.AdminUser, fleet.AdminPassword)
			if err != nil || res.Level != session.Level502 {
				t.Errorf("denied host to the administrator: %v", err)
			}
		}
	}
}

// The ground truth lists every host with its expectation and sessions.
func TestFleetTruth(t *testing.T) {
	f, err := fleet.Start(context.Background(), fleet.Config{Hosts: 7, Behaviors: fleet.Behaviors(), Base: base(43), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	if err := f.WriteTruth(&b); err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Port     int    `json:"port"`
		ScanUser string `json:"scan_user"`
		Hosts    []struct {
			Target, Behavior, Reason string
			Collected                bool
			Level                    uint32
			LevelsRefused            []struct{ Level, Status uint32 } `json:"levels_refused"`
			Sessions                 []fleet.Session
		}
	}
	if err := json.Unmarshal(b.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Port != f.Port || tr.ScanUser != fleet.ScanUser || len(tr.Hosts) != 7 {
		t.Fatalf("truth %+v", tr)
	}
	for i, h := range tr.Hosts {
		exp := fleet.Expect(f.Hosts[i].Behavior)
		if h.Target != f.Hosts[i].Target || h.Behavior != string(f.Hosts[i].Behavior) || h.Collected != exp.Collected ||
			h.Reason != string(exp.Reason) || len(h.LevelsRefused) != len(exp.LevelsRefused) || len(h.Sessions) != len(f.Hosts[i].Sessions) {
			t.Errorf("host %d: %+v", i, h)
		}
	}
}

// A fleet that cannot fit the descriptor limit is refused before it
// listens, with a message that says what is needed.
func TestFleetTooManyFiles(t *testing.T) {
	_, hard, _, err := fleet.RaiseFileLimit()
	if err != nil {
		t.Skip(err)
	}
	_, err = fleet.Start(context.Background(), fleet.Config{Hosts: 10, Base: base(44), ExpectedConns: int(hard)})
	if !errors.Is(err, fleet.ErrTooManyFiles) || !strings.Contains(err.Error(), "10 hosts need") {
		t.Errorf("%v", err)
	}
	if _, err := fleet.Start(context.Background(), fleet.Config{Hosts: fleet.MaxHosts + 1}); err == nil {
		t.Error("too many hosts accepted")
	}
	if _, err := fleet.Start(context.Background(), fleet.Config{Hosts: 2, Base: netip.MustParseAddr("127.255.255.255")}); err == nil {
		t.Error("a fleet leaving 127/8 accepted")
	}
}

// Asked for port 445 where it is taken, the fleet serves on another port
// and says so.
func TestFleetStandardPortTaken(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("port 445 needs root")
	}
	b := base(45)
	l, err := net.Listen("tcp4", net.JoinHostPort(b.String(), "445"))
	if err == nil {
		defer l.Close()
	}
	f, err := fleet.Start(context.Background(), fleet.Config{Hosts: 2, Base: b, TryStandardPort: true, Behaviors: []fleet.Behavior{fleet.Refuse, fleet.Normal}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Port == 445 || len(f.Notes) == 0 || !strings.Contains(strings.Join(f.Notes, "; "), "port 445 is not available") {
		t.Errorf("port %d, notes %q", f.Port, f.Notes)
	}
}

// Closing the context stops the fleet: its listeners are closed.
func TestFleetStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f, err := fleet.Start(ctx, fleet.Config{Hosts: 3, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Hang, fleet.Close}, Base: base(46)})
	if err != nil {
		t.Fatal(err)
	}
	held, err := net.Dial("tcp", f.Hosts[1].Target)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", f.Hosts[0].Target); err != nil {
			break
		} else {
			c.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.Close()
	held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a hung connection survived the fleet: %v", err)
	}
}

// A fleet as small as its mix has every behaviour of the mix.
func TestFleetSmallMix(t *testing.T) {
	for _, n := range []int{7, 20} {
		f, err := fleet.Start(context.Background(), fleet.Config{Hosts: n, Base: base(48), Seed: 3, MaxSessions: -1})
		if err != nil {
			t.Fatal(err)
		}
		count := f.Count()
		f.Close()
		for _, b := range fleet.Behaviors() {
			if count[b] == 0 {
				t.Errorf("%d hosts: no %s host (%v)", n, b, count)
			}
		}
		if count[fleet.Normal] < n-len(fleet.Behaviors())+1 {
			t.Errorf("%d hosts: %v", n, count)
		}
	}
}

// A host's table changes while it serves, and an outage (hang, close)
// makes it dark until it is lifted, its sessions kept.
func TestFleetOutageAndSessions(t *testing.T) {
	f, err := fleet.Start(context.Background(), fleet.Config{Hosts: 2, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Hang}, Base: base(43), MaxSessions: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enum := func(timeout time.Duration) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err := client.Dial(ctx, f.Hosts[0].Target, client.Options{Credentials: client.Credentials{User: fleet.ScanUser, Password: fleet.ScanPassword}})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		res, err := c.EnumAll(ctx, session.Level10, client.Filter{})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, s := range res.Sessions {
			if s.UserName != fleet.ScanUser {
				out = append(out, s.ClientHost()+"|"+s.UserName+"|"+strconv.Itoa(int(s.Time/3600)))
			}
		}
		return out, nil
	}
	alice, err := f.AddSession(0, fleet.Session{Client: "10.20.0.1", User: "alice", Time: 7200})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := enum(10 * time.Second); err != nil || strings.Join(got, ",") != "10.20.0.1|alice|2" {
		t.Fatalf("after AddSession: %v %v", got, err)
	}
	if _, err := f.AddSession(1, fleet.Session{User: "x"}); !errors.Is(err, fleet.ErrNoTable) {
		t.Errorf("AddSession on a hanging host: %v", err)
	}
	// Refuse closes the socket and Hang or Close after it listen again.
	for _, b := range []fleet.Behavior{fleet.Hang, fleet.Refuse, fleet.Close, fleet.Refuse, fleet.Refuse} {
		if err := f.SetOutage(0, b); err != nil {
			t.Fatal(err)
		}
		_, err := enum(300 * time.Millisecond)
		if r := client.ReasonOf(err); r != fleet.Expect(b).Reason {
			t.Errorf("outage %s: %v (reason %q, want %q)", b, err, r, fleet.Expect(b).Reason)
		}
	}
	if err := f.SetOutage(0, fleet.Normal); err != nil {
		t.Fatal(err)
	}
	alice.Close()
	if got, err := enum(10 * time.Second); err != nil || len(got) != 0 {
		t.Fatalf("back, alice closed: %v %v", got, err)
	}
	if f.SetOutage(1, fleet.Hang) == nil || f.SetOutage(0, fleet.Slow) == nil {
		t.Error("SetOutage accepted a host that does not serve or a behaviour it cannot take")
	}
}
