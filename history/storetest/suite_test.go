package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/historytest"
	"github.com/netsession/netsession/session"
)

func bySession(a, b history.Session) int {
	return cmp.Or(cmp.Compare(a.Server.Target, b.Server.Target), cmp.Compare(a.Server.Address, b.Server.Address),
		a.Start.Compare(b.Start), cmp.Compare(a.Client, b.Client), cmp.Compare(a.User, b.User), cmp.Compare(a.Seq, b.Seq))
}

// withoutIDs returns sessions sorted by identity with IDs cleared, for
// comparisons across stores that number rows differently.
func withoutIDs(ss []history.Session) []history.Session {
	out := slices.Clone(ss)
	for i := range out {
		out[i].ID = 0
	}
	slices.SortFunc(out, bySession)
	return out
}

func allSessions(t testing.TB, st history.Store) []history.Session {
	t.Helper()
	ss, err := st.Sessions(context.Background(), history.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// The script through the store: every observation's events equal the
// script's, one observation per batch and all in one batch, and the stored
// sessions and events equal the in-memory reference.
func TestScript(t *testing.T) {
	forEach(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		obs, want := historytest.Script()
		var ref history.Tracker
		var refEvents []history.Event
		for _, o := range obs {
			refEvents = append(refEvents, ref.Apply(o)...)
		}

		t.Run("one per batch", func(t *testing.T) {
			st := openT(t, e, e.fresh(t))
			var got []history.Event
			for i, o := range obs {
				ev, err := st.Apply(ctx, []history.Observation{o})
				if err != nil {
					t.Fatal(err)
				}
				if d := gocmp.Diff(want[i], historytest.Lines(ev)); d != "" {
					t.Errorf("observation %d: events (-want +got):\n%s", i, d)
				}
				got = append(got, ev...)
			}
			if d := gocmp.Diff(refEvents, got); d != "" {
				t.Errorf("events differ from the reference (-ref +store):\n%s", d)
			}
			if d := gocmp.Diff(withoutIDs(ref.Sessions()), withoutIDs(allSessions(t, st))); d != "" {
				t.Errorf("sessions (-ref +store):\n%s", d)
			}
			stored, err := st.Events(ctx, history.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if d := gocmp.Diff(refEvents, stored); d != "" {
				t.Errorf("stored events (-ref +stored):\n%s", d)
			}
			// Applying everything again changes nothing.
			again, err := st.Apply(ctx, obs)
			if err != nil || len(again) != 0 {
				t.Errorf("re-applied: %v, %v", historytest.Lines(again), err)
			}
			if d := gocmp.Diff(withoutIDs(ref.Sessions()), withoutIDs(allSessions(t, st))); d != "" {
				t.Errorf("sessions after re-applying (-ref +store):\n%s", d)
			}
		})
		t.Run("one batch", func(t *testing.T) {
			st := openT(t, e, e.fresh(t))
			// Shuffled within the batch: the store orders by time.
			rev := slices.Clone(obs)
			slices.Reverse(rev)
			ev, err := st.Apply(ctx, rev)
			if err != nil {
				t.Fatal(err)
			}
			if d := gocmp.Diff(refEvents, ev); d != "" {
				t.Errorf("events (-ref +store):\n%s", d)
			}
			if d := gocmp.Diff(withoutIDs(ref.Sessions()), withoutIDs(allSessions(t, st))); d != "" {
				t.Errorf("sessions (-ref +store):\n%s", d)
			}
		})
	})
}

// worldObservations observes w every step for n steps by one collector
// (no skew), oldest first.
func worldObservations(w historytest.World, n int, step time.Duration) []history.Observation {
	var obs []history.Observation
	for k := range n {
		at := historytest.Epoch().Add(time.Duration(k) * step)
		for _, srv := range w.Servers {
			obs = append(obs, w.Observe(srv, at, 0))
		}
	}
	return obs
}

// Every query answers what filtering the reference's sessions in Go
// answers.
func TestQueries(t *testing.T) {
	w := historytest.Generate(11, 4, 40, 2*time.Hour)
	obs := worldObservations(w, 80, time.Minute)
	var ref history.Tracker
	for _, o := range obs {
		ref.Apply(o)
	}
	all := ref.Sessions()
	mid := historytest.Epoch().Add(40 * time.Minute)
	queries := []struct {
		name string
		q    history.Query
		keep func(s history.Session) bool
	}{
		{"all", history.Query{}, func(history.Session) bool { return true }},
		{"user", history.Query{User: "ALICE"}, func(s history.Session) bool { return s.User == "alice" }},
		{"user with domain part", history.Query{User: "dave"}, func(s history.Session) bool { return s.User == `CORP\dave` }},
		{"domain user", history.Query{User: `corp\DAVE`}, func(s history.Session) bool { return s.User == `CORP\dave` }},
		{"other domain", history.Query{User: `LAB\dave`}, func(s history.Session) bool { return false }},
		{"server by target", history.Query{Server: w.Servers[1].Target}, func(s history.Session) bool { return s.Server == w.Servers[1] }},
		{"server by address", history.Query{Server: w.Servers[2].Address}, func(s history.Session) bool { return s.Server == w.Servers[2] }},
		{"client", history.Query{Client: all[3].Client}, func(s history.Session) bool { return s.Client == all[3].Client }},
		{"client with \\", history.Query{Client: `\\` + all[3].Client}, func(s history.Session) bool { return s.Client == all[3].Client }},
		{"active at", history.Query{At: mid}, func(s history.Session) bool {
			return !s.Start.After(mid) && (s.Open() || s.EndedAt.After(mid))
		}},
		{"window", history.Query{Since: mid, Until: mid.Add(10 * time.Minute)}, func(s history.Session) bool {
			in := func(t time.Time) bool { return !t.IsZero() && !t.Before(mid) && t.Before(mid.Add(10*time.Minute)) }
			return in(s.Start) || in(s.EndedAt)
		}},
		{"since only", history.Query{Since: mid}, func(s history.Session) bool { return !s.Start.Before(mid) || !s.EndedAt.Before(mid) }},
		{"user and server", history.Query{User: "bob", Server: w.Servers[0].Target}, func(s history.Session) bool {
			return s.User == "bob" && s.Server == w.Servers[0]
		}},
	}
	forEach(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := openT(t, e, e.fresh(t))
		for i := 0; i < len(obs); i += 50 {
			if _, err := st.Apply(ctx, obs[i:min(i+50, len(obs))]); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range queries {
			var want []history.Session
			for _, s := range all {
				if q.keep(s) {
					want = append(want, s)
				}
			}
			got, err := st.Sessions(ctx, q.q)
			if err != nil {
				t.Fatalf("%s: %v", q.name, err)
			}
			if q.name != "other domain" && len(want) == 0 {
				t.Fatalf("%s: the world has no such session; the check would prove nothing", q.name)
			}
			if d := gocmp.Diff(withoutIDs(want), withoutIDs(got)); d != "" {
				t.Errorf("%s (-want +got):\n%s", q.name, d)
			}
			if !slices.IsSortedFunc(got, func(a, b history.Session) int { return a.Start.Compare(b.Start) }) {
				t.Errorf("%s: not ordered by start", q.name)
			}
		}
		lim, err := st.Sessions(ctx, history.Query{Limit: 7})
		if err != nil || len(lim) != 7 {
			t.Errorf("limit 7: %d sessions, %v", len(lim), err)
		}

		// Summary.
		sum, err := st.Summary(ctx, history.Query{})
		if err != nil {
			t.Fatal(err)
		}
		users := map[string]bool{}
		days := map[time.Time]*history.Day{}
		open := 0
		for _, s := range all {
			k, _ := history.UserKey(s.User)
			users[k] = true
			if s.Open() {
				open++
			}
			for _, x := range []struct {
				t     time.Time
				start bool
			}{{s.Start, true}, {s.EndedAt, false}} {
				if x.t.IsZero() {
					continue
				}
				d := x.t.Truncate(24 * time.Hour)
				if days[d] == nil {
					days[d] = &history.Day{Date: d}
				}
				if x.start {
					days[d].Started++
				} else {
					days[d].Ended++
				}
			}
		}
		want := history.Summary{Servers: len(w.Servers), Users: len(users), Sessions: len(all), Open: open}
		for _, d := range days {
			want.Days = append(want.Days, *d)
		}
		slices.SortFunc(want.Days, func(a, b history.Day) int { return a.Date.Compare(b.Date) })
		if d := gocmp.Diff(want, sum); d != "" {
			t.Errorf("summary (-want +got):\n%s", d)
		}

		// Events by server and window.
		evs, err := st.Events(ctx, history.Query{Server: w.Servers[0].Address, Since: mid})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatal("no events for the first server after mid")
		}
		for _, ev := range evs {
			if ev.Server != w.Servers[0] || ev.At.Before(mid) {
				t.Errorf("event outside the query: %+v", ev)
			}
		}
	})
}

func TestRuns(t *testing.T) {
	forEach(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := openT(t, e, e.fresh(t))
		runs := []history.Run{
			{Collector: "c1", Started: historytest.At(0), Finished: historytest.At(5), Targets: []string{"fs1", "fs2", "10.0.0.0/30"}, Failed: 1},
			{Collector: "c2", Started: historytest.At(60), Finished: historytest.At(61), Targets: []string{"fs3"}},
		}
		for _, r := range runs {
			if err := st.RecordRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.Runs(ctx, history.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i].ID = 0
		}
		if d := gocmp.Diff(runs, got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		got, err = st.Runs(ctx, history.Query{Since: historytest.At(30)})
		if err != nil || len(got) != 1 || got[0].Collector != "c2" {
			t.Errorf("runs since 30s: %+v, %v", got, err)
		}
		if sum, err := st.Summary(ctx, history.Query{}); err != nil || sum.Runs != 2 {
			t.Errorf("summary runs = %d, %v", sum.Runs, err)
		}
	})
}

// Retention deletes the sessions that ended before the cutoff, and older
// events and runs; open sessions stay however old.
func TestRetention(t *testing.T) {
	forEach(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := openT(t, e, e.fresh(t))
		obs, _ := historytest.Script()
		if _, err := st.Apply(ctx, obs); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordRun(ctx, history.Run{Collector: "c", Started: historytest.At(100), Finished: historytest.At(101)}); err != nil {
			t.Fatal(err)
		}
		before := allSessions(t, st)
		cutoff := historytest.At(160)
		p, err := st.Prune(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		var want []history.Session
		for _, s := range before {
			if s.Open() || !s.EndedAt.Before(cutoff) {
				want = append(want, s)
			}
		}
		// The script ends alice (150) and bob (140) before 160.
		if p.Sessions != 2 || p.Runs != 1 || p.Events == 0 {
			t.Errorf("pruned %+v", p)
		}
		if d := gocmp.Diff(want, allSessions(t, st)); d != "" {
			t.Errorf("kept (-want +got):\n%s", d)
		}
		evs, err := st.Events(ctx, history.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.At.Before(cutoff) {
				t.Errorf("event kept: %s", historytest.Line(ev))
			}
		}
		// An open session older than any cutoff survives.
		if _, err := st.Prune(ctx, historytest.At(10000)); err != nil {
			t.Fatal(err)
		}
		left := allSessions(t, st)
		if len(left) != 1 || !left[0].Open() || left[0].User != "carol" {
			t.Errorf("after pruning everything ended: %+v", left)
		}
		// The history goes on.
		ev, err := st.Apply(ctx, []history.Observation{historytest.OK(10010, 10)})
		if err != nil || len(ev) != 1 || ev[0].Kind != history.SessionEnd {
			t.Errorf("after retention: %v, %v", historytest.Lines(ev), err)
		}
	})
}

// collectors runs n collectors at once, each with its own Store on the
// same database, each scanning an overlapping share of the world's servers
// with its own clock skew, in batches, while a reader queries. Every
// session that was alive at an observation must be stored exactly once.
func collectors(t *testing.T, e engine, n int) {
	ctx := context.Background()
	servers, perServer, steps := 6, 25, 60
	if testing.Short() || raceEnabled {
		servers, perServer, steps = 4, 10, 30
	}
	w := historytest.Generate(uint64(100+n), servers, perServer, time.Duration(steps)*10*time.Second)
	loc := e.fresh(t)
	stores := make([]history.Store, n)
	for i := range stores {
		stores[i] = openT(t, e, loc)
	}
	// Collector c skips server i when i % (n+1) == c: every server is
	// scanned by n-1 or n collectors.
	instants := map[history.Server][]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	starts := 0
	bar := newBarrier(n)
	for c := range n {
		var mine []history.Server
		for i, srv := range w.Servers {
			if i%(n+1) != c {
				mine = append(mine, srv)
			}
		}
		skew := time.Duration(c%3-1) * 800 * time.Millisecond
		offset := time.Duration(c) * 2 * time.Second
		var obs []history.Observation
		for k := range steps {
			real := historytest.Epoch().Add(time.Duration(k)*10*time.Second + offset)
			for _, srv := range mine {
				instants[srv] = append(instants[srv], real)
				obs = append(obs, w.Observe(srv, real, skew))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One step per batch, every collector's step k at once: the
			// transactions that touch one server overlap as much as they
			// can.
			for i := 0; i < len(obs); i += len(mine) {
				bar.wait()
				ev, err := stores[c].Apply(ctx, obs[i:min(i+len(mine), len(obs))])
				if err != nil {
					bar.leave()
					errs <- fmt.Errorf("collector %d: %w", c, err)
					return
				}
				mu.Lock()
				for _, x := range ev {
					if x.Kind == history.SessionStart {
						starts++
					}
				}
				mu.Unlock()
			}
			bar.leave()
		}()
	}
	// A reader alongside the writers.
	stop, readerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := stores[0].Sessions(ctx, history.Query{User: "alice"}); err != nil {
				errs <- fmt.Errorf("reader: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	truth := w.Seen(func(srv history.Server) []time.Time { return instants[srv] })
	got := allSessions(t, stores[1%n])
	if d := historytest.Match(truth, got); len(d) != 0 {
		t.Errorf("%d collectors: %d differences, first: %s", n, len(d), strings.Join(d[:min(8, len(d))], "\n"))
	}
	if starts != len(got) {
		t.Errorf("%d session_start events for %d sessions", starts, len(got))
	}
	stored, err := stores[0].Events(ctx, history.Query{})
	if err != nil {
		t.Fatal(err)
	}
	n0 := 0
	for _, ev := range stored {
		if ev.Kind == history.SessionStart {
			n0++
		}
	}
	if n0 != len(got) {
		t.Errorf("%d stored session_start events for %d sessions", n0, len(got))
	}
	t.Logf("%d collectors: %d sessions, %d true", n, len(got), len(truth))
}

// barrier releases its parties together, round after round; a party that
// leaves no longer holds the others back.
type barrier struct {
	mu      sync.Mutex
	cond    *sync.Cond
	parties int
	waiting int
	round   int
}

func newBarrier(n int) *barrier {
	b := &barrier{parties: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting++
	if b.waiting >= b.parties {
		b.waiting, b.round = 0, b.round+1
		b.cond.Broadcast()
		return
	}
	for r := b.round; r == b.round; {
		b.cond.Wait()
	}
}

func (b *barrier) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.parties--
	if b.waiting > 0 && b.waiting >= b.parties {
		b.waiting, b.round = 0, b.round+1
		b.cond.Broadcast()
	}
}

func TestConcurrentCollectors(t *testing.T) {
	forEach(t, func(t *testing.T, e engine) {
		for _, n := range []int{2, 4} {
			t.Run(fmt.Sprint(n), func(t *testing.T) { collectors(t, e, n) })
		}
	})
}

// Several stores opening a new database at once apply the schema once.
func TestConcurrentMigrations(t *testing.T) {
	forEach(t, func(t *testing.T, e engine) {
		loc := e.fresh(t)
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := e.open(context.Background(), loc)
				if err == nil {
					_, err = st.Sessions(context.Background(), history.Query{})
					st.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		db, err := e.raw(loc)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var rows, max int
		if err := db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&rows, &max); err != nil {
			t.Fatal(err)
		}
		if rows != max || max < 1 {
			t.Errorf("schema_version: %d rows, newest %d", rows, max)
		}
	})
}

// A database from a newer version is refused with a SchemaError, and
// left as it was.
func TestNewerSchemaRefused(t *testing.T) {
	forEach(t, func(t *testing.T, e engine) {
		loc := e.fresh(t)
		st, err := e.open(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		db, err := e.raw(loc)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`INSERT INTO schema_version (version, applied_us) VALUES (99, 0)`); err != nil {
			t.Fatal(err)
		}
		_, err = e.open(context.Background(), loc)
		var se *history.SchemaError
		if !errors.As(err, &se) || se.Database != 99 || se.Supported >= 99 {
			t.Fatalf("open: %v, want a SchemaError for version 99", err)
		}
		if !strings.Contains(err.Error(), "newer") || errors.Is(err, history.ErrUnavailable) {
			t.Errorf("message: %v", err)
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&n); err != nil || n != 2 {
			t.Errorf("schema_version rows = %d, %v", n, err)
		}
	})
}

// Names no database takes as they are (NUL, invalid UTF-8, longer than an
// index row) are cleaned the same way in every engine and in memory; an
// observation without target or time is refused, and nothing of its batch
// stored.
func TestHostileNames(t *testing.T) {
	srv := history.Server{Target: "fs\x00evil\xff", Address: strings.Repeat("a", 5000)}
	o := history.Observation{Server: srv, ObservedAt: historytest.At(0), Collected: true, Level: 10,
		Sessions: []session.Info{
			{ClientName: "10.0.0.1\x00", UserName: "bad\xc3", Time: 5},
			{ClientName: strings.Repeat("c", 3000), UserName: strings.Repeat("田", 2000), Time: 5},
		}}
	var ref history.Tracker
	refEv := ref.Apply(o)
	forEach(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		st := openT(t, e, e.fresh(t))
		ev, err := st.Apply(ctx, []history.Observation{o})
		if err != nil {
			t.Fatal(err)
		}
		if d := gocmp.Diff(refEv, ev); d != "" {
			t.Errorf("events (-ref +store):\n%s", d)
		}
		got := allSessions(t, st)
		if d := gocmp.Diff(withoutIDs(ref.Sessions()), withoutIDs(got)); d != "" {
			t.Errorf("sessions (-ref +store):\n%s", d)
		}
		for _, s := range got {
			for _, name := range []string{s.Client, s.User, s.Server.Target, s.Server.Address} {
				if !utf8.ValidString(name) || strings.ContainsRune(name, 0) || len(name) > history.MaxNameBytes {
					t.Errorf("stored name %q", name)
				}
			}
		}
		// Applying it again finds the same sessions.
		if ev, err := st.Apply(ctx, []history.Observation{o}); err != nil || len(ev) != 0 {
			t.Errorf("again: %v, %v", historytest.Lines(ev), err)
		}
		for _, bad := range []history.Observation{
			{Server: history.Server{Target: ""}, ObservedAt: historytest.At(10), Collected: true},
			{Server: srv, Collected: true},
		} {
			_, err := st.Apply(ctx, []history.Observation{historytest.OK(20, 10, historytest.Info("x", "y", 1)), bad})
			if !errors.Is(err, history.ErrInvalidObservation) || errors.Is(err, history.ErrUnavailable) {
				t.Errorf("invalid observation %+v: %v", bad, err)
			}
		}
		if n := len(allSessions(t, st)); n != len(got) {
			t.Errorf("a refused batch stored something: %d sessions, want %d", n, len(got))
		}
	})
}

// A target that stops resolving fails at the address it had, in every
// engine as in memory.
func TestUnresolvedTarget(t *testing.T) {
	obs, _ := historytest.Script()
	unresolved := historytest.Failed(200, "name_not_resolved")
	unresolved.Server.Address = ""
	ghost := unresolved
	ghost.Server.Target = "ghost"
	obs = append(obs, unresolved, ghost)
	var ref history.Tracker
	var want []history.Event
	for _, o := range obs {
		want = append(want, ref.Apply(o)...)
	}
	forEach(t, func(t *testing.T, e engine) {
		st := openT(t, e, e.fresh(t))
		var got []history.Event
		for _, o := range obs {
			ev, err := st.Apply(context.Background(), []history.Observation{o})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev...)
		}
		if d := gocmp.Diff(want, got); d != "" {
			t.Errorf("(-ref +store):\n%s", d)
		}
		if last := got[len(got)-2]; last.Server != historytest.Server1() || last.Kind != history.HostFailed {
			t.Errorf("unresolved failure charged to %+v", last.Server)
		}
	})
}
