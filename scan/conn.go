package scan

import (
	"context"
	"net"
	"sync"
	"time"
)

// boundConn is a connection that cannot outlive a context: every deadline
// set on it is capped at the context's deadline (a cleared deadline
// becomes the context's), and the connection is closed when the context
// ends. Whatever the layers above do (a clean close with its own timeout,
// a read without a deadline), the target's one deadline holds.
type boundConn struct {
	net.Conn
	dl   time.Time // zero: none
	stop func() bool
	once sync.Once
}

// bound ties nc to ctx.
func bound(ctx context.Context, nc net.Conn) net.Conn {
	c := &boundConn{Conn: nc}
	c.dl, _ = ctx.Deadline()
	if !c.dl.IsZero() {
		nc.SetDeadline(c.dl)
	}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return c
}

func (c *boundConn) cap(t time.Time) time.Time {
	if c.dl.IsZero() || (!t.IsZero() && t.Before(c.dl)) {
		return t
	}
	return c.dl
}

func (c *boundConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.cap(t)) }

func (c *boundConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.cap(t)) }

func (c *boundConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.cap(t)) }

func (c *boundConn) Close() error {
	c.once.Do(func() { c.stop() })
	return c.Conn.Close()
}
