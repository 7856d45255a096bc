package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/internal/pgharness"
	"github.com/netsession/netsession/internal/syncbuf"
	"github.com/netsession/netsession/session"
)

// testPG is the PostgreSQL server of this package's tests, started on
// first use and stopped by TestMain.
var testPG pgharness.Shared

// pgURL turns a pgharness DSN (key=value) into the postgres:// URL that
// --db takes.
func pgURL(t *testing.T, dsn string) string {
	t.Helper()
	kv := map[string]string{}
	for _, f := range strings.Fields(dsn) {
		k, v, _ := strings.Cut(f, "=")
		kv[k] = v
	}
	q := url.Values{"host": {kv["host"]}, "port": {kv["port"]}, "sslmode": {kv["sslmode"]}}
	return (&url.URL{Scheme: "postgres", User: url.User(kv["user"]), Path: "/" + kv["dbname"], RawQuery: q.Encode()}).String()
}

// freshPG returns the --db URL of a new database on the shared server.
func freshPG(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := testPG.Get(t).CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pgURL(t, dsn)
}

// runNetsess runs a netsess command line with env in ctx.
func runNetsess(ctx context.Context, env cliEnv, args ...string) (int, string, string) {
	var out, errb syncbuf.Buffer
	code := newApp(func(io.Writer) cliEnv { return env }).Run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// readEvents parses JSON Lines of events.
func readEvents(t *testing.T, text string) []history.Event {
	t.Helper()
	var evs []history.Event
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var e history.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// scripted is one session of the script: where, who, and when it began.
type scripted struct {
	host         int
	client, user string
	start        time.Time
	h            *session.Session
}

// reported is a client address as the fleet's host reports it: with
// Windows' \\ on the Normal hosts 0 and 1, bare on the Samba host 2.
func reported(host int, client string) string {
	if host == 2 {
		return client
	}
	return `\\` + client
}

// wantEvent is one event the script causes.
type wantEvent struct {
	round        int
	kind         history.EventKind
	host         int
	client, user string
}

// watchScript runs netsess watch --rounds 4 against a fleet whose hosts
// change between rounds on a script, with the database db, and checks
// that the events (written and stored) and the stored sessions are
// exactly the script's. It returns the fleet and the sessions by name.
func watchScript(t *testing.T, third byte, db string) (*fleet.Fleet, map[string]*scripted) {
	f, err := fleet.Start(context.Background(), fleet.Config{
		Hosts: 3, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Normal, fleet.Samba}, Base: testBase(third), MaxSessions: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ss := map[string]*scripted{}
	open := func(name string, host int, client, user string, age uint32) {
		t.Helper()
		start := time.Now().Add(-time.Duration(age) * time.Second)
		h, err := f.AddSession(host, fleet.Session{Client: client, User: user, Time: age})
		if err != nil {
			t.Fatal(err)
		}
		ss[name] = &scripted{host: host, client: reported(host, client), user: user, start: start, h: h}
	}
	outage := func(host int, b fleet.Behavior) {
		t.Helper()
		if err := f.SetOutage(host, b); err != nil {
			t.Fatal(err)
		}
	}
	// Before round 1: four sessions on three hosts.
	open("A", 0, "10.20.0.1", "alice", 3600)
	open("B", 0, "10.20.0.2", "bob", 7200)
	open("C", 1, "10.20.0.3", "carol", 600)
	open("D", 2, "10.20.0.4", "dave", 100)
	steps := []func(){
		// Before round 2: bob leaves, erin arrives, host 1 hangs.
		func() { ss["B"].h.Close(); open("E", 0, "10.20.0.5", "erin", 5); outage(1, fleet.Hang) },
		// Before round 3: alice reconnects (a new session from the same
		// client); host 1 now closes connections (still dark).
		func() {
			ss["A"].h.Close()
			open("A2", 0, "10.20.0.1", "alice", 1)
			outage(1, fleet.Close)
		},
		// Before round 4: host 1 is back with carol's session as it was;
		// dave leaves host 2.
		func() { outage(1, fleet.Normal); ss["D"].h.Close() },
	}
	want := []wantEvent{
		{1, history.SessionStart, 0, `\\10.20.0.1`, "alice"}, {1, history.SessionStart, 0, `\\10.20.0.2`, "bob"},
		{1, history.SessionStart, 1, `\\10.20.0.3`, "carol"}, {1, history.SessionStart, 2, "10.20.0.4", "dave"},
		{2, history.SessionEnd, 0, `\\10.20.0.2`, "bob"}, {2, history.SessionStart, 0, `\\10.20.0.5`, "erin"}, {2, history.HostFailed, 1, "", ""},
		{3, history.SessionEnd, 0, `\\10.20.0.1`, "alice"}, {3, history.SessionStart, 0, `\\10.20.0.1`, "alice"},
		{4, history.HostRecovered, 1, "", ""}, {4, history.SessionEnd, 2, "10.20.0.4", "dave"},
	}
	// bounds[i] is when round i+1 could start; the last is the end.
	bounds := []time.Time{time.Now()}
	env := clEnv(nil, nil)
	env.sleep = func(ctx context.Context, d time.Duration) error {
		if d > minInterval {
			t.Errorf("watch waits %v, more than its interval", d)
		}
		bounds = append(bounds, time.Now())
		steps[len(bounds)-2]()
		return nil
	}
	events := filepath.Join(t.TempDir(), "events.jsonl")
	args := append([]string{"watch", scanU, "--interval", "10s", "--rounds", "4", "--timeout", "3s", "--db", db, "--events", events}, f.Targets()...)
	code, out, errOut := runNetsess(context.Background(), env, args...)
	bounds = append(bounds, time.Now())
	if code != exitOK || out != "" {
		t.Fatalf("watch: exit %d, stdout %q\n%s", code, out, errOut)
	}
	for i, line := range []string{"round 1: 3 hosts, 3 collected", "round 2: 3 hosts, 2 collected, 1 failed (timeout 1)",
		"round 3: 3 hosts, 2 collected, 1 failed", "round 4: 3 hosts, 3 collected", "4 rounds in"} {
		if !strings.Contains(errOut, line) {
			t.Errorf("stderr lacks line %d %q:\n%s", i, line, errOut)
		}
	}
	if strings.Contains(errOut, "rounds in 0s") {
		t.Errorf("the summary says the rounds took no time:\n%s", errOut)
	}
	written, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	got := readEvents(t, string(written))
	// The events, round by round, are the script's.
	round := func(at time.Time) int {
		for i := 1; i < len(bounds); i++ {
			if !at.Before(bounds[i-1]) && at.Before(bounds[i]) {
				return i
			}
		}
		return -1
	}
	var gotW []wantEvent
	for _, e := range got {
		host := slices.Index(f.Targets(), e.Server.Target)
		if e.Server.Address != f.Hosts[max(host, 0)].Addr.String() {
			t.Errorf("event %+v: address %q", e, e.Server.Address)
		}
		gotW = append(gotW, wantEvent{round(e.At), e.Kind, host, e.Session.Client, e.Session.User})
		if e.Kind == history.HostFailed && e.Reason != "timeout" {
			t.Errorf("host_failed reason %q, want timeout (a hanging host)", e.Reason)
		}
	}
	key := func(w wantEvent) string {
		return fmt.Sprintf("%d %s %d %s %s", w.round, w.kind, w.host, w.client, w.user)
	}
	sortW := func(ws []wantEvent) []string {
		var out []string
		for _, w := range ws {
			out = append(out, key(w))
		}
		slices.Sort(out)
		return out
	}
	if g, w := sortW(gotW), sortW(want); !slices.Equal(g, w) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	// The stored events are the ones written, in the same order.
	code, stored, errOut := runNetsess(context.Background(), clEnv(nil, nil), "history", "events", "--json", "--db", db)
	if code != exitOK || stored != string(written) {
		t.Errorf("history events: exit %d %s\nstored:\n%s\nwritten:\n%s", code, errOut, stored, written)
	}
	// The stored sessions are the script's: who, where, when it started
	// (within the estimate's jitter), and in which round it was first
	// seen, last seen and ended.
	type life struct{ first, last, ended int }
	lives := map[string]life{"A": {1, 2, 3}, "B": {1, 1, 2}, "C": {1, 4, 0}, "D": {1, 3, 4}, "E": {2, 4, 0}, "A2": {3, 4, 0}}
	code, js, errOut := runNetsess(context.Background(), clEnv(nil, nil), "history", "--json", "--db", db)
	if code != exitOK {
		t.Fatalf("history: %d %s", code, errOut)
	}
	var rows []map[string]any
	for line := range strings.Lines(js) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	if len(rows) != len(lives) {
		t.Errorf("%d stored sessions, want %d:\n%s", len(rows), len(lives), js)
	}
	ts := func(m map[string]any, k string) time.Time {
		s, _ := m[k].(string)
		if s == "" {
			return time.Time{}
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Errorf("%s %q: %v", k, s, err)
		}
		return v
	}
	for name, l := range lives {
		s := ss[name]
		var m map[string]any
		for _, r := range rows {
			st := ts(r, "start")
			if r["target"] == f.Hosts[s.host].Target && r["client"] == s.client && r["user"] == s.user && st.Sub(s.start).Abs() < 3*time.Second {
				m = r
			}
		}
		if m == nil {
			t.Errorf("session %s (%s on host %d, start %v) not stored", name, s.user, s.host, s.start)
			continue
		}
		gotL := life{round(ts(m, "first_seen")), round(ts(m, "last_seen")), 0}
		if m["open"] == false {
			gotL.ended = round(ts(m, "ended_at"))
		}
		if gotL != l {
			t.Errorf("session %s: rounds first/last/ended %v, want %v (%v)", name, gotL, l, m)
		}
	}
	return f, ss
}

// The proof: watch against a fleet that changes on a script, on SQLite
// and on PostgreSQL; then history's queries over what it stored.
func TestWatchScript(t *testing.T) {
	for i, eng := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "h", "history.db") }},
		{"postgres", freshPG},
	} {
		t.Run(eng.name, func(t *testing.T) {
			db := eng.db(t)
			f, ss := watchScript(t, byte(10+i), db)
			checkHistoryQueries(t, db, f, ss)
		})
	}
}

// checkHistoryQueries asks history what the script stored.
func checkHistoryQueries(t *testing.T, db string, f *fleet.Fleet, ss map[string]*scripted) {
	env := clEnv(nil, nil)
	users := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runNetsess(context.Background(), env, append([]string{"history", "--db", db, "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("history %v: %d %s", args, code, errOut)
		}
		var got []string
		for line := range strings.Lines(out) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprint(m["user"]))
		}
		slices.Sort(got)
		return got
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--user", "ALICE"}, []string{"alice", "alice"}},
		{[]string{"--user", `FLEET\alice`}, []string{"alice", "alice"}},
		{[]string{"--user", "mallory"}, nil},
		{[]string{"--server", f.Hosts[1].Target}, []string{"carol"}},
		{[]string{"--server", f.Hosts[2].Addr.String()}, []string{"dave"}},
		{[]string{"--client", "10.20.0.1"}, []string{"alice", "alice"}},
		// Active half an hour ago: alice (the first) and bob; carol and
		// dave had not begun. An hour and a half ago: bob alone.
		{[]string{"--at", "30m"}, []string{"alice", "bob"}},
		{[]string{"--at", "90m"}, []string{"bob"}},
		// Started or ended in the last minute: all but carol (started 10
		// minutes ago, open) and dave (started earlier than a minute,
		// ended: included).
		{[]string{"--since", "1m"}, []string{"alice", "alice", "bob", "dave", "erin"}},
		{[]string{"--since", "3h", "--until", "30m"}, []string{"alice", "bob"}},
		{[]string{"--user", "alice", "--limit", "1"}, []string{"alice"}},
	} {
		if got := users(c.args...); !slices.Equal(got, c.want) {
			t.Errorf("history %v: users %v, want %v", c.args, got, c.want)
		}
	}
	// The table: local time by default, UTC with --utc, the host's
	// server text, "open" for an open session.
	code, tab, _ := runNetsess(context.Background(), env, "history", "--db", db, "--user", "carol", "--utc")
	start := ss["C"].start.UTC()
	if code != exitOK || !strings.Contains(tab, "SERVER") || !strings.Contains(tab, f.Hosts[1].Target) || !strings.Contains(tab, " open ") ||
		!strings.Contains(tab, start.Format("2006-01-02 15:04")) || !strings.Contains(tab, "Z") {
		t.Errorf("history --utc table (start %v):\n%s", start, tab)
	}
	local := env
	local.location = time.FixedZone("X", 5*3600+1800)
	code, tab, _ = runNetsess(context.Background(), local, "history", "--db", db, "--user", "carol")
	if code != exitOK || strings.Contains(tab, "Z ") || !strings.Contains(tab, ss["C"].start.In(local.location).Format("2006-01-02 15:04")) {
		t.Errorf("history table in local time:\n%s", tab)
	}
	code, tab, _ = runNetsess(context.Background(), env, "history", "--db", db, "--user", "nobody")
	if code != exitCodeFor(t, helpOf(t, "history"), "matches nothing") || tab != "(no sessions)\n" {
		t.Errorf("no match: %d %q", code, tab)
	}
	// CSV: a header of the JSON keys, a row per session.
	code, csvOut, _ := runNetsess(context.Background(), env, "history", "--db", db, "--csv", "--user", "alice")
	lines := strings.Split(strings.TrimSpace(csvOut), "\n")
	if code != exitOK || len(lines) != 3 || lines[0] != strings.Join(sessionColumns, ",") {
		t.Errorf("history --csv:\n%s", csvOut)
	}
	// The summary counts servers, users and sessions per day.
	code, js, errOut := runNetsess(context.Background(), env, "history", "summary", "--db", db, "--json")
	var sum struct {
		Servers, Failing, Users, Sessions, Open int
		Days                                    []struct{ Started, Ended int }
	}
	if err := json.Unmarshal([]byte(js), &sum); code != exitOK || err != nil {
		t.Fatalf("summary: %d %v %s", code, err, errOut)
	}
	started := 0
	for _, d := range sum.Days {
		started += d.Started
	}
	if sum.Servers != 3 || sum.Failing != 0 || sum.Users != 5 || sum.Sessions != 6 || sum.Open != 3 || started != 6 {
		t.Errorf("summary %+v", sum)
	}
	if code, txt, _ := runNetsess(context.Background(), env, "history", "summary", "--db", db); code != exitOK || !strings.Contains(txt, "sessions  6 (3 open)") {
		t.Errorf("summary table:\n%s", txt)
	}
	code, evTab, _ := runNetsess(context.Background(), env, "history", "events", "--db", db, "--server", f.Hosts[1].Target, "--utc")
	if code != exitOK || !strings.Contains(evTab, "host_failed") || !strings.Contains(evTab, "timeout") || !strings.Contains(evTab, "host_recovered") {
		t.Errorf("events table:\n%s", evTab)
	}
}
