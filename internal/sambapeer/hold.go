package sambapeer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Session describes sessions for Hold to open.
type Session struct {
	// User logs on with Password; "" is an anonymous (NULL) session; a
	// name the server does not know becomes a guest session.
	User     string `json:"user"`
	Password string `json:"password"`
	// From is the local source address ("127.0.0.2"); "" lets the kernel
	// choose (127.0.0.1). Samba reports it as the session's client name.
	From string `json:"from"`
	// Share to tree connect to; default "data" for the two real accounts,
	// "public" (guest ok) otherwise.
	Share string `json:"share"`
	// OpenFile keeps one file open in the share (num_opens 1).
	OpenFile bool `json:"open_file"`
	// Count sessions like this one (default 1).
	Count int `json:"count"`
}

// Holder is a process holding sessions open.
type Holder struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	end    chan struct{}
	Count  int // sessions held
	stderr *strings.Builder
}

// Hold opens the sessions and keeps them open until Release or Stop.
func (p *Peer) Hold(ctx context.Context, sessions ...Session) (*Holder, error) {
	type spec struct {
		Host     string    `json:"host"`
		Port     int       `json:"port"`
		Sessions []Session `json:"sessions"`
	}
	s := spec{Host: Host, Port: p.Port}
	want := 0
	for _, ss := range sessions {
		if ss.Count == 0 {
			ss.Count = 1
		}
		if ss.Share == "" {
			ss.Share = "public"
			if ss.User == AdminUser || ss.User == User {
				ss.Share = "data"
			}
		}
		want += ss.Count
		s.Sessions = append(s.Sessions, ss)
	}
	arg, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	script := filepath.Join(p.Dir, "holder.py")
	if _, err := os.Stat(script); err != nil {
		if err := os.WriteFile(script, holderScript, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(python, script, string(arg))
	cmd.SysProcAttr = childAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	h := &Holder{cmd: cmd, stdin: stdin, stderr: &strings.Builder{}}
	cmd.Stderr = h.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("holder: %w", err)
	}
	ready := make(chan error, 1)
	h.end = make(chan struct{})
	go func() {
		defer close(h.end)
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err != nil {
			ready <- fmt.Errorf("holder ended before ready: %w", err)
		} else if _, err := fmt.Sscanf(line, "ready %d", &h.Count); err != nil {
			ready <- fmt.Errorf("holder said %q", line)
		} else {
			ready <- nil
		}
		// Wait only after the pipe is drained (exec.Cmd's rule).
		io.Copy(io.Discard, r)
		h.cmd.Wait()
	}()
	var rerr error
	select {
	case rerr = <-ready:
	case <-ctx.Done():
		rerr = ctx.Err()
	}
	if rerr == nil && h.Count != want {
		rerr = fmt.Errorf("holder holds %d sessions, want %d", h.Count, want)
	}
	if rerr != nil {
		h.Release()
		return nil, fmt.Errorf("%w; stderr: %s", rerr, strings.TrimSpace(h.stderr.String()))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		h.Release()
		return nil, errors.New("peer stopped")
	}
	p.holders = append(p.holders, h)
	return h, nil
}

// HoldT is Hold for tests: it fails tb on error.
func (p *Peer) HoldT(tb testing.TB, sessions ...Session) *Holder {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := p.Hold(ctx, sessions...)
	if err != nil {
		tb.Fatalf("samba peer: hold: %v", err)
	}
	return h
}

// Release closes the held sessions (the holder logs off and exits) and
// waits for the process; it kills it if it does not end in 5 s.
func (h *Holder) Release() error {
	h.stdin.Close()
	select {
	case <-h.end:
		return nil
	case <-time.After(5 * time.Second):
	}
	h.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-h.end:
		return errors.New("holder killed after 5s")
	case <-time.After(5 * time.Second):
		return errors.New("holder does not exit")
	}
}

// Pid is the holder process's PID.
func (h *Holder) Pid() int { return h.cmd.Process.Pid }
