package sambapeer

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPeerLifecycle starts an instance, holds sessions from several
// loopback addresses, checks that Samba lists them, and checks that Stop
// leaves no process behind.
func TestPeerLifecycle(t *testing.T) {
	RequireImpacket(t)
	p, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			p.Stop()
		}
	})
	if len(p.Pids()) < 2 {
		t.Errorf("after warm-up, want smbd and its RPC helpers, got pids %v", p.Pids())
	}
	h := p.HoldT(t,
		Session{User: AdminUser, Password: AdminPassword, From: "127.0.0.2", OpenFile: true},
		Session{User: "", From: "127.0.0.3"},
		Session{User: "nsp_nosuchuser", Password: "x", From: "127.0.0.4", Count: 2},
	)
	if h.Count != 4 {
		t.Errorf("holder holds %d sessions, want 4", h.Count)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := p.RPCClient(ctx, AdminUser, AdminPassword, "netsessenum").CombinedOutput()
	if err != nil {
		t.Fatalf("rpcclient: %v: %s", err, out)
	}
	// 4 held + rpcclient's own session.
	if !strings.Contains(string(out), "Received 5 entries") {
		t.Errorf("rpcclient netsessenum: %s", out)
	}
	holderPid := h.Pid()
	all := append(p.Pids(), holderPid)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, pid := range all {
		if alive(pid) {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
	if left := p.ConfPids(); len(left) != 0 {
		t.Errorf("processes naming the instance's configuration after Stop: %v", left)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("instance directory left behind: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestHoldFailure: a holder that cannot log on reports it instead of
// hanging.
func TestHoldFailure(t *testing.T) {
	RequireImpacket(t)
	p := Start(t, Options{NoWarm: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := p.Hold(ctx, Session{User: AdminUser, Password: "wrong", From: "127.0.0.2"})
	if err == nil || !strings.Contains(err.Error(), "LOGON_FAILURE") {
		t.Fatalf("Hold with a wrong password: %v, want a logon failure", err)
	}
}

// TestOwnsListener: the check that tells smbd's listener from another
// program's that took the port first.
func TestOwnsListener(t *testing.T) {
	if platformSupported() != nil {
		t.Skip(platformSupported())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if !ownsListener(os.Getpid(), port) {
		t.Error("our own listener not recognised")
	}
	if ownsListener(os.Getppid(), port) {
		t.Error("another process credited with our listener")
	}
	if !listening(port) {
		t.Error("listening() misses our listener")
	}
}

// TestFreeRange: a range of ports that can all be bound.
func TestFreeRange(t *testing.T) {
	base, err := freeRange(16)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, ok := ephemeralRange(); ok && base+15 >= lo && base <= hi {
		t.Errorf("range %d-%d overlaps the ephemeral range %d-%d", base, base+15, lo, hi)
	}
}
