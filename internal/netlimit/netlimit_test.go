package netlimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/syncbuf"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 5}, "127.0.0.2"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 5}, "10.1.2.3"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 7}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 7}, "::/64"},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, "@x"},
	} {
		if got := Key(tc.addr); got != tc.want {
			t.Errorf("Key(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: fmt.Errorf("accept4: %w", syscall.EMFILE)}, true},
		{&net.OpError{Op: "accept", Err: syscall.ENFILE}, true},
		{syscall.ECONNABORTED, true},
		{net.ErrClosed, false},
		{errors.New("other"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v", tc.err, got)
		}
	}
	var b Backoff
	var got []time.Duration
	for range 10 {
		got = append(got, b.Next())
	}
	if got[0] != MinBackoff || got[1] != 2*MinBackoff || got[9] != MaxBackoff {
		t.Errorf("backoff %v", got)
	}
	b.Reset()
	if b.Next() != MinBackoff {
		t.Error("Reset does not start over")
	}
}

// TestLimiter: the caps hold per address and in all, a release is counted
// once, and a thousand refusals of one address make two log records (the
// first, then a summary with the count), not a thousand.
func TestLimiter(t *testing.T) {
	var logs syncbuf.Buffer
	l := &Limiter{Max: 3, PerAddr: 2, Name: "test", LogInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	a := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}
	b := &net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 1}
	r1, err1 := l.Acquire(a)
	_, err2 := l.Acquire(a)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for range 1000 {
		if _, err := l.Acquire(a); !errors.Is(err, ErrTooManyFromAddr) {
			t.Fatalf("third from one address: %v", err)
		}
	}
	if _, err := l.Acquire(b); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if _, err := l.Acquire(&net.TCPAddr{IP: net.ParseIP("127.0.0.3")}); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("over Max: %v", err)
	}
	r1()
	r1()
	if total, fromA := l.Held(a); total != 2 || fromA != 1 {
		t.Fatalf("held %d, %d from a; want 2, 1", total, fromA)
	}
	time.Sleep(200 * time.Millisecond)
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 3 { // a: first + summary; 127.0.0.3: first
		t.Errorf("%d WARN records, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "count=999") {
		t.Errorf("no summary of the 999 later refusals:\n%s", out)
	}
}

// TestListener: a refused connection is closed and Accept goes on to the
// next; closing an admitted one frees its place.
func TestListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Listener: inner, Limiter: &Limiter{Max: 1}}
	defer l.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	c1, _ := net.Dial("tcp", inner.Addr().String())
	defer c1.Close()
	s1 := <-accepted
	c2, _ := net.Dial("tcp", inner.Addr().String())
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("second connection not closed")
	}
	s1.Close()
	c3, _ := net.Dial("tcp", inner.Addr().String())
	defer c3.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("place not freed by Close")
	}
}
