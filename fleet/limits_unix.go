//go:build unix

package fleet

import "syscall"

// RaiseFileLimit raises the soft limit on open files to the hard one. It
// returns the limits as they were (soft) and are now (hard), and whether
// anything changed. It changes the whole process: call it once, at start.
func RaiseFileLimit() (soft, hard uint64, raised bool, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, false, err
	}
	soft, hard = r.Cur, r.Max
	if r.Cur >= r.Max {
		return soft, hard, false, nil
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return soft, soft, false, err
	}
	return soft, hard, true, nil
}
