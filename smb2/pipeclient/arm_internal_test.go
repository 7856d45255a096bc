package pipeclient

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestArmRestoresDeadlineAfterCancel: a context that ends just after its
// exchange completed (between the answer and the end of the exchange)
// must not leave the past deadline that interrupted it on the socket, or
// the next exchange of a healthy connection fails at once.
func TestArmRestoresDeadlineAfterCancel(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &Conn{nc: a}
	ctx, cancel := context.WithCancel(context.Background())
	stop := c.arm(ctx)
	cancel()
	// The AfterFunc runs on its own goroutine; stop waits for it.
	time.Sleep(10 * time.Millisecond)
	if err := stop(); err != context.Canceled {
		t.Fatalf("stop: %v, want context.Canceled", err)
	}
	go b.Write([]byte{1})
	var buf [1]byte
	if _, err := a.Read(buf[:]); err != nil {
		t.Fatalf("read after the exchange: %v (the cancelled context's deadline stayed)", err)
	}
}
