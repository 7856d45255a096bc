// Package tsharkcap is test support: it captures loopback traffic with
// tshark while a test runs and reads the capture back with Wireshark's
// dissectors, so that tests can show that what this module sends decodes
// cleanly.
//
// It is not meant for use outside tests. Start takes a testing.TB, skips
// or fails the test as the peer rules say when tshark is missing (see
// sambapeer.Unavailable), and stops the capture with t.Cleanup.
package tsharkcap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
)

// Tshark returns tshark's path, skipping tb (failing it under CI=true)
// when it is not installed.
func Tshark(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		sambapeer.Unavailable(tb, "peer tshark", err)
	}
	return p
}

// Start runs tshark on the loopback interface with the capture filter
// filter until the returned stop function is called; stop returns the
// capture file. knock is a host:port that filter captures and that
// listens: Start connects to it until the capture shows traffic, so that
// what the test does next is captured from its first frame.
func Start(tb testing.TB, filter, knock string) (stop func() string) {
	tb.Helper()
	tshark := Tshark(tb)
	file := filepath.Join(tb.TempDir(), "capture.pcapng")
	cmd := exec.Command(tshark, "-i", "lo", "-f", filter, "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Capturing on") {
				started <- true
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		started <- false
	}()
	kill := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	select {
	case ok := <-started:
		if !ok {
			_ = cmd.Wait()
			tb.Skip("tshark cannot capture on lo here")
		}
	case <-time.After(15 * time.Second):
		kill()
		tb.Fatal("tshark did not start capturing")
	}
	// "Capturing on" can come before the filter sees traffic: knock until
	// the capture file shows it (the dissectors need the first frames of
	// an exchange).
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", knock, time.Second); err == nil {
			c.Close()
		}
		time.Sleep(200 * time.Millisecond)
		out, _ := exec.Command(tshark, "-r", file).Output() // the file is still being written
		if len(strings.TrimSpace(string(out))) > 0 {
			break
		}
		if time.Now().After(deadline) {
			kill()
			tb.Fatalf("tshark captured nothing of %q", filter)
		}
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			time.Sleep(300 * time.Millisecond) // let the last frames reach the capture
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		return file
	}
	tb.Cleanup(func() { stop() })
	return stop
}

// Read runs tshark on a capture file with args (display options, decode
// rules) and returns its output, failing tb when tshark fails.
func Read(tb testing.TB, file string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(Tshark(tb), append([]string{"-r", file}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("tshark -r %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// expertError matches the lines of a verbose decode (-V) that report a
// malformed packet or an error-level expert note.
var expertError = regexp.MustCompile(`(?i)malformed|\[Expert Info \(Error`)

// negHints is how Wireshark reports the negHints of an SPNEGO
// NegTokenInit2 (MS-SPNG 2.2.1, in every SMB2 NEGOTIATE answer of Windows
// and Samba alike): it reads them as an RFC 4178 mechListMIC.
const negHints = "OctetString expected but class:UNIVERSAL(0) Constructed tag:16 was unexpected"

// Problems returns the lines of a verbose decode that report malformed
// packets or errors, numbered, and how many NegTokenInit2 negHints
// reports it holds (not counted as problems: a Wireshark limitation).
func Problems(verbose string) (problems []string, hintReports int) {
	lastHint := -10
	for i, line := range strings.Split(verbose, "\n") {
		switch {
		case strings.Contains(line, negHints):
			if i > lastHint+3 {
				hintReports++
			}
			lastHint = i
		case strings.TrimSpace(line) == "[Group: Malformed]" && i <= lastHint+2:
		case expertError.MatchString(line):
			problems = append(problems, fmt.Sprintf("line %d: %s", i+1, strings.TrimSpace(line)))
		}
	}
	return problems, hintReports
}
