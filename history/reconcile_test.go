package history_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/historytest"
	"github.com/netsession/netsession/session"
)

var fs1 = historytest.Server1()

func at(sec int) time.Time { return historytest.At(sec) }

func ok(sec int, lvl session.Level, ss ...session.Info) history.Observation {
	return historytest.OK(sec, lvl, ss...)
}

func failed(sec int, reason string) history.Observation { return historytest.Failed(sec, reason) }

func si(client, user string, age uint32) session.Info { return historytest.Info(client, user, age) }

func lines(es []history.Event) []string { return historytest.Lines(es) }

func script() ([]history.Observation, [][]string) { return historytest.Script() }

func TestReconcileScript(t *testing.T) {
	obs, want := script()
	var tr history.Tracker
	for i, o := range obs {
		got := lines(tr.Apply(o))
		if d := cmp.Diff(want[i], got); d != "" {
			t.Errorf("observation %d (t=%d): events (-want +got):\n%s", i, int(o.ObservedAt.Sub(at(0)).Seconds()), d)
		}
	}
	type row struct {
		Client, User                   string
		Start, First, Last, Ended, Seq int
		Opens, Idle                    uint32
	}
	sec := func(t time.Time) int {
		if t.IsZero() {
			return -1
		}
		return int(t.Sub(at(0)).Seconds())
	}
	var got []row
	for _, s := range tr.Sessions() {
		got = append(got, row{s.Client, s.User, sec(s.Start), sec(s.FirstSeen), sec(s.LastSeen), sec(s.EndedAt), s.Seq, s.Opens, s.IdleTime})
	}
	wantRows := []row{
		{"10.0.0.2", "alice", 60, 100, 140, 150, 0, 1, 2},
		{"10.0.0.3", "bob", 100, 100, 110, 140, 0, 1, 2},
		{"10.0.0.2", "alice", 145, 150, 160, 170, 0, 1, 2},
		{"10.0.0.4", "carol", 160, 160, 180, -1, 0, 1, 2},
		{"10.0.0.4", "carol", 160, 160, 160, 170, 1, 1, 2},
	}
	if d := cmp.Diff(wantRows, got); d != "" {
		t.Errorf("sessions (-want +got):\n%s", d)
	}
	if h := tr.Host(fs1); h.Failing || !h.LastSuccess.Equal(at(180)) || !h.LastObserved.Equal(at(180)) {
		t.Errorf("host state = %+v", h)
	}
}

// Applying every observation twice changes nothing the second time.
func TestReconcileIdempotent(t *testing.T) {
	obs, _ := script()
	var once, twice history.Tracker
	for i, o := range obs {
		once.Apply(o)
		twice.Apply(o)
		if again := twice.Apply(o); len(again) != 0 {
			t.Errorf("observation %d applied again: events %v", i, lines(again))
		}
	}
	if d := cmp.Diff(once.Sessions(), twice.Sessions()); d != "" {
		t.Errorf("sessions differ (-once +twice):\n%s", d)
	}
}

func TestReconcileTolerance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shift time.Duration // how much later the second estimate is
		same  bool
	}{
		{"equal", 0, true},
		{"at tolerance", history.StartTolerance, true},
		{"earlier at tolerance", -history.StartTolerance, true},
		{"beyond tolerance", history.StartTolerance + time.Microsecond, false},
		{"earlier beyond tolerance", -history.StartTolerance - time.Microsecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr history.Tracker
			tr.Apply(ok(100, 10, si("c", "u", 50)))
			o := ok(110, 10, si("c", "u", 60))
			o.ObservedAt = o.ObservedAt.Add(tc.shift)
			ev := tr.Apply(o)
			if tc.same != (len(ev) == 0) {
				t.Errorf("events %v, want same session: %v", lines(ev), tc.same)
			}
		})
	}
}

// Several open sessions of one (server, client, user): the nearest start
// wins, whatever the order they are listed or stored in.
func TestReconcileNearestStartWins(t *testing.T) {
	var tr history.Tracker
	tr.Apply(ok(100, 10, si("c", "u", 0), si("c", "u", 4))) // starts 100 and 96
	ev := tr.Apply(ok(101, 10, si("c", "u", 3)))            // start 98: 2 from both
	// Equidistant: the earlier stored start wins; the other (start 100)
	// is too young for this observation to end it.
	if got := lines(ev); len(got) != 0 {
		t.Errorf("equidistant: %v", got)
	}
	for _, s := range tr.Sessions() {
		if want := at(101); s.Start.Equal(at(96)) != s.LastSeen.Equal(want) {
			t.Errorf("equidistant: the earlier start should have matched: %+v", s)
		}
	}
	var tr2 history.Tracker
	tr2.Apply(ok(100, 10, si("c", "u", 10), si("c", "u", 4))) // starts 90 and 96
	ev = tr2.Apply(ok(110, 10, si("c", "u", 15)))             // start 95: nearest is 96
	if d := cmp.Diff([]string{"110 session_end c/u start=90 seq=0"}, lines(ev)); d != "" {
		t.Errorf("nearest (-want +got):\n%s", d)
	}
}

// A failed observation ends nothing, however long the host stays dark.
func TestReconcileFailureKeepsSessions(t *testing.T) {
	var tr history.Tracker
	tr.Apply(ok(100, 10, si("c", "u", 10)))
	for i := range 50 {
		ev := tr.Apply(failed(110+10*i, "access_denied"))
		if i == 0 && !slices.Equal(lines(ev), []string{"110 host_failed access_denied"}) {
			t.Fatalf("first failure: %v", lines(ev))
		}
		if i > 0 && len(ev) != 0 {
			t.Fatalf("failure %d: %v", i, lines(ev))
		}
	}
	if s := tr.Sessions(); len(s) != 1 || !s[0].Open() {
		t.Fatalf("sessions after failures: %+v", s)
	}
	if h := tr.Host(fs1); !h.Failing || h.Reason != "access_denied" {
		t.Fatalf("host = %+v", h)
	}
	ev := tr.Apply(ok(700, 10, si("c", "u", 610)))
	if d := cmp.Diff([]string{"700 host_recovered"}, lines(ev)); d != "" {
		t.Errorf("recovery (-want +got):\n%s", d)
	}
}

// The first observation of a host failing is a host_failed event; its first
// success is not a recovery.
func TestReconcileFirstObservation(t *testing.T) {
	var tr history.Tracker
	if got := lines(tr.Apply(failed(100, "port_closed"))); !slices.Equal(got, []string{"100 host_failed port_closed"}) {
		t.Errorf("first failure: %v", got)
	}
	var tr2 history.Tracker
	if got := lines(tr2.Apply(ok(100, 10))); len(got) != 0 {
		t.Errorf("first success: %v", got)
	}
}

func TestReconcileSnapshot(t *testing.T) {
	var tr history.Tracker
	l0 := func(c string) session.Info { return session.Info{ClientName: c} }
	ev := tr.Apply(ok(100, 0, l0("10.0.0.5"), l0("10.0.0.5"), l0("10.0.0.6")))
	want := []string{
		"100 session_start 10.0.0.5/ start=100 seq=0",
		"100 session_start 10.0.0.5/ start=100 seq=1",
		"100 session_start 10.0.0.6/ start=100 seq=0",
	}
	if d := cmp.Diff(want, lines(ev)); d != "" {
		t.Errorf("first (-want +got):\n%s", d)
	}
	ev = tr.Apply(ok(110, 0, l0("10.0.0.5")))
	want = []string{"110 session_end 10.0.0.5/ start=100 seq=1", "110 session_end 10.0.0.6/ start=100 seq=0"}
	if d := cmp.Diff(want, lines(ev)); d != "" {
		t.Errorf("second (-want +got):\n%s", d)
	}
	for _, s := range tr.Sessions() {
		if !s.Snapshot || s.User != "" {
			t.Errorf("not a snapshot: %+v", s)
		}
	}
	// The same host answering at level 10 later: real sessions replace
	// the snapshots.
	ev = tr.Apply(ok(120, 10, si("10.0.0.5", "alice", 30)))
	want = []string{"120 session_end 10.0.0.5/ start=100 seq=0", "120 session_start 10.0.0.5/alice start=90 seq=0"}
	if d := cmp.Diff(want, lines(ev)); d != "" {
		t.Errorf("level change (-want +got):\n%s", d)
	}
}

// A session younger than the tolerance is not ended by an observation that
// does not list it (another collector's clock may be ahead); the next one
// ends it.
func TestReconcileYoungSessionNotEnded(t *testing.T) {
	var tr history.Tracker
	tr.Apply(ok(100, 10, si("c", "u", 0)))
	if ev := tr.Apply(ok(102, 10)); len(ev) != 0 {
		t.Fatalf("young session ended: %v", lines(ev))
	}
	if d := cmp.Diff([]string{"104 session_end c/u start=100 seq=0"}, lines(tr.Apply(ok(104, 10)))); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

// An observation older than the latest does not change the host state; a
// session only it lists is recorded as ended at the latest success.
func TestReconcileOutOfOrder(t *testing.T) {
	var tr history.Tracker
	tr.Apply(ok(100, 10, si("a", "u", 10)))
	tr.Apply(ok(120, 10, si("a", "u", 30)))
	ev := tr.Apply(ok(110, 10, si("a", "u", 20), si("b", "v", 5)))
	want := []string{"110 session_start b/v start=105 seq=0", "120 session_end b/v start=105 seq=0"}
	if d := cmp.Diff(want, lines(ev)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if ev := tr.Apply(failed(115, "timeout")); len(ev) != 0 {
		t.Errorf("stale failure: %v", lines(ev))
	}
	if h := tr.Host(fs1); h.Failing || !h.LastObserved.Equal(at(120)) {
		t.Errorf("host = %+v", h)
	}
	// A session ended at 140 and an older observation listing it: it is
	// matched (no new session), LastSeen moves, the end stays.
	tr.Apply(ok(140, 10))
	ev = tr.Apply(ok(130, 10, si("a", "u", 40)))
	if len(ev) != 0 {
		t.Errorf("late listing: %v", lines(ev))
	}
	for _, s := range tr.Sessions() {
		if s.Client == "a" && (!s.LastSeen.Equal(at(130)) || !s.EndedAt.Equal(at(140))) {
			t.Errorf("a = %+v", s)
		}
	}
}

// Observations of a simulated world, by two collectors with skewed clocks,
// applied in order or in a random order: every session that was alive at
// some observation is stored exactly once.
func TestReconcileWorld(t *testing.T) {
	w := historytest.Generate(7, 3, 60, time.Hour)
	var obs []history.Observation
	var instants []time.Time
	for k := range 400 {
		real := historytest.Epoch().Add(time.Duration(k) * 10 * time.Second)
		instants = append(instants, real)
		for c, skew := range []time.Duration{700 * time.Millisecond, -900 * time.Millisecond} {
			for _, srv := range w.Servers {
				obs = append(obs, w.Observe(srv, real.Add(time.Duration(c)*3*time.Second), skew))
			}
		}
	}
	truth := w.Seen(func(history.Server) []time.Time {
		var all []time.Time
		for _, t := range instants {
			all = append(all, t, t.Add(3*time.Second))
		}
		return all
	})
	for _, order := range []string{"in order", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			o := slices.Clone(obs)
			if order == "shuffled" {
				r := rand.New(rand.NewPCG(1, 2))
				r.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
			}
			var tr history.Tracker
			for _, x := range o {
				tr.Apply(x)
			}
			if d := historytest.Match(truth, tr.Sessions()); len(d) != 0 {
				t.Errorf("%d differences, first: %s", len(d), strings.Join(d[:min(5, len(d))], "\n"))
			}
		})
	}
}

func FuzzReconcileNames(f *testing.F) {
	f.Add("10.0.0.1", "alice", "fs1", uint32(5))
	f.Add("a\x00b", "bad\xc3", "", uint32(0xFFFFFFFF))
	f.Fuzz(func(t *testing.T, client, user, target string, age uint32) {
		o := history.Observation{Server: history.Server{Target: target, Address: target}, ObservedAt: at(100), Collected: true, Level: 10,
			Sessions: []session.Info{{ClientName: client, UserName: user, Time: age}}}
		var tr history.Tracker
		ev := tr.Apply(o)
		if len(ev) != 1 || ev[0].Kind != history.SessionStart {
			t.Fatalf("events %v", lines(ev))
		}
		if again := tr.Apply(o); len(again) != 0 {
			t.Fatalf("re-applied: %v", lines(again))
		}
		s := tr.Sessions()[0]
		for _, name := range []string{s.Client, s.User, s.Server.Target, s.Server.Address} {
			if !utf8.ValidString(name) || strings.ContainsRune(name, 0) || len(name) > history.MaxNameBytes {
				t.Fatalf("name %q kept", name)
			}
		}
	})
}

// A target that stops resolving fails at the address it had.
func TestTrackerUnresolvedTarget(t *testing.T) {
	var tr history.Tracker
	tr.Apply(ok(100, 10, si("c", "u", 10)))
	o := failed(110, "name_not_resolved")
	o.Server.Address = ""
	ev := tr.Apply(o)
	if len(ev) != 1 || ev[0].Server != fs1 {
		t.Fatalf("events %+v", ev)
	}
	if h := tr.Host(fs1); !h.Failing {
		t.Errorf("host state %+v", h)
	}
	// Never resolved at all: its own server, address "".
	o.Server.Target = "ghost"
	if ev := tr.Apply(o); len(ev) != 1 || ev[0].Server != (history.Server{Target: "ghost"}) {
		t.Errorf("ghost: %+v", ev)
	}
}
