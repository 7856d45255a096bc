//go:build unix

package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
)

// startBinary starts the built netsess bin with args (killed after a
// minute at most) and returns it with a scanner over its stdout and its
// stderr as written so far.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	t.Cleanup(func() { timer.Stop() })
	return cmd, bufio.NewScanner(stdout), stderr
}

// waitInterrupted waits for cmd and fails t unless it exited 130 by
// itself (not killed by the signal it was sent).
func waitInterrupted(t *testing.T, cmd *exec.Cmd, stderr *strings.Builder) {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v (want %d)\n%s", err, exitInterrupted, stderr.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatal("killed by the signal instead of exiting")
	}
}

// SIGINT to a built binary: the scan stops starting hosts, writes the
// results it has (the hosts that answered, the ones in progress as
// canceled), prints the summary and exits 130.
func TestScanSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildNetsess(t, t.TempDir(), nil)
	f := startTestFleet(t, 5, fleet.Normal, fleet.Hang, fleet.Normal, fleet.Hang)
	cmd, sc, stderr := startBinary(t, bin, append([]string{"scan", scanU, "--json", "--timeout", "10m", "--grace", "100ms"}, f.Targets()...)...)
	var out strings.Builder
	for n := 0; sc.Scan(); {
		out.WriteString(sc.Text() + "\n")
		if n++; n == 2 {
			// Both answering hosts are in; the hanging ones are in progress.
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitInterrupted(t, cmd, stderr)
	hosts := parseHostLines(t, out.String())
	for _, h := range f.Hosts {
		got, ok := hosts[h.Target]
		if !ok || (h.Behavior == fleet.Normal) != got.Collected || (h.Behavior == fleet.Hang && got.Reason != "canceled") {
			t.Errorf("%s (%s): %+v", h.Target, h.Behavior, got)
		}
	}
	if e := stderr.String(); !strings.Contains(e, "scanned 4 hosts") || !strings.Contains(e, "canceled 2") {
		t.Errorf("stderr:\n%s", e)
	}
}
