//go:build linux

package smb2

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawTCP reads and writes a TCP connection with raw system calls on its
// non-blocking socket (sysRead, sysWrite), waiting for readiness through the runtime's poller
// exactly as the net package does (deadlines included). Such a call never
// blocks, so it need not tell the scheduler that it enters a system call:
// the scheduler's monitor thread, asleep while the server is idle between
// two requests, is not woken for every read and write, which on a
// request-answer exchange (a pipe's DCE/RPC fragments) costs more CPU than
// the read itself.
type rawTCP struct {
	*net.TCPConn
	rc syscall.RawConn
}

// newRawIO returns nc itself unless it is a TCP connection.
func newRawIO(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	return rawTCP{tc, rc}
}

// Read reads as net.TCPConn.Read does, with the same errors.
func (r rawTCP) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	if err := r.rc.Read(func(fd uintptr) bool {
		for {
			r1, e := sysRead(fd, b)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			n, errno = r1, e
			return true
		}
	}); err != nil {
		return 0, r.opError("read", err)
	}
	if errno != 0 {
		return 0, r.opError("read", os.NewSyscallError("read", errno))
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of b as net.TCPConn.Write does, with the same errors.
func (r rawTCP) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		var errno syscall.Errno
		if err := r.rc.Write(func(fd uintptr) bool {
			for {
				r1, e := sysWrite(fd, b[done:])
				switch e {
				case syscall.EINTR:
					continue
				case syscall.EAGAIN:
					return false // wait until writable
				case 0:
					done += r1
				}
				errno = e
				return true
			}
		}); err != nil {
			return done, r.opError("write", err)
		}
		if errno != 0 {
			return done, r.opError("write", os.NewSyscallError("write", errno))
		}
	}
	return done, nil
}

func (r rawTCP) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: err}
}
