package smb2

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeConn is the server end of an open named pipe in message mode, as a
// net.Conn for the code that serves the pipe (the DCE/RPC server).
//
// Bytes the client WRITEs (or sends in a transceive) queue up as one
// stream the server Reads in any portions, because DCE/RPC reads PDU
// headers and bodies separately. Every Write by the server is one message:
// a client READ returns at most one message, and a READ with a buffer
// smaller than the message gets the first part with STATUS_BUFFER_OVERFLOW
// while the rest stays for the next READ, as a Windows message-mode pipe
// behaves.
type pipeConn struct {
	local, remote net.Addr

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	in      []byte        // client to server, not yet read
	out     [][]byte      // server to client messages
	outLen  int
	waiting bool // the server is blocked in Read with nothing to read
	closed  bool // closed by either side
	rdl     time.Time
	max     int    // bytes buffered in each direction (one message at least)
	onIdle  func() // called, non-blocking, when the server starts waiting for input
}

var errPipeFull = errors.New("smb2: pipe input buffer full")

func newPipeConn(local, remote net.Addr, max int) *pipeConn {
	return &pipeConn{local: local, remote: remote, changed: make(chan struct{}), max: max}
}

// notify wakes everyone waiting on a change; p.mu must be held.
func (p *pipeConn) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Read implements net.Conn for the server side.
func (p *pipeConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if len(p.in) > 0 {
			n := copy(b, p.in)
			p.in = p.in[n:]
			if len(p.in) == 0 {
				p.in = nil
			}
			p.notify()
			return n, nil
		}
		if p.closed {
			return 0, io.EOF
		}
		if !p.rdl.IsZero() && !time.Now().Before(p.rdl) {
			return 0, os.ErrDeadlineExceeded
		}
		if !p.waiting {
			p.waiting = true
			p.notify()
			if p.onIdle != nil {
				p.onIdle()
			}
		}
		ch := p.changed
		var t *time.Timer
		var timer <-chan time.Time
		if !p.rdl.IsZero() {
			t = time.NewTimer(time.Until(p.rdl))
			timer = t.C
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		p.mu.Lock()
		p.waiting = false
	}
}

// Write implements net.Conn for the server side: one call, one message.
// It waits while the messages the client has not read would exceed the
// pipe's bound with this one, so a client that writes calls and never
// reads the answers cannot make them pile up.
func (p *pipeConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && p.outLen > 0 && p.outLen+len(b) > p.max {
		ch := p.changed
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
	}
	if p.closed {
		return 0, net.ErrClosed
	}
	if len(b) == 0 {
		return 0, nil
	}
	p.out = append(p.out, append([]byte(nil), b...))
	p.outLen += len(b)
	p.notify()
	return len(b), nil
}

// Close implements net.Conn; either side may call it.
func (p *pipeConn) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.notify()
	}
	return nil
}

func (p *pipeConn) LocalAddr() net.Addr  { return p.local }
func (p *pipeConn) RemoteAddr() net.Addr { return p.remote }

func (p *pipeConn) SetDeadline(t time.Time) error { return p.SetReadDeadline(t) }

func (p *pipeConn) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.rdl = t
	p.notify()
	p.mu.Unlock()
	return nil
}

// SetWriteDeadline is accepted and has no effect: a Write waits for the
// client's READs or the end of the pipe.
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// clientWrite queues data the client wrote.
func (p *pipeConn) clientWrite(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	if len(p.in)+len(b) > p.max {
		return errPipeFull
	}
	p.in = append(p.in, b...)
	p.notify()
	return nil
}

// busy reports whether the pipe holds unread data in either direction;
// p.mu must be held.
func (p *pipeConn) busy() bool { return len(p.in) > 0 || len(p.out) > 0 }

// idle reports whether nothing is in flight: no data either way and the
// server waiting for input (or gone).
func (p *pipeConn) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.busy() && (p.waiting || p.closed)
}

// pendingOut reports whether the server has written a message the client
// has not read.
func (p *pipeConn) pendingOut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out) > 0
}

// clientRead returns the next message, or its first max bytes with more
// set when it is longer. It waits while the server may still answer:
// while input is unread or the server is working on it. When the server
// waits for input with none queued it returns StatusPipeEmpty at once;
// when the pipe closed, StatusPipeDisconnected.
func (p *pipeConn) clientRead(ctx context.Context, max int) (data []byte, more bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if len(p.out) > 0 {
			m := p.out[0]
			if len(m) > max {
				data = m[:max]
				p.out[0] = m[max:]
				p.outLen -= max
				p.notify()
				return data, true, nil
			}
			p.out = p.out[1:]
			p.outLen -= len(m)
			if len(p.out) == 0 {
				p.out = nil
			}
			p.notify()
			return m, false, nil
		}
		if p.closed {
			return nil, false, StatusPipeDisconnected
		}
		if p.waiting && len(p.in) == 0 {
			return nil, false, StatusPipeEmpty
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			return nil, false, ctx.Err()
		}
		p.mu.Lock()
	}
}

// waitReady waits up to d for a client READ not to have to wait (see
// mustWait) and reports whether it got there.
func (p *pipeConn) waitReady(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if len(p.out) > 0 || p.closed || p.waiting && len(p.in) == 0 {
			return true
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
		case <-t.C:
			p.mu.Lock()
			return false
		}
	}
}
