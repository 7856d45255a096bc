package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/history"
)

// collectorTargets returns the targets of collector k of n: with two
// collectors both take every host (one in reverse order), with more each
// leaves out a different third (the hosts i with i%3 == k%3), so that
// every host is scanned by at least two collectors at once.
func collectorTargets(targets []string, n, k int) []string {
	var out []string
	for i, tg := range targets {
		if n > 2 && i%3 == k%3 {
			continue
		}
		out = append(out, tg)
	}
	if n == 2 && k == 1 {
		slices.Reverse(out)
	}
	return out
}

// Two and then four collectors sharing one PostgreSQL database watch
// overlapping parts of one fleet at the same time, two rounds each; between
// the rounds one session ends and another begins. The database holds every
// session once, the ended one ended once and the new one started once, and
// the collectors' event files together hold one session_start per session
// and one session_end for the ended one: what two collectors both see is
// decided in the database, and only one of them reports it.
func TestWatchConcurrentCollectors(t *testing.T) {
	for i, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d collectors", n), func(t *testing.T) {
			bs := slices.Repeat([]fleet.Behavior{fleet.Normal}, 12)
			bs[5] = fleet.Samba
			f := startTestFleet(t, byte(40+i), bs...)
			db := freshPG(t)
			// The session that ends between the rounds, on a host every
			// collector but one scans, and the one that begins then.
			endHost, newHost := 4, 7
			gone, err := f.AddSession(endHost, fleet.Session{Client: "10.30.0.1", User: "leaver", Time: 900})
			if err != nil {
				t.Fatal(err)
			}

			arrived := make(chan int, n)
			release := make(chan struct{})
			type result struct {
				code        int
				out, errOut string
			}
			results := make([]result, n)
			files := make([]string, n)
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for k := range n {
				files[k] = filepath.Join(t.TempDir(), fmt.Sprintf("events%d.jsonl", k))
				env := clEnv(nil, nil)
				env.sleep = func(ctx context.Context, d time.Duration) error {
					arrived <- k
					select {
					case <-release:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				args := append([]string{"watch", scanU, "--interval", "10s", "--rounds", "2", "--timeout", "20s", "--db", db, "--events", files[k]},
					collectorTargets(f.Targets(), n, k)...)
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, out, errOut := runNetsess(ctx, env, args...)
					results[k] = result{code, out, errOut}
				}()
			}
			// Every collector has stored its first round: change the
			// fleet, then let them all make their second.
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for range n {
				select {
				case <-arrived:
				case <-done:
					t.Fatalf("a collector stopped before its second round: %+v", results)
				case <-ctx.Done():
					t.Fatal("the collectors' first rounds did not end")
				}
			}
			gone.Close()
			if _, err := f.AddSession(newHost, fleet.Session{Client: "10.30.0.2", User: "joiner", Time: 2}); err != nil {
				t.Fatal(err)
			}
			close(release)
			<-done
			for k, r := range results {
				hosts := len(collectorTargets(f.Targets(), n, k))
				line := fmt.Sprintf("round 2: %s, %d collected", plural(hosts, "host"), hosts)
				if r.code != exitOK || r.out != "" || !strings.Contains(r.errOut, line) {
					t.Errorf("collector %d: exit %d, stdout %q, want %q in\n%s", k, r.code, r.out, line, r.errOut)
				}
			}

			// The truth: every host's sessions of the fleet's start, the
			// one that ended and the one that began.
			type key struct{ target, client, user string }
			truth := map[key]int{}
			// The client as the host reports it, less the UNC prefix and
			// an IPv6 address's brackets.
			bare := func(c string) string { return strings.Trim(strings.TrimPrefix(c, `\\`), "[]") }
			for _, h := range f.Hosts {
				for _, s := range h.Sessions {
					truth[key{h.Target, bare(s.Client), s.User}]++
				}
			}
			endKey := key{f.Hosts[endHost].Target, "10.30.0.1", "leaver"}
			newKey := key{f.Hosts[newHost].Target, "10.30.0.2", "joiner"}
			truth[endKey]++
			truth[newKey]++

			// The database: every session once, the right ones open.
			st, _, err := openStore(context.Background(), db, true)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			stored, err := st.Sessions(context.Background(), history.Query{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[key]int{}
			ids := map[int64]key{}
			for _, s := range stored {
				k := key{s.Server.Target, bare(s.Client), s.User}
				got[k]++
				ids[s.ID] = k
				if open := k != endKey; s.Open() != open {
					t.Errorf("session %+v: open %v, want %v", s, s.Open(), open)
				}
			}
			if len(stored) != total(truth) || !maps.Equal(got, truth) {
				t.Errorf("stored sessions (%d):\n%v\nwant (%d):\n%v", len(stored), got, total(truth), truth)
			}

			// The events: one session_start per stored session, one
			// session_end (the leaver's), no host events; the same in the
			// database and in the files taken together.
			var written []history.Event
			var lines []string
			for _, file := range files {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				written = append(written, readEvents(t, string(b))...)
				for l := range strings.Lines(string(b)) {
					lines = append(lines, l)
				}
			}
			starts := map[int64]int{}
			var ends []key
			for _, e := range written {
				switch e.Kind {
				case history.SessionStart:
					starts[e.Session.ID]++
				case history.SessionEnd:
					ends = append(ends, key{e.Server.Target, bare(e.Session.Client), e.Session.User})
				default:
					t.Errorf("unexpected event %+v", e)
				}
			}
			for id, c := range starts {
				if _, ok := ids[id]; !ok || c != 1 {
					t.Errorf("session %d (%v): %d session_start events", id, ids[id], c)
				}
			}
			if len(starts) != len(stored) {
				t.Errorf("%d sessions started in the events, %d stored", len(starts), len(stored))
			}
			newStarts := 0
			for id := range starts {
				if ids[id] == newKey {
					newStarts++
				}
			}
			if newStarts != 1 || len(ends) != 1 || ends[0] != endKey {
				t.Errorf("the joiner started %d times; session_end events %v, want one for %v", newStarts, ends, endKey)
			}
			code, inDB, errOut := runNetsess(context.Background(), clEnv(nil, nil), "history", "events", "--json", "--db", db)
			dbLines := slices.Collect(strings.Lines(inDB))
			slices.Sort(dbLines)
			slices.Sort(lines)
			if code != exitOK || !slices.Equal(dbLines, lines) {
				t.Errorf("history events: exit %d %s", code, errOut)
				for _, l := range dbLines {
					if !slices.Contains(lines, l) {
						t.Errorf("stored, not written: %s", l)
					}
				}
				for _, l := range lines {
					if !slices.Contains(dbLines, l) {
						t.Errorf("written, not stored: %s", l)
					}
				}
			}
		})
	}
}

func total[K comparable](m map[K]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
