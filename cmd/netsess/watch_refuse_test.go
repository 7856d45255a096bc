package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/history"
)

// A host whose port stops listening (connection refused) is a failed
// host, not a host whose sessions ended: watch writes host_failed with
// the reason port_closed and no session_end; when the host listens again,
// host_recovered and no session_start (its sessions were open all
// along).
func TestWatchRefusingHost(t *testing.T) {
	f := startTestFleet(t, 42, fleet.Normal, fleet.Normal)
	if _, err := f.AddSession(1, fleet.Session{Client: "10.40.0.1", User: "stayer", Time: 600}); err != nil {
		t.Fatal(err)
	}
	refused := fleet.Expect(fleet.Refuse).Reason
	db := filepath.Join(t.TempDir(), "h.db")
	events := filepath.Join(t.TempDir(), "events.jsonl")
	steps := []fleet.Behavior{fleet.Refuse, fleet.Normal}
	round := 1
	env := clEnv(nil, nil)
	env.sleep = func(ctx context.Context, d time.Duration) error {
		if err := f.SetOutage(1, steps[round-1]); err != nil {
			t.Error(err)
		}
		round++
		return nil
	}
	args := append([]string{"watch", scanU, "--interval", "10s", "--rounds", "3", "--timeout", "10s", "--db", db, "--events", events}, f.Targets()...)
	code, out, errOut := runNetsess(context.Background(), env, args...)
	if code != exitOK || out != "" {
		t.Fatalf("watch: exit %d, stdout %q\n%s", code, out, errOut)
	}
	for _, line := range []string{"round 1: 2 hosts, 2 collected", "round 2: 2 hosts, 1 collected, 1 failed (" + string(refused) + " 1)", "round 3: 2 hosts, 2 collected"} {
		if !strings.Contains(errOut, line) {
			t.Errorf("stderr lacks %q:\n%s", line, errOut)
		}
	}
	written, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	sessions := len(f.Hosts[0].Sessions) + len(f.Hosts[1].Sessions) + 1
	var starts, failed, recovered int
	for _, e := range readEvents(t, string(written)) {
		switch e.Kind {
		case history.SessionStart:
			starts++
		case history.HostFailed:
			failed++
			if e.Server.Target != f.Hosts[1].Target || e.Reason != string(refused) {
				t.Errorf("host_failed %+v, want host 1 %s", e, refused)
			}
		case history.HostRecovered:
			recovered++
			if e.Server.Target != f.Hosts[1].Target {
				t.Errorf("host_recovered %+v, want host 1", e)
			}
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if starts != sessions || failed != 1 || recovered != 1 {
		t.Errorf("%d session_start (want %d), %d host_failed, %d host_recovered (want 1 each):\n%s", starts, sessions, failed, recovered, written)
	}
	// Every session, the refusing host's too, is stored once and open.
	if n, open := sessionCount(t, db), sessionCount(t, db, "--at", "now"); n != sessions || open != sessions {
		t.Errorf("%d sessions stored, %d open, want %d and %d", n, open, sessions, sessions)
	}
}
