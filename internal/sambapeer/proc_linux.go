//go:build linux

package sambapeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func platformSupported() error { return nil }

// childAttr makes a started peer process die with the test binary, should
// the test binary die without running its cleanups.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

type procInfo struct {
	pid, ppid, sid int
	state          byte
	cmdline        string
}

// procs reads every process's parent, session, state and command line.
func procs() []procInfo {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pi, ok := readProc(pid)
		if ok {
			out = append(out, pi)
		}
	}
	return out
}

func readProc(pid int) (procInfo, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// pid (comm) state ppid pgrp session ...; comm may hold spaces and ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return procInfo{}, false
	}
	pi := procInfo{pid: pid, state: f[0][0]}
	pi.ppid, _ = strconv.Atoi(f[1])
	pi.sid, _ = strconv.Atoi(f[3])
	cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	pi.cmdline = string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
	return pi, true
}

func alive(pid int) bool {
	pi, ok := readProc(pid)
	// PID 1 may reap orphans late: a zombie is gone for our purposes.
	return ok && pi.state != 'Z' && pi.state != 'X'
}

// instancePids returns the roots and every process that descends from them
// or shares their session, restricted to command lines naming conf (smbd's
// children, samba-dcerpcd --np-helper, which calls setsid, and its rpcd_*
// workers all carry the configuration path).
func instancePids(conf string, roots []int) []int {
	return closure(roots, func(p procInfo, keep map[int]bool) bool {
		return (keep[p.ppid] || keep[p.sid]) && strings.Contains(p.cmdline, conf)
	})
}

// closure returns the live processes reachable from roots, roots
// included: a process joins when joins says so, given the set so far,
// until nothing changes.
func closure(roots []int, joins func(p procInfo, keep map[int]bool) bool) []int {
	all := procs()
	keep := map[int]bool{}
	for _, r := range roots {
		keep[r] = true
	}
	for changed := true; changed; {
		changed = false
		for _, p := range all {
			if !keep[p.pid] && joins(p, keep) {
				keep[p.pid] = true
				changed = true
			}
		}
	}
	var out []int
	for _, p := range all {
		if keep[p.pid] && p.state != 'Z' && p.state != 'X' {
			out = append(out, p.pid)
		}
	}
	return out
}

func confPids(conf string) []int {
	var out []int
	for _, p := range procs() {
		if strings.Contains(p.cmdline, conf) && p.state != 'Z' && p.state != 'X' && p.pid != os.Getpid() {
			out = append(out, p.pid)
		}
	}
	return out
}

// killAll sends SIGTERM to pids, waits up to grace for them to end, then
// sends SIGKILL to the rest.
func killAll(pids []int, grace time.Duration) error {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tcpListeners reads the TCP sockets in the LISTEN state from
// /proc/net/tcp and /proc/net/tcp6.
func tcpListeners() []Listener {
	var ls []Listener
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "0A" {
				continue
			}
			addr, port, ok := strings.Cut(fs[1], ":")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(port, 16, 16)
			if err != nil {
				continue
			}
			l := Listener{Addr: addr, Port: int(n)}
			if len(fs) > 9 {
				l.Inode = fs[9]
			}
			ls = append(ls, l)
		}
	}
	return ls
}

// listening reports whether anything listens on TCP port on any address.
func listening(port int) bool {
	return slices.ContainsFunc(tcpListeners(), func(l Listener) bool { return l.Port == port })
}

// lockFile takes an exclusive flock on path, waiting until ctx ends. The
// lock is released when the returned file is closed (or the process ends).
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The unix accounts are shared by every instance on the machine, in this
// and in other test processes. Two files in the temporary directory
// coordinate them:
//
//   - accountsLockFile, locked exclusively while the accounts are created,
//     a user registers or unregisters, or the accounts are removed;
//   - accountsUsersFile, on which every running instance holds a shared
//     lock from New to Stop (the kernel drops it if the process dies).
//
// The last instance to stop, the one that can lock accountsUsersFile
// exclusively, removes the accounts, unless a Samba instance that did not
// register (a test binary built from an older tree) is still running.
const (
	accountsLockFile  = "netsession-sambapeer-accounts.lock"
	accountsUsersFile = "netsession-sambapeer-accounts.users"
)

// acquireAccounts creates the prefixed unix groups and users when they are
// missing and registers the caller as a user of them; release unregisters
// it.
func acquireAccounts(ctx context.Context) (*os.File, error) {
	lock, err := lockFile(ctx, filepath.Join(os.TempDir(), accountsLockFile))
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := ensureAccounts(ctx); err != nil {
		return nil, err
	}
	users, err := os.OpenFile(filepath.Join(os.TempDir(), accountsUsersFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	// Never blocks for long: only a releaser holds it exclusively, and
	// only while it holds the accounts lock, which we hold.
	if err := syscall.Flock(int(users.Fd()), syscall.LOCK_SH); err != nil {
		users.Close()
		return nil, fmt.Errorf("%s: %w", accountsUsersFile, err)
	}
	return users, nil
}

// releaseAccounts unregisters users (from acquireAccounts) and, when no
// other instance uses the accounts, removes them. removed says whether it
// did.
func releaseAccounts(ctx context.Context, users *os.File) (removed bool, err error) {
	lock, err := lockFile(ctx, filepath.Join(os.TempDir(), accountsLockFile))
	if err != nil {
		users.Close()
		return false, err
	}
	defer lock.Close()
	users.Close() // drops our shared lock
	last, err := os.OpenFile(filepath.Join(os.TempDir(), accountsUsersFile), os.O_RDWR, 0o600)
	if err != nil {
		return false, err
	}
	defer last.Close()
	if err := syscall.Flock(int(last.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false, nil // another instance still uses them
	}
	if len(unregisteredInstances()) > 0 {
		return false, nil
	}
	return true, removeAccounts(ctx)
}

// unregisteredInstances lists the processes of Samba instances this
// package started (their configuration is in an nsp-samba- directory)
// that are still running: when the registering code above holds no lock
// for them, they still need the accounts.
func unregisteredInstances() []int {
	var out []int
	for _, p := range procs() {
		if strings.Contains(p.cmdline, string(os.PathSeparator)+"nsp-samba-") && p.state != 'Z' && p.state != 'X' && p.pid != os.Getpid() {
			out = append(out, p.pid)
		}
	}
	return out
}

// removeAccounts deletes the users (with their own groups) and the groups
// ensureAccounts created.
func removeAccounts(ctx context.Context) error {
	var errs []error
	for _, u := range []string{AdminUser, User} {
		if _, err := user.Lookup(u); err == nil {
			if out, err := exec.CommandContext(ctx, "userdel", u).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("userdel %s: %v: %s", u, err, out))
			}
		}
	}
	for _, g := range []string{groupBuiltinAdmins, groupDomainAdmins, AdminUser, User} {
		if _, err := user.LookupGroup(g); err == nil {
			if out, err := exec.CommandContext(ctx, "groupdel", g).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("groupdel %s: %v: %s", g, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// ensureAccounts creates the prefixed unix groups and users when they are
// missing. The caller holds accountsLockFile.
func ensureAccounts(ctx context.Context) error {
	run := func(name string, args ...string) error {
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, g := range []string{groupBuiltinAdmins, groupDomainAdmins} {
		if _, err := user.LookupGroup(g); err != nil {
			if err := run("groupadd", g); err != nil {
				return err
			}
		}
	}
	shell := "/usr/sbin/nologin"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/false"
	}
	for _, u := range []string{AdminUser, User} {
		if _, err := user.Lookup(u); err != nil {
			if err := run("useradd", "-M", "-U", "-s", shell, u); err != nil {
				return err
			}
		}
	}
	// Also repairs a half-done earlier run.
	groups, err := exec.CommandContext(ctx, "id", "-nG", AdminUser).Output()
	if err != nil {
		return fmt.Errorf("id -nG %s: %w", AdminUser, err)
	}
	have := strings.Fields(string(groups))
	if !slices.Contains(have, groupBuiltinAdmins) || !slices.Contains(have, groupDomainAdmins) {
		if err := run("usermod", "-a", "-G", groupBuiltinAdmins+","+groupDomainAdmins, AdminUser); err != nil {
			return err
		}
	}
	if _, err := user.Lookup(GuestAccount); err != nil {
		return fmt.Errorf("guest account %q missing: %w", GuestAccount, err)
	}
	return nil
}

// ownsListener reports whether process pid holds the socket listening on
// TCP port (so that a port another program grabbed is not mistaken for
// smbd's).
func ownsListener(pid, port int) bool {
	inodes := map[string]bool{}
	for _, l := range tcpListeners() {
		if l.Port == port && l.Inode != "" {
			inodes["socket:["+l.Inode+"]"] = true
		}
	}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if err == nil && inodes[link] {
			return true
		}
	}
	return false
}

// ephemeralRange is the kernel's range of local ports for outgoing
// connections.
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	return lo, hi, err1 == nil && err2 == nil && lo <= hi
}

// descendants returns the live processes that descend from roots
// (following parent links through every generation), roots included.
func descendants(roots []int) []int {
	return closure(roots, func(p procInfo, keep map[int]bool) bool { return keep[p.ppid] })
}
