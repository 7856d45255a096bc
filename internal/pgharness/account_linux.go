//go:build linux

package pgharness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ensureAccount creates the system account Account if it is missing, under
// a machine-wide file lock (test binaries run in parallel processes), and
// returns its credentials.
func ensureAccount(ctx context.Context) (*syscall.Credential, error) {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "netsession-pgharness-account.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // releases the flock
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pgharness: waiting for the account lock: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	u, err := user.Lookup(Account)
	if err != nil {
		shell := "/usr/sbin/nologin"
		if _, err := os.Stat(shell); err != nil {
			shell = "/bin/false"
		}
		out, err := exec.CommandContext(ctx, "useradd", "--system", "-M", "-U", "-d", "/nonexistent", "-s", shell, Account).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("pgharness: useradd %s: %v: %s", Account, err, out)
		}
		if u, err = user.Lookup(Account); err != nil {
			return nil, err
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgharness: account %s: %w", Account, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}
