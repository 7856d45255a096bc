package sambapeer

import (
	"context"
	"os"
	"strings"
	"syscall"
	"time"
)

// The process and lock helpers below are shared with the other test
// harnesses that run Samba (the AD DC one), so that every harness stops
// and serialises its processes the same way.

// LockFile takes an exclusive flock on path, waiting until ctx ends. The
// lock is released when the returned file is closed or the process ends.
func LockFile(ctx context.Context, path string) (*os.File, error) { return lockFile(ctx, path) }

// ChildAttr makes a started process die with the test binary, should the
// test binary die without running its cleanups.
func ChildAttr() *syscall.SysProcAttr { return childAttr() }

// KillAll sends SIGTERM to pids, waits up to grace for them to end, then
// sends SIGKILL to the rest.
func KillAll(pids []int, grace time.Duration) error { return killAll(pids, grace) }

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool { return alive(pid) }

// Listening reports whether anything listens on TCP port on any address.
func Listening(port int) bool { return listening(port) }

// Descendants returns the live processes that descend from roots, through
// every generation, roots included: the way to find a daemon's workers
// when they rename themselves or start sessions of their own.
func Descendants(roots []int) []int { return descendants(roots) }

// ConfPids lists every live process whose command line names conf (a
// configuration file path), whoever started it: helpers that a daemon
// spawns and that leave its process tree (samba-dcerpcd calls setsid and
// is reparented) are found this way.
func ConfPids(conf string) []int { return confPids(conf) }

// Listener is one TCP socket in the LISTEN state as the kernel lists it.
type Listener struct {
	// Addr is the local address in the kernel's hexadecimal form.
	Addr string
	// Port is the local TCP port.
	Port int
	// Inode is the socket's inode number, "" when the line lacks it.
	Inode string
}

// Wildcard reports whether l is bound to the wildcard address (0.0.0.0
// or ::).
func (l Listener) Wildcard() bool { return strings.Trim(l.Addr, "0") == "" }

// TCPListeners lists the TCP sockets in the LISTEN state, IPv4 and IPv6
// (none where the platform offers no such list).
func TCPListeners() []Listener { return tcpListeners() }
