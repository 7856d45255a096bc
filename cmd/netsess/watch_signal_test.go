//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/netsession/netsession/fleet"
)

// SIGTERM (systemd's stop) to a built binary waiting between rounds: the
// round is already stored and written; watch prints its summary and exits
// 130, by itself, not killed by the signal.
func TestWatchSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildNetsess(t, t.TempDir(), nil)
	f := startTestFleet(t, 22, fleet.Normal)
	if _, err := f.AddSession(0, fleet.Session{Client: "10.20.3.3", User: "trudy", Time: 60}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "h.db")
	cmd, sc, stderr := startBinary(t, bin, "watch", scanU, "--interval", "10m", "--db", db, f.Targets()[0])
	var out strings.Builder
	for n := 0; sc.Scan(); {
		out.WriteString(sc.Text() + "\n")
		if n++; n == len(f.Hosts[0].Sessions)+1 {
			// Round 1's events are out: watch now waits for round 2.
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitInterrupted(t, cmd, stderr)
	if !strings.Contains(out.String(), `"user":"trudy"`) || !strings.Contains(stderr.String(), "1 round in") || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
	if n := sessionCount(t, db); n != len(f.Hosts[0].Sessions)+1 {
		t.Errorf("%d sessions stored, want %d", n, len(f.Hosts[0].Sessions)+1)
	}
}
