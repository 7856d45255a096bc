//go:build !linux

package sambapeer

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

func platformSupported() error { return errors.New("the Samba peer runs on Linux only") }

func childAttr() *syscall.SysProcAttr               { return nil }
func instancePids(conf string, roots []int) []int   { return roots }
func confPids(conf string) []int                    { return nil }
func killAll(pids []int, grace time.Duration) error { return errors.ErrUnsupported }
func listening(port int) bool                       { return false }
func acquireAccounts(ctx context.Context) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
func releaseAccounts(ctx context.Context, users *os.File) (bool, error) {
	return false, errors.ErrUnsupported
}
func lockFile(ctx context.Context, path string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

func ownsListener(pid, port int) bool { return true }

func alive(pid int) bool { return false }

func ephemeralRange() (lo, hi int, ok bool) { return 0, 0, false }

func descendants(roots []int) []int { return roots }

func tcpListeners() []Listener { return nil }
