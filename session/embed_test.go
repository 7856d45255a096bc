package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The restore fields give a session its age, idle time and opens directly.
func TestSpecRestoresAgeIdleAndOpens(t *testing.T) {
	tb, clk := newTestTable(t, Options{})
	now := tb.Now()
	if !now.Equal(t0) {
		t.Fatalf("Now = %v, want the clock's %v", now, t0)
	}
	specs := []Spec{
		{Client: "10.0.0.1", User: "restored", Created: now.Add(-time.Hour), LastActive: now.Add(-time.Minute), Opens: 7},
		{Client: "10.0.0.2", User: "idle-since-setup", Created: now.Add(-time.Hour)},
		{Client: "10.0.0.3", User: "active-before-setup", Created: now.Add(-time.Hour), LastActive: now.Add(-2 * time.Hour)},
		{Client: "10.0.0.4", User: "fresh"},
		{Client: "10.0.0.5", User: "future", Created: now.Add(time.Hour)},
		{Client: "10.0.0.6", User: "ancient", Created: now.Add(-200 * 365 * 24 * time.Hour)},
	}
	var ss []*Session
	for _, sp := range specs {
		ss = append(ss, mustOpen(t, tb, sp))
	}
	clk.Advance(10 * time.Second)
	want := []struct{ time, idle, opens uint32 }{
		{3610, 70, 7},
		{3610, 3610, 0},
		{3610, 3610, 0},
		{10, 10, 0},
		{0, 0, 0},
		{TimeUnknown, TimeUnknown, 0},
	}
	for i, s := range ss {
		in := s.Info()
		if in.Time != want[i].time || in.IdleTime != want[i].idle || in.NumOpens != want[i].opens {
			t.Errorf("%s: time %d idle %d opens %d, want %+v", in.UserName, in.Time, in.IdleTime, in.NumOpens, want[i])
		}
	}
	// A restored count behaves as one built with AddOpen.
	ss[0].RemoveOpen()
	if n := ss[0].Info().NumOpens; n != 6 {
		t.Errorf("after RemoveOpen: %d opens, want 6", n)
	}
}

type event struct {
	what, user string
	why        CloseReason
}

// recorder is an Observer that notes events and, from inside its
// callbacks, reads the table: it would deadlock if a lock were held.
type recorder struct {
	tb     *Table
	mu     sync.Mutex
	events []event
}

func (r *recorder) OnOpen(s *Session) {
	_ = r.tb.Len()
	r.mu.Lock()
	r.events = append(r.events, event{"open", s.Info().UserName, 0})
	r.mu.Unlock()
}

func (r *recorder) OnClose(s *Session, why CloseReason) {
	_ = r.tb.Snapshot()
	r.mu.Lock()
	r.events = append(r.events, event{"close", s.Info().UserName, why})
	r.mu.Unlock()
}

func TestObserverSeesEveryOpenAndClose(t *testing.T) {
	rec := &recorder{}
	tb, _ := newTestTable(t, Options{Observer: rec})
	rec.tb = tb
	var spec []string
	a := mustOpen(t, tb, Spec{Client: "10.0.0.1", User: "a"})
	mustOpen(t, tb, Spec{Client: "10.0.0.2", User: "b", OnClose: func() { spec = append(spec, "b") }})
	mustOpen(t, tb, Spec{Client: "10.0.0.3", User: "c"})
	a.Close()
	a.Close() // twice: reported once
	if n, err := tb.Delete(context.Background(), admin, `\\10.0.0.2`, ""); n != 1 || err != nil {
		t.Fatalf("delete: %d %v", n, err)
	}
	if _, err := tb.Delete(context.Background(), plain, `\\10.0.0.3`, ""); !errors.Is(err, StatusAccessDenied) {
		t.Fatalf("refused delete: %v", err)
	}
	tb.Close()
	want := []event{
		{"open", "a", 0}, {"open", "b", 0}, {"open", "c", 0},
		{"close", "a", CloseLogoff},
		{"close", "b", CloseDeleted},
		{"close", "c", CloseTableClosed},
	}
	if diff := cmp.Diff(want, rec.events, cmp.AllowUnexported(event{})); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if fmt.Sprint(spec) != "[b]" {
		t.Errorf("Spec.OnClose calls %v, want [b] (Delete only)", spec)
	}
	if _, err := tb.Open(Spec{Client: "10.0.0.9"}); !errors.Is(err, ErrTableClosed) || len(rec.events) != len(want) {
		t.Errorf("open after close: %v, %d events", err, len(rec.events))
	}
	for r, s := range map[CloseReason]string{CloseLogoff: "logoff", CloseDeleted: "deleted", CloseTableClosed: "table closed"} {
		if r.String() != s {
			t.Errorf("%d: %q", r, r.String())
		}
	}
}

// A session removed while OnOpen is still running is reported closed
// after OnOpen returns, never before.
func TestObserverOpenPrecedesClose(t *testing.T) {
	var mu sync.Mutex
	seen := map[*Session][]string{}
	note := func(s *Session, what string) {
		mu.Lock()
		seen[s] = append(seen[s], what)
		mu.Unlock()
	}
	var tb *Table
	obs := ObserverFuncs{
		Open: func(s *Session) {
			if s.Info().UserName == "self" {
				s.Close() // re-entrant: the close waits for this OnOpen
			}
			time.Sleep(time.Millisecond)
			note(s, "open")
		},
		Close: func(s *Session, why CloseReason) { note(s, "close "+why.String()) },
	}
	tb = New(Options{Observer: obs, Policy: PolicyOpen()})
	if _, err := tb.Open(Spec{Client: "10.0.0.1", User: "self"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		user := fmt.Sprint("u", i)
		wg.Go(func() {
			if _, err := tb.Open(Spec{Client: "10.0.0.2", User: user}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			for range 50 {
				if n, _ := tb.Delete(context.Background(), anon, "", user); n > 0 {
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	tb.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 21 {
		t.Fatalf("%d sessions observed, want 21", len(seen))
	}
	for s, ev := range seen {
		if len(ev) != 2 || ev[0] != "open" {
			t.Errorf("%s: %v, want open then one close", s.Info().UserName, ev)
		}
	}
	if ev := seen[firstUser(seen, "self")]; ev[1] != "close logoff" {
		t.Errorf("self-closing session: %v", ev)
	}
}

func firstUser(m map[*Session][]string, user string) *Session {
	for s := range m {
		if s.Info().UserName == user {
			return s
		}
	}
	return nil
}

// An Authorizer sees the caller, the action and the level, and what it
// returns is what the caller gets.
func TestAuthorizerFunc(t *testing.T) {
	type ask struct {
		user  string
		a     Action
		level Level
	}
	var asked []ask
	errDirectory := errors.New("directory unreachable")
	auth := AuthorizerFunc(func(ctx context.Context, c Caller, a Action, l Level) error {
		asked = append(asked, ask{c.User, a, l})
		switch {
		case c.User == "down":
			return errDirectory
		case c.User == "nosy" && l == Level502:
			return StatusNotSupported
		case c.User == "nosy" && a == ActionDelete:
			return StatusAccessDenied
		}
		return nil
	})
	tb, _ := newTestTable(t, Options{Authorizer: auth, Policy: PolicyOpen()})
	mustOpen(t, tb, Spec{Client: "10.0.0.5", User: "alice"})
	ctx := context.Background()
	nosy := Caller{User: "nosy"}
	if _, err := tb.Enum(ctx, nosy, EnumQuery{Level: Level10}); err != nil {
		t.Errorf("level 10: %v", err)
	}
	if _, err := tb.Enum(ctx, nosy, EnumQuery{Level: Level502}); err != StatusNotSupported {
		t.Errorf("level 502: %v, want the authorizer's status", err)
	}
	if _, err := tb.GetInfo(ctx, nosy, `\\10.0.0.5`, "alice", Level2); err != nil {
		t.Errorf("getinfo: %v", err)
	}
	if _, err := tb.Delete(ctx, nosy, `\\10.0.0.5`, ""); err != StatusAccessDenied {
		t.Errorf("delete: %v", err)
	}
	if _, err := tb.Enum(ctx, Caller{User: "down"}, EnumQuery{Level: Level0}); !errors.Is(err, errDirectory) {
		t.Errorf("failing authorizer: %v", err)
	}
	if _, err := tb.Enum(ctx, nosy, EnumQuery{Level: 3}); err != StatusInvalidLevel {
		t.Errorf("level 3: %v (syntax comes before access)", err)
	}
	want := []ask{{"nosy", ActionEnum, Level10}, {"nosy", ActionEnum, Level502}, {"nosy", ActionGetInfo, Level2}, {"nosy", ActionDelete, 0}, {"down", ActionEnum, Level0}}
	if diff := cmp.Diff(want, asked, cmp.AllowUnexported(ask{})); diff != "" {
		t.Errorf("asked (-want +got):\n%s", diff)
	}
	if a, ok := tb.Authorizer().(AuthorizerFunc); !ok || a == nil {
		t.Errorf("Authorizer() = %T", tb.Authorizer())
	}
}

// The presets are Authorizers that decide exactly as their tables say.
func TestPolicyIsAnAuthorizer(t *testing.T) {
	ctx := context.Background()
	for _, p := range []Policy{PolicyModern(), PolicyLegacy(), PolicyOpen()} {
		var a Authorizer = p
		for _, c := range []Caller{admin, operator, plain, guest, anon} {
			for _, l := range Levels() {
				op, _ := EnumOp(l)
				for _, act := range []Action{ActionEnum, ActionGetInfo} {
					err := a.Authorize(ctx, c, act, l)
					if (err == nil) != p.Allowed(op, ClassOf(c)) || (err != nil && err != StatusAccessDenied) {
						t.Errorf("%s %v %s level %d: %v", p.Name(), ClassOf(c), act, l, err)
					}
				}
			}
			err := a.Authorize(ctx, c, ActionDelete, 0)
			if (err == nil) != p.Allowed(OpDelete, ClassOf(c)) {
				t.Errorf("%s %v delete: %v", p.Name(), ClassOf(c), err)
			}
		}
	}
}

// Snapshot reads every session with no caller, whatever the policy.
func TestSnapshotIsTrusted(t *testing.T) {
	tb, clk := newTestTable(t, Options{Policy: PolicyModern(), Cname: CnameBare})
	mustOpen(t, tb, Spec{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`, Opens: 2})
	gone := mustOpen(t, tb, Spec{Client: "10.0.0.6", User: "bob"})
	mustOpen(t, tb, Spec{Client: "fe80::1%eth0", User: "carol", Guest: true})
	gone.Close()
	clk.Advance(time.Minute)
	if _, err := tb.Enum(context.Background(), anon, EnumQuery{Level: Level502}); err != StatusAccessDenied {
		t.Fatalf("anonymous enum: %v", err)
	}
	want := []Info{
		{ClientName: "10.0.0.5", UserName: "alice", NumOpens: 2, Time: 60, IdleTime: 60, Transport: `\Device\NetbiosSmb`},
		{ClientName: "fe80::1", UserName: "carol", Time: 60, IdleTime: 60, UserFlags: FlagGuest},
	}
	if diff := cmp.Diff(want, tb.Snapshot()); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
}

// A done context stops a query before it does anything.
func TestQueriesHonourContext(t *testing.T) {
	tb, _ := newTestTable(t, Options{Policy: PolicyOpen()})
	mustOpen(t, tb, Spec{Client: "10.0.0.5", User: "alice"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tb.Enum(ctx, admin, EnumQuery{Level: Level0}); !errors.Is(err, context.Canceled) {
		t.Errorf("enum: %v", err)
	}
	if _, err := tb.GetInfo(ctx, admin, `\\10.0.0.5`, "alice", Level0); !errors.Is(err, context.Canceled) {
		t.Errorf("getinfo: %v", err)
	}
	if n, err := tb.Delete(ctx, admin, `\\10.0.0.5`, ""); !errors.Is(err, context.Canceled) || n != 0 || tb.Len() != 1 {
		t.Errorf("delete: %d %v, %d left", n, err, tb.Len())
	}
}

// *Table is the Sessions the srvs handler serves.
func TestTableIsSessions(t *testing.T) {
	var s Sessions = New(Options{})
	if _, err := s.Enum(context.Background(), anon, EnumQuery{Level: Level0}); err != StatusAccessDenied {
		t.Fatalf("through the interface: %v", err)
	}
}
