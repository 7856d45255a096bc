// Package childpipe starts the child processes of the tests (peer drivers
// and helper copies of the test binary) with pipes to their standard input
// and output.
package childpipe

import (
	"io"
	"os/exec"
	"testing"
)

// Start starts cmd with pipes to its standard input and output and
// returns them; the test fails at once if the pipes or the start fail.
// Set cmd.Stderr and cmd.Env before calling it. The caller waits for cmd
// (closing stdin first is what ends the drivers of the tests).
func Start(tb testing.TB, cmd *exec.Cmd) (stdin io.WriteCloser, stdout io.ReadCloser) {
	tb.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err = cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return stdin, stdout
}
