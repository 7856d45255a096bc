//go:build linux

package rawtcp

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// conn reads and writes a TCP connection with raw system calls on its
// non-blocking socket (sysRead, sysWrite), waiting for readiness through
// the runtime's poller exactly as the net package does (deadlines
// included). Such a call never blocks, so it need not tell the scheduler
// that it enters a system call: the scheduler's monitor thread, asleep
// while the server is idle between two requests, is not woken for every
// read and write, which on a request-answer exchange (a pipe's DCE/RPC
// fragments) costs more CPU than the read itself. The state of the call
// in progress lives in the struct, so that a read or write allocates
// nothing.
type conn struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu    sync.Mutex // one Read at a time
	rb     []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	wmu     sync.Mutex // one Write at a time
	wb      []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// Wrap returns nc itself unless it is a TCP connection.
func Wrap(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	r := &conn{TCPConn: tc, rc: rc}
	r.readFn, r.writeFn = r.readOnce, r.writeOnce
	return r
}

// Read reads as net.TCPConn.Read does, with the same errors.
func (r *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.rb, r.rn, r.rerrno = b, 0, 0
	err := r.rc.Read(r.readFn)
	r.rb = nil
	switch {
	case err != nil:
		return 0, r.opError("read", err)
	case r.rerrno != 0:
		return 0, r.opError("read", os.NewSyscallError("read", r.rerrno))
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// readOnce is one read(2); false asks to wait until the socket is readable.
func (r *conn) readOnce(fd uintptr) bool {
	n, e := untilDone(sysRead, fd, r.rb)
	if e == syscall.EAGAIN {
		return false
	}
	r.rn, r.rerrno = n, e
	return true
}

// Write writes all of b as net.TCPConn.Write does, with the same errors.
func (r *conn) Write(b []byte) (int, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.wb, r.wn = b, 0
	defer func() { r.wb = nil }()
	for r.wn < len(b) {
		r.werrno = 0
		if err := r.rc.Write(r.writeFn); err != nil {
			return r.wn, r.opError("write", err)
		}
		if r.werrno != 0 {
			return r.wn, r.opError("write", os.NewSyscallError("write", r.werrno))
		}
	}
	return r.wn, nil
}

// writeOnce is one write(2) of what remains; false asks to wait until the
// socket is writable.
func (r *conn) writeOnce(fd uintptr) bool {
	n, e := untilDone(sysWrite, fd, r.wb[r.wn:])
	if e == syscall.EAGAIN {
		return false
	}
	r.wn, r.werrno = r.wn+n, e
	return true
}

// untilDone makes the call again while a signal interrupts it; n is 0
// when it fails.
func untilDone(call func(fd uintptr, b []byte) (int, syscall.Errno), fd uintptr, b []byte) (n int, e syscall.Errno) {
	for {
		n, e = call(fd, b)
		if e != syscall.EINTR {
			if e != 0 {
				n = 0
			}
			return n, e
		}
	}
}

func (r *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: err}
}
