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

// listening reports whether anything listens on TCP port on any address.
func listening(port int) bool {
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			fs := strings.Fields(line)
			if len(fs) > 3 && fs[3] == "0A" && strings.HasSuffix(fs[1], want) {
				return true
			}
		}
	}
	return false
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

// ensureAccounts creates the prefixed unix groups and users once, under a
// machine-wide lock (test packages run in parallel processes).
func ensureAccounts(ctx context.Context) error {
	lock, err := lockFile(ctx, filepath.Join(os.TempDir(), "netsession-sambapeer-accounts.lock"))
	if err != nil {
		return err
	}
	defer lock.Close()
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
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			fs := strings.Fields(line)
			if len(fs) > 9 && fs[3] == "0A" && strings.HasSuffix(fs[1], want) {
				inodes["socket:["+fs[9]+"]"] = true
			}
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
