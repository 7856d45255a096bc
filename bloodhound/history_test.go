package bloodhound_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/sqlitestore"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// historyWorld is a history in SQLite: six servers observed before,
// within and after the window [at(0), at(1000)).
type historyWorld struct {
	st    history.Store
	epoch time.Time
}

func (w *historyWorld) at(sec int) time.Time { return w.epoch.Add(time.Duration(sec) * time.Second) }

func srv(n int) history.Server {
	return history.Server{Target: fmt.Sprintf("fs%d.example.test", n), Address: fmt.Sprintf("10.0.0.%d", n)}
}

func info(client, user string, age uint32) session.Info {
	return session.Info{ClientName: client, UserName: user, Time: age, NumOpens: 1}
}

func newHistoryWorld(t *testing.T) *historyWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "history.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &historyWorld{st: st, epoch: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)}
	ok := func(n, sec int, ss ...session.Info) history.Observation {
		return history.Observation{Server: srv(n), ObservedAt: w.at(sec), Collected: true, Level: 10, Sessions: ss}
	}
	failed := func(n, sec int, reason string) history.Observation {
		return history.Observation{Server: srv(n), ObservedAt: w.at(sec), Reason: reason}
	}
	rounds := [][]history.Observation{
		// Before the window: carol on fs1 (ended before it), gina on fs5.
		{ok(1, -7200, info(`\\10.20.0.9`, "carol", 10)), ok(5, -7200, info("10.20.0.3", "gina", 10))},
		{ok(1, -3600)},
		// Within it: alice and bob on fs1 with a machine account, dave on
		// fs2, erin (IPv6, no reverse name) and frank on fs3.
		{ok(1, 100, info(`\\10.20.0.5`, "alice", 50), info("10.20.0.6", `EXAMPLE\bob`, 20), info("10.20.0.9", "WS9$", 30)),
			ok(2, 100, info("10.20.0.7", "dave", 40)),
			ok(3, 150, info("[fd00::1]", "erin", 5), info("10.20.0.8", "frank", 5))},
		// bob has gone; alice reconnected (a second session, the same
		// pair); fs2 now denies, fs4 times out.
		{ok(1, 200, info(`\\10.20.0.5`, "alice", 150), info(`\\10.20.0.5`, "alice", 5), info("10.20.0.9", "WS9$", 130)),
			failed(2, 300, string(client.ReasonAccessDenied)), failed(4, 300, string(client.ReasonTimeout))},
		// After the window: henry on fs6.
		{ok(6, 1500, info("10.20.0.4", "henry", 5))},
	}
	for _, r := range rounds {
		if _, err := st.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// lastRound is the scan's last round over fs1, fs2, fs4 and fs7 (which
// it interrupted); fs3 was not in it.
func (w *historyWorld) lastRound() []*scan.Result {
	res := func(n int, collected bool, reason client.Reason) *scan.Result {
		return &scan.Result{Target: srv(n).Target, Address: srv(n).Address, ObservedAt: w.at(200), Collected: collected,
			Failure: client.Failure{Reason: reason}, Level: 10, HasLevel: collected}
	}
	return []*scan.Result{res(1, true, ""), res(2, false, client.ReasonAccessDenied), res(4, false, client.ReasonTimeout),
		res(7, false, client.ReasonCanceled)}
}

// readBack writes the collection's file and reads it back strictly.
func readBack(t *testing.T, bh *bloodhound.Computers) (*bloodhound.File, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := bh.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	file, err := bloodhound.Decode(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	return file, buf.Bytes()
}

// TestSessionsSeen: the sessions an observation listed within the
// window, none before or after it.
func TestSessionsSeen(t *testing.T) {
	w := newHistoryWorld(t)
	got, err := bloodhound.SessionsSeen(context.Background(), w.st, w.at(0), w.at(1000))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Server.Target[:3]+" "+s.User)
	}
	want := []string{"fs1 alice", "fs1 WS9$", `fs1 EXAMPLE\bob`, "fs1 alice", "fs2 dave", "fs3 erin", "fs3 frank"}
	// Sessions of one server that started in the same second come in
	// either order.
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("seen %q, want %q", names, want)
	}
	// A window with no end takes henry too; one before everything
	// nothing.
	all, err := bloodhound.SessionsSeen(context.Background(), w.st, w.at(0), time.Time{})
	if err != nil || len(all) != len(want)+1 {
		t.Errorf("open window: %d sessions, %v", len(all), err)
	}
	none, err := bloodhound.SessionsSeen(context.Background(), w.st, w.at(-100000), w.at(-99000))
	if err != nil || len(none) != 0 {
		t.Errorf("empty window: %d sessions, %v", len(none), err)
	}
}

// TestFromHistory: the computers file of the window, read back strictly:
// each server's outcome is its last run's (fs2 denied, fs4 timed out,
// fs3 absent from the run and collected by the history), the pairs of a
// collected one every session seen in the window, deduplicated (alice's
// two sessions are one pair), without the sessions seen before or after
// the window (carol, gina, henry), machine accounts or what did not
// resolve (erin); fs2, not collected, carries none (dave's is withheld).
func TestFromHistory(t *testing.T) {
	w := newHistoryWorld(t)
	dir := &fakeDir{sids: map[string]string{}, missing: map[string]bool{}}
	res := directory.NewResolver(dir, directory.ResolverConfig{Collector: `EXAMPLE\scanner`, Reverse: reverse})
	ctx := context.Background()
	bh, err := bloodhound.FromHistory(ctx, w.st, res, nil, w.lastRound(), w.at(0), w.at(1000),
		bloodhound.Options{CollectorVersion: "test", Domain: dir.Domain()})
	if err != nil {
		t.Fatal(err)
	}
	file, raw := readBack(t, bh)
	sid := func(name string) string { s, _ := dir.AccountSID(ctx, name); return s }
	pair := func(user, ws string) bloodhound.SessionPair {
		return bloodhound.SessionPair{UserSID: sid(user), ComputerSID: sid(ws + "$")}
	}
	type want struct {
		collected bool
		reason    string
		pairs     []bloodhound.SessionPair
	}
	wants := map[string]want{
		sid("fs1$"): {true, "", []bloodhound.SessionPair{pair("alice", "ws0-5"), pair("bob", "ws0-6")}},
		sid("fs2$"): {false, "ErrorAccessDenied", nil},
		sid("fs3$"): {true, "", []bloodhound.SessionPair{pair("frank", "ws0-8")}},
		sid("fs4$"): {false, "Timeout", nil},
	}
	if len(file.Data) != len(wants) || file.Meta.Count != len(wants) {
		t.Fatalf("%d records (meta %d), want %d:\n%s", len(file.Data), file.Meta.Count, len(wants), raw)
	}
	for _, rec := range file.Data {
		wt, ok := wants[rec.ObjectIdentifier]
		if !ok {
			t.Errorf("record %s (%s) is none of fs1-fs4", rec.ObjectIdentifier, rec.Properties.Name)
			continue
		}
		s := rec.Sessions
		reason := ""
		if s.FailureReason != nil {
			reason = *s.FailureReason
		}
		if s.Collected != wt.collected || reason != wt.reason {
			t.Errorf("%s: collected %v reason %q, want %v %q", rec.Properties.Name, s.Collected, reason, wt.collected, wt.reason)
		}
		got := slices.Clone(s.Results)
		cmpPair := func(a, b bloodhound.SessionPair) int {
			if a.UserSID != b.UserSID {
				return map[bool]int{true: -1, false: 1}[a.UserSID < b.UserSID]
			}
			return map[bool]int{true: -1, false: 1}[a.ComputerSID < b.ComputerSID]
		}
		slices.SortFunc(got, cmpPair)
		wp := slices.Clone(wt.pairs)
		slices.SortFunc(wp, cmpPair)
		if !slices.Equal(got, wp) {
			t.Errorf("%s: pairs %v, want %v", rec.Properties.Name, got, wp)
		}
	}
	rep := bh.Report()
	if rep.Hosts != 4 || rep.Pairs != 3 || rep.Duplicates != 1 || rep.Unresolved != 1 || rep.Withheld != 1 ||
		rep.Skipped[directory.SkipMachineAccount] != 1 {
		t.Errorf("report %+v", rep)
	}
}

// TestHistoryResults: the last run's outcome wins over the history, an
// interrupted result counts as absent, a server seen only at level 0 is
// not collected.
func TestHistoryResults(t *testing.T) {
	at := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	seen := []history.Session{
		{ID: 1, Server: srv(1), Client: "10.20.0.5", User: "alice", Level: 10, LastSeen: at},
		{ID: 2, Server: srv(2), Client: "10.20.0.5", Level: 0, Snapshot: true, LastSeen: at},
		{ID: 3, Server: srv(3), Client: "10.20.0.5", User: "bob", Level: 1, LastSeen: at},
		{ID: 4, Server: srv(3), Client: "10.20.0.6", User: "bob", Level: 10, LastSeen: at.Add(time.Minute)},
	}
	last := []*scan.Result{
		{Target: srv(1).Target, Failure: client.Failure{Reason: client.ReasonTimeout}},
		{Target: srv(3).Target, Failure: client.Failure{Reason: client.ReasonCanceled}},
		nil,
	}
	got := bloodhound.HistoryResults(seen, last)
	if len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	if r := got[0]; r.Target != srv(1).Target || r.Collected || r.Reason() != client.ReasonTimeout || len(r.Sessions) != 1 {
		t.Errorf("fs1: %+v", r)
	}
	if r := got[1]; r.Target != srv(2).Target || !r.Collected || !r.HasLevel || r.Level != 0 || len(r.Sessions) != 1 {
		t.Errorf("fs2: %+v", r)
	}
	collected, reason, _ := bloodhound.Outcome(got[1].Collected, got[1].Failure, uint32(got[1].Level), got[1].HasLevel)
	if collected || reason == nil || *reason != bloodhound.FailureLevel0 {
		t.Errorf("fs2 (level 0 only): %v %v", collected, reason)
	}
	if r := got[2]; r.Target != srv(3).Target || !r.Collected || r.Level != 10 || r.Address != srv(3).Address ||
		!r.ObservedAt.Equal(at.Add(time.Minute)) || len(r.Sessions) != 2 {
		t.Errorf("fs3: %+v", r)
	}
	if last[0].Sessions != nil {
		t.Error("the last run's result was changed")
	}
}

// TestAddWithholdsUncollected: a result that failed after its first page
// keeps the sessions it read, but its record is not collected and carries
// no pairs, which the strict decoder demands; Report counts them.
func TestAddWithholdsUncollected(t *testing.T) {
	dir := &fakeDir{sids: map[string]string{}, missing: map[string]bool{}}
	res := directory.NewResolver(dir, directory.ResolverConfig{Reverse: reverse})
	bh := bloodhound.NewComputers(bloodhound.Options{CollectorVersion: "test", Domain: dir.Domain()})
	r := &scan.Result{Target: "fs1.example.test", Failure: client.Failure{Reason: client.ReasonTimeout},
		Sessions: []client.Session{{Info: info("10.20.0.5", "alice", 5), Level: 10}, {Info: info("10.20.0.6", "bob", 5), Level: 10}}}
	bh.Add(res.Resolve(context.Background(), r, nil))
	file, raw := readBack(t, bh)
	if s := file.Data[0].Sessions; len(raw) == 0 || s.Collected || len(s.Results) != 0 || s.FailureReason == nil || *s.FailureReason != "Timeout" {
		t.Errorf("sessions %+v", s)
	}
	if rep := bh.Report(); rep.Withheld != 2 || rep.Pairs != 0 {
		t.Errorf("report %+v", rep)
	}
}
