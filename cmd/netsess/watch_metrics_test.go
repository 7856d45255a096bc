package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/internal/promtext/promtexttest"
	"github.com/netsession/netsession/internal/watchmetrics"
)

// watch --metrics serves, while the rounds run, the fleet's truth: the
// sessions of each server (the collector's own left out), the hosts by
// outcome, the events written, and a server that goes dark keeps its
// last known sessions and last success.
func TestWatchMetrics(t *testing.T) {
	f := startTestFleet(t, 30, fleet.Normal, fleet.Samba, fleet.Denied, fleet.Refuse, fleet.Normal)
	truth := f.Truth()
	targets := f.Targets()
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	var stderr syncBuffer
	addrRE := regexp.MustCompile(`metrics at http://(\S+)/metrics`)
	eventCounts := func() map[history.EventKind]int {
		b, err := os.ReadFile(events)
		if err != nil {
			t.Fatal(err)
		}
		n := map[history.EventKind]int{}
		for _, e := range readEvents(t, string(b)) {
			n[e.Kind]++
		}
		return n
	}
	// check compares a scrape with what it must say after round n: want
	// names the series whose values are known, every other outcome series
	// must be 0, and the events counted are those written.
	check := func(n int, got, want map[string]float64) {
		t.Helper()
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("round %d: %s = %v (present %v), want %v", n, k, g, ok, w)
			}
		}
		for k, g := range got {
			if _, named := want[k]; !named && g != 0 && strings.Contains(k, "{outcome=") {
				t.Errorf("round %d: %s = %v, want 0", n, k, g)
			}
		}
		evs := eventCounts()
		for _, kind := range []history.EventKind{history.SessionStart, history.SessionEnd, history.HostFailed, history.HostRecovered} {
			if g := got["netsess_watch_events_total{event="+string(kind)+"}"]; g != float64(evs[kind]) {
				t.Errorf("round %d: %s events %v, %d written", n, kind, g, evs[kind])
			}
		}
	}
	sessions := func(i int) string { return "netsess_watch_sessions{server=" + targets[i] + "}" }
	success := func(i int) string { return "netsess_watch_last_success_timestamp_seconds{server=" + targets[i] + "}" }
	var last1 map[string]float64
	began := time.Now()
	rounds := 0
	env := clEnv(nil, nil)
	env.sleep = func(ctx context.Context, d time.Duration) error {
		rounds++
		m := addrRE.FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no metrics address on stderr:\n%s", &stderr)
		}
		got := promtexttest.Scrape(t, "http://"+m[1]+"/metrics")
		switch rounds {
		case 1:
			want := map[string]float64{
				"netsess_watch_rounds_total":                 1,
				"netsess_watch_round_duration_seconds_count": 1,
				"netsess_watch_host_duration_seconds_count":  5,
				"netsess_watch_hosts{outcome=collected}":     3, "netsess_watch_hosts{outcome=access_denied}": 1,
				"netsess_watch_hosts{outcome=port_closed}":            1,
				"netsess_watch_host_results_total{outcome=collected}": 3, "netsess_watch_host_results_total{outcome=access_denied}": 1,
				"netsess_watch_host_results_total{outcome=port_closed}": 1,
				"netsess_watch_store_errors_total":                      0,
			}
			for _, i := range []int{0, 1, 4} {
				want[sessions(i)] = float64(len(truth.Hosts[i].Sessions))
			}
			for _, i := range []int{2, 3} {
				if _, ok := got[sessions(i)]; ok {
					t.Errorf("%s exposed for a host never collected", sessions(i))
				}
			}
			check(1, got, want)
			for _, i := range []int{0, 1, 4} {
				if at := got[success(i)]; at < float64(began.Unix()) || at > float64(time.Now().Unix()+1) {
					t.Errorf("%s = %v, not within the round", success(i), at)
				}
			}
			if end := got["netsess_watch_last_round_timestamp_seconds"]; end < float64(began.Unix()) || end > float64(time.Now().Unix()+1) {
				t.Errorf("last round at %v", end)
			}
			last1 = got
			// Before round 2: one more session on host 0, host 4 goes dark.
			if _, err := f.AddSession(0, fleet.Session{Client: "10.20.9.9", User: "zed", Time: 5}); err != nil {
				t.Fatal(err)
			}
			if err := f.SetOutage(4, fleet.Close); err != nil {
				t.Fatal(err)
			}
		case 2:
			want := map[string]float64{
				"netsess_watch_rounds_total":                 2,
				"netsess_watch_round_duration_seconds_count": 2,
				"netsess_watch_host_duration_seconds_count":  10,
				"netsess_watch_hosts{outcome=collected}":     2, "netsess_watch_hosts{outcome=access_denied}": 1,
				"netsess_watch_hosts{outcome=port_closed}": 1, "netsess_watch_hosts{outcome=unreachable}": 1,
				"netsess_watch_host_results_total{outcome=collected}": 5, "netsess_watch_host_results_total{outcome=access_denied}": 2,
				"netsess_watch_host_results_total{outcome=port_closed}": 2, "netsess_watch_host_results_total{outcome=unreachable}": 1,
				sessions(0): float64(len(truth.Hosts[0].Sessions) + 1),
				sessions(1): float64(len(truth.Hosts[1].Sessions)),
				// Unknown is not gone: host 4 keeps what it last showed.
				sessions(4): float64(len(truth.Hosts[4].Sessions)),
				success(4):  last1[success(4)],
			}
			check(2, got, want)
			if got[success(0)] <= last1[success(0)] {
				t.Errorf("host 0's last success did not move: %v then %v", last1[success(0)], got[success(0)])
			}
		}
		return nil
	}
	args := append([]string{"watch", scanU, "--interval", "10s", "--rounds", "3", "--timeout", "3s",
		"--db", filepath.Join(dir, "history.db"), "--events", events, "--metrics", "127.0.0.1:0"}, targets...)
	var stdout syncBuffer
	code := newApp(func(io.Writer) cliEnv { return env }).Run(context.Background(), args, &stdout, &stderr)
	if code != exitOK || rounds != 2 {
		t.Fatalf("watch: exit %d after %d waits\n%s", code, rounds, &stderr)
	}
	// The endpoint goes away with watch.
	m := addrRE.FindStringSubmatch(stderr.String())
	if _, err := http.Get("http://" + m[1] + "/metrics"); err == nil {
		t.Error("metrics still served after watch returned")
	}
	if n := len(watchmetrics.Outcomes()); n != 14 {
		t.Errorf("%d outcomes", n)
	}
}

// --metrics with an address that cannot be listened on is a usage error,
// before any database is opened.
func TestWatchMetricsBadAddress(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	code, _, errOut := runNetsess(context.Background(), clEnv(nil, nil), "watch", scanU, "--rounds", "1", "--db", db, "--metrics", "256.0.0.1:0", "127.1.230.200")
	if code != exitUsage || !strings.Contains(errOut, "--metrics") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the database was created")
	}
}
