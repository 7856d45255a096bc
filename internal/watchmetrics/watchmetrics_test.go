package watchmetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/internal/promtext/promtexttest"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/server"
)

// scrape reads h's /metrics with the reference parser and returns every
// series as "name{l=v,...}" (labels in order) -> value; histograms give
// name_count and name_sum.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != promtext.ContentType {
		t.Fatalf("GET /metrics: %d %v", w.Code, w.Header())
	}
	return parseText(t, w.Body.Bytes())
}

func parseText(t *testing.T, text []byte) map[string]float64 {
	t.Helper()
	return promtexttest.Series(t, text)
}

// answer is the unix time of an ok() result observed at t plus s seconds.
func answer(t time.Time, s int) float64 {
	return float64(t.Add(time.Duration(s)*time.Second+20*time.Millisecond).UnixMicro()) / 1e6
}

func ok(target string, at time.Time, sessions int) *scan.Result {
	return &scan.Result{Target: target, ObservedAt: at, Duration: 20 * time.Millisecond, Collected: true,
		Sessions: make([]client.Session, sessions)}
}

func failed(target string, at time.Time, reason client.Reason) *scan.Result {
	return &scan.Result{Target: target, ObservedAt: at, Duration: 2 * time.Second, Failure: client.Failure{Reason: reason}}
}

// Two rounds: the values are those of the fleet, a failure keeps a
// server's last known sessions and last success, the outcomes of the
// latest round replace the previous ones and the counters add up.
func TestRounds(t *testing.T) {
	m := New()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	before := scrape(t, m.Handler(nil))
	for _, o := range Outcomes() {
		if v, ok := before["netsess_watch_hosts{outcome="+o+"}"]; !ok || v != 0 {
			t.Errorf("outcome %s not exposed at zero before the first round: %v %v", o, v, ok)
		}
	}
	if before["netsess_watch_last_round_timestamp_seconds"] != 0 || before["netsess_watch_rounds_total"] != 0 {
		t.Errorf("before the first round: %v", before)
	}

	m.Round([]*scan.Result{
		ok("fs1", t0, 3), ok("fs2", t0.Add(time.Second), 0), ok(`we"ird\host`, t0, 1),
		failed("dc1", t0, client.ReasonAccessDenied), failed("10.0.0.9", t0, client.ReasonTimeout),
		failed("odd", t0, "something_new"),
	}, t0.Add(5*time.Second), 4500*time.Millisecond)
	m.Events([]history.Event{{Kind: history.SessionStart}, {Kind: history.SessionStart}, {Kind: history.HostFailed}, {Kind: "bogus"}})
	m.StoreError()

	got := scrape(t, m.Handler(nil))
	want := map[string]float64{
		"netsess_watch_rounds_total":                                       1,
		"netsess_watch_round_duration_seconds_count":                       1,
		"netsess_watch_round_duration_seconds_sum":                         4.5,
		"netsess_watch_last_round_duration_seconds":                        4.5,
		"netsess_watch_last_round_timestamp_seconds":                       float64(t0.Unix() + 5),
		"netsess_watch_host_duration_seconds_count":                        6,
		"netsess_watch_host_duration_seconds_sum":                          3*0.02 + 3*2,
		"netsess_watch_hosts{outcome=collected}":                           3,
		"netsess_watch_hosts{outcome=access_denied}":                       1,
		"netsess_watch_hosts{outcome=timeout}":                             1,
		"netsess_watch_hosts{outcome=unknown}":                             1,
		"netsess_watch_host_results_total{outcome=collected}":              3,
		"netsess_watch_host_results_total{outcome=access_denied}":          1,
		"netsess_watch_host_results_total{outcome=timeout}":                1,
		"netsess_watch_host_results_total{outcome=unknown}":                1,
		"netsess_watch_sessions{server=fs1}":                               3,
		"netsess_watch_sessions{server=fs2}":                               0,
		`netsess_watch_sessions{server=we"ird\host}`:                       1,
		"netsess_watch_last_success_timestamp_seconds{server=fs1}":         answer(t0, 0),
		"netsess_watch_last_success_timestamp_seconds{server=fs2}":         answer(t0, 1),
		`netsess_watch_last_success_timestamp_seconds{server=we"ird\host}`: answer(t0, 0),
		"netsess_watch_events_total{event=session_start}":                  2,
		"netsess_watch_events_total{event=host_failed}":                    1,
		"netsess_watch_store_errors_total":                                 1,
	}
	checkValues(t, got, want)

	// Round two: fs1 fails, dc1 recovers with 2 sessions.
	t1 := t0.Add(time.Minute)
	m.Round([]*scan.Result{
		failed("fs1", t1, client.ReasonUnreachable), ok("fs2", t1, 4), ok(`we"ird\host`, t1, 1),
		ok("dc1", t1, 2), failed("10.0.0.9", t1, client.ReasonTimeout), ok("odd", t1, 0),
	}, t1.Add(2*time.Second), 1500*time.Millisecond)
	got = scrape(t, m.Handler(nil))
	want2 := maps.Clone(want)
	maps.Copy(want2, map[string]float64{
		"netsess_watch_rounds_total":                                       2,
		"netsess_watch_round_duration_seconds_count":                       2,
		"netsess_watch_round_duration_seconds_sum":                         6,
		"netsess_watch_last_round_duration_seconds":                        1.5,
		"netsess_watch_last_round_timestamp_seconds":                       float64(t1.Unix() + 2),
		"netsess_watch_host_duration_seconds_count":                        12,
		"netsess_watch_host_duration_seconds_sum":                          3*0.02 + 3*2 + 4*0.02 + 2*2,
		"netsess_watch_hosts{outcome=collected}":                           4,
		"netsess_watch_hosts{outcome=access_denied}":                       0,
		"netsess_watch_hosts{outcome=unreachable}":                         1,
		"netsess_watch_hosts{outcome=timeout}":                             1,
		"netsess_watch_host_results_total{outcome=collected}":              7,
		"netsess_watch_host_results_total{outcome=unreachable}":            1,
		"netsess_watch_host_results_total{outcome=timeout}":                2,
		"netsess_watch_sessions{server=fs2}":                               4,
		"netsess_watch_sessions{server=dc1}":                               2,
		"netsess_watch_sessions{server=odd}":                               0,
		"netsess_watch_last_success_timestamp_seconds{server=fs2}":         answer(t1, 0),
		`netsess_watch_last_success_timestamp_seconds{server=we"ird\host}`: answer(t1, 0),
		"netsess_watch_last_success_timestamp_seconds{server=dc1}":         answer(t1, 0),
		"netsess_watch_last_success_timestamp_seconds{server=odd}":         answer(t1, 0),
	})
	delete(want2, "netsess_watch_hosts{outcome=unknown}") // not in the latest round
	checkValues(t, got, want2)
	if _, ok := got["netsess_watch_hosts{outcome=unknown}"]; ok {
		t.Error("the unknown outcome of an older round is still a host count")
	}
}

// checkValues compares got with want; series of got that want does not
// name must be zero (the outcomes and events exposed from the start).
func checkValues(t *testing.T, got, want map[string]float64) {
	t.Helper()
	keys := slicesSorted(maps.Keys(got))
	for _, k := range keys {
		w, named := want[k]
		if math.Abs(got[k]-w) > 1e-12*max(1, math.Abs(w)) {
			t.Errorf("%s = %v, want %v (named %v)", k, got[k], w, named)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %v\n", k, got[k])
		}
		t.Log(b.String())
	}
}

func slicesSorted(seq func(func(string) bool)) []string {
	var out []string
	for k := range seq {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Results may be observed from several goroutines while scrapes happen.
func TestConcurrent(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				r := ok(fmt.Sprintf("h%d-%d", i, j%10), time.Unix(1000, 0), j%3)
				m.Observe(r)
				if j%50 == 0 {
					_, _ = promtext.Append(nil, m.Gather())
				}
			}
		})
	}
	wg.Wait()
	m.EndRound(time.Unix(2000, 0), time.Second)
	got := parseText(t, mustAppend(t, m.Gather()))
	if got["netsess_watch_hosts{outcome=collected}"] != 800 || got["netsess_watch_host_results_total{outcome=collected}"] != 800 {
		t.Errorf("collected %v / %v", got["netsess_watch_hosts{outcome=collected}"], got["netsess_watch_host_results_total{outcome=collected}"])
	}
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "netsess_watch_sessions{") {
			n++
		}
	}
	if n != 40 {
		t.Errorf("%d per-server series, want one per server (40)", n)
	}
}

func mustAppend(t *testing.T, fams []promtext.Family) []byte {
	t.Helper()
	b, err := promtext.Append(nil, fams)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every watch name is in netsess_watch_, and none is one of serve's
// (read from serve's own /metrics).
func TestNamesDistinctFromServe(t *testing.T) {
	srv, err := server.New(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	serveNames := map[string]bool{}
	for line := range strings.Lines(w.Body.String()) {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			serveNames[strings.Fields(name)[0]] = true
		}
	}
	if !serveNames["netsess_sessions"] {
		t.Fatalf("serve's families not read:\n%s", w.Body)
	}
	m := New()
	for _, f := range m.Gather() {
		if !strings.HasPrefix(f.Name, "netsess_watch_") || serveNames[f.Name] {
			t.Errorf("%s is not apart from serve's names", f.Name)
		}
	}
	for name := range serveNames {
		if strings.HasPrefix(name, "netsess_watch_") {
			t.Errorf("serve exposes %s", name)
		}
	}
}

func TestHandlerPaths(t *testing.T) {
	h := New().Handler(nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/other", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("/other: %d", w.Code)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := parseText(t, b); got["netsess_watch_rounds_total"] != 0 || len(got) < 20 {
		t.Errorf("over HTTP: %v", got)
	}
}

// failingStore fails every write with its error.
type failingStore struct {
	history.Store
	err error
}

func (s failingStore) Apply(context.Context, []history.Observation) ([]history.Event, error) {
	return nil, s.err
}
func (s failingStore) RecordRun(context.Context, history.Run) error { return s.err }
func (s failingStore) Prune(context.Context, time.Time) (history.Pruned, error) {
	return history.Pruned{}, s.err
}

// Store counts each failed write once and returns the error unchanged;
// successful writes count nothing.
func TestStoreErrors(t *testing.T) {
	m := New()
	ctx := context.Background()
	boom := errors.New("disk gone")
	bad := m.Store(failingStore{err: boom})
	if _, err := bad.Apply(ctx, nil); err != boom {
		t.Errorf("Apply: %v", err)
	}
	if err := bad.RecordRun(ctx, history.Run{}); err != boom {
		t.Errorf("RecordRun: %v", err)
	}
	if _, err := bad.Prune(ctx, time.Now()); err != boom {
		t.Errorf("Prune: %v", err)
	}
	good := m.Store(failingStore{})
	good.Apply(ctx, nil)
	good.RecordRun(ctx, history.Run{})
	good.Prune(ctx, time.Now())
	if got := parseText(t, mustAppend(t, m.Gather()))["netsess_watch_store_errors_total"]; got != 3 {
		t.Errorf("store errors %v, want 3", got)
	}
}

// Exclude leaves sessions out of the per-server count.
func TestExclude(t *testing.T) {
	m := New()
	m.Exclude = func(r *scan.Result, s client.Session) bool { return s.UserName == "collector" }
	r := ok("fs1", time.Unix(1000, 0), 0)
	for _, u := range []string{"alice", "collector", "bob"} {
		var s client.Session
		s.UserName = u
		r.Sessions = append(r.Sessions, s)
	}
	m.Round([]*scan.Result{r}, time.Unix(1001, 0), time.Second)
	if got := parseText(t, mustAppend(t, m.Gather()))["netsess_watch_sessions{server=fs1}"]; got != 2 {
		t.Errorf("sessions %v, want 2", got)
	}
}
