// Package tsharkcap captures loopback traffic with tshark for tests that
// check how Wireshark's dissectors decode this module's exchanges.
package tsharkcap

import (
	"bufio"
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

// ExpertError matches the lines of a verbose decode (tshark -V) that say
// a dissector found something wrong.
var ExpertError = regexp.MustCompile(`(?i)malformed|\[Expert Info \(Error`)

// Path returns tshark's path; without it the test is skipped, or fails
// under CI=true.
func Path(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		sambapeer.Unavailable(t, "peer tshark", err)
	}
	return p
}

// Start runs tshark on the loopback interface for TCP port until the
// returned stop function is called; stop returns the capture file. knock
// is a HOST:PORT address of a listener on that port: tshark's "Capturing
// on" can come before the filter sees traffic, so Start connects to it
// until the capture shows the connection, and the exchanges that follow
// are captured from their first frame (the dissectors need the bind).
func Start(t *testing.T, knock string) func() string {
	t.Helper()
	_, port, err := net.SplitHostPort(knock)
	if err != nil {
		t.Fatal(err)
	}
	tshark := Path(t)
	file := filepath.Join(t.TempDir(), "capture.pcapng")
	cmd := exec.Command(tshark, "-i", "lo", "-f", "tcp port "+port, "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
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
	select {
	case ok := <-started:
		if !ok {
			_ = cmd.Wait()
			t.Skip("tshark cannot capture on lo here")
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("tshark did not start capturing")
	}
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
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatal("tshark captured nothing on the port")
		}
	}
	stopped := false
	stop := func() string {
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
	t.Cleanup(func() { stop() })
	return stop
}
