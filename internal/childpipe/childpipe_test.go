package childpipe

import (
	"bufio"
	"io"
	"os/exec"
	"testing"

	"github.com/netsession/netsession/internal/sambapeer"
)

// TestStartEchoes starts cat and reads back the line written to it: both
// pipes are connected and the process runs until stdin is closed.
func TestStartEchoes(t *testing.T) {
	cat, err := exec.LookPath("cat")
	if err != nil {
		sambapeer.Unavailable(t, "cat", err)
	}
	cmd := exec.Command(cat)
	stdin, stdout := Start(t, cmd)
	if _, err := io.WriteString(stdin, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("read %q, %v; want ping", line, err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
