//go:build linux

package rawtcp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// rawPair returns a loopback TCP connection whose accepted end is read and
// written by conn, and the peer's end.
func rawPair(t *testing.T) (net.Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rc := Wrap(nc)
	t.Cleanup(func() { rc.Close() })
	if _, ok := rc.(*conn); !ok {
		t.Fatalf("Wrap(%T) = %T, want *conn", nc, rc)
	}
	return rc, peer.(*net.TCPConn)
}

func TestRawTCPReadWrite(t *testing.T) {
	rc, peer := rawPair(t)
	// Reads wait for data, as net.Conn's do.
	go func() {
		time.Sleep(20 * time.Millisecond)
		peer.Write([]byte("hello"))
	}()
	b := make([]byte, 16)
	n, err := rc.Read(b)
	if err != nil || string(b[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", b[:n], err)
	}
	if n, err := rc.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	// A write larger than the socket buffers waits for the peer to read.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte)
	go func() {
		time.Sleep(20 * time.Millisecond)
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := rc.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("peer read %d octets, not what was written", len(b))
	}
	// The peer's end is the reader's EOF.
	peer.CloseWrite()
	if n, err := rc.Read(b); n != 0 || err != io.EOF {
		t.Fatalf("Read at EOF = %d, %v", n, err)
	}
}

func TestRawTCPDeadlines(t *testing.T) {
	rc, _ := rawPair(t)
	rc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := rc.Read(make([]byte, 4))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past its deadline: %v", err)
	}
	// A peer that reads nothing: the write ends at its deadline.
	rc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := rc.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= 64<<20 {
		t.Fatalf("Write past its deadline = %d, %v", n, err)
	}
}

func TestRawTCPErrors(t *testing.T) {
	rc, peer := rawPair(t)
	// A reset by the peer is the read's error, as syscall.Errno.
	peer.SetLinger(0)
	peer.Close()
	time.Sleep(20 * time.Millisecond)
	_, err := rc.Read(make([]byte, 4))
	var oe *net.OpError
	if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read after reset: %v", err)
	}
	_, err = rc.Write([]byte("x"))
	if err == nil || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write after reset: %v", err)
	}
	// A closed connection reads and writes net.ErrClosed.
	rc.Close()
	if _, err := rc.Read(make([]byte, 4)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := rc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// A read waiting for data ends when the connection is closed, as the
// server's kill relies on.
func TestRawTCPCloseUnblocksRead(t *testing.T) {
	rc, _ := rawPair(t)
	errc := make(chan error, 1)
	go func() { _, err := rc.Read(make([]byte, 4)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	rc.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read ended by Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the waiting Read")
	}
}

func TestWrapKeepsOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(net.Pipe) = %T, want the conn itself", got)
	}
}
