package fleet

import (
	"io"
	"net/netip"
	"os"
	"syscall"
)

// reserve binds a TCP socket to addr:port without listening on it: the
// address stays taken (no other fleet can listen there), and a connection
// to it is refused, as to a host where nothing listens.
func reserve(addr netip.Addr, port int) (io.Closer, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	sa := &syscall.SockaddrInet4{Port: port, Addr: addr.As4()}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	return os.NewFile(uintptr(fd), "reserved "+addr.String()), nil
}
