//go:build linux && race

package rawtcp

import (
	"errors"
	"syscall"
)

// Under the race detector the reads and writes go through syscall.Read
// and syscall.Write, whose annotations order a write on one end of a
// connection before the read of its octets on the other: without them
// the detector would report, as races, accesses that the connection
// itself orders (a test changing a setting, then dialling).

func sysRead(fd uintptr, b []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), b)
	return n, errnoOf(err)
}

func sysWrite(fd uintptr, b []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), b)
	return n, errnoOf(err)
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if err != nil && !errors.As(err, &e) {
		return syscall.EIO
	}
	return e
}
