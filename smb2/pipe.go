package smb2

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/netsession/netsession/dcerpc"
)

// pipeConn is the server end of an open named pipe in message mode. It
// runs one of two ways:
//
//   - Streamed: a PipeHandler serves it as a net.Conn on its own goroutine.
//   - Inline (rpc set): a dcerpc.MessageConn answers each client write
//     synchronously on the connection's goroutine, so the answer messages
//     are queued by the time the WRITE or transceive returns, with no
//     goroutine switch.
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
	changed chan struct{} // closed on the next state change; nil: nobody waits
	in      []byte        // client to server, not yet read
	out     [][]byte      // server to client messages
	outLen  int
	waiting bool // the server is blocked in Read with nothing to read
	closed  bool // closed by either side
	rdl     time.Time
	max     int    // bytes buffered in each direction (one message at least)
	onIdle  func() // called, non-blocking, when the server starts waiting for input

	rpc *dcerpc.MessageConn // inline mode; set (under mu) before the pipe is used
}

var errPipeFull = errors.New("smb2: pipe input buffer full")

func newPipeConn(local, remote net.Addr, max int) *pipeConn {
	return &pipeConn{local: local, remote: remote, max: max}
}

// notify wakes everyone waiting on a change; p.mu must be held.
func (p *pipeConn) notify() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// wait returns a channel closed on the next state change; p.mu must be
// held. The channel is only made when somebody waits, so changes nobody
// watches (every message of an inline pipe) cost nothing.
func (p *pipeConn) wait() <-chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// newInlinePipe opens an inline pipe served by srv: the server side waits
// for input from the start, and ending either the pipe or the association
// ends the other.
func newInlinePipe(ctx context.Context, local, remote net.Addr, max int, srv *dcerpc.Server, opts ...dcerpc.ConnOption) (*pipeConn, error) {
	p := newPipeConn(local, remote, max)
	p.waiting = true
	m, err := srv.NewMessageConn(ctx, remote, p.serverSend, func() { p.Close() }, append(opts, dcerpc.WithHold(p.outputFull))...)
	if err != nil {
		return nil, err
	}
	// The association may already have ended and closed the pipe, from
	// the goroutine of the server's Shutdown or Close: p.mu orders the two.
	p.mu.Lock()
	p.rpc = m
	p.mu.Unlock()
	return p, nil
}

// outputFull reports whether the client has the pipe's bound of answers
// unread: an inline pipe then answers no further call until it reads.
func (p *pipeConn) outputFull() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outLen >= p.max
}

// serverSend queues one answer message of an inline pipe.
func (p *pipeConn) serverSend(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	p.out = append(p.out, append([]byte(nil), b...))
	p.outLen += len(b)
	p.notify()
	return nil
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
		ch := p.wait()
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
		ch := p.wait()
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

// Close implements net.Conn; either side may call it. Closing an inline
// pipe ends its association.
func (p *pipeConn) Close() error {
	p.mu.Lock()
	was := p.closed
	if !was {
		p.closed = true
		p.notify()
	}
	rpc := p.rpc
	p.mu.Unlock()
	if !was && rpc != nil {
		rpc.Close()
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

// clientWrite queues data the client wrote or, on an inline pipe, has it
// answered before returning. An inline pipe refuses more input while the
// client has the pipe's bound of answers unread, as a streamed one does
// once its handler stops reading.
func (p *pipeConn) clientWrite(b []byte) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return net.ErrClosed
	}
	if rpc := p.rpc; rpc != nil {
		full := p.outLen >= p.max
		p.mu.Unlock()
		// Calls held back while the answers were full count against the
		// same bound, as a streamed pipe's unread input does.
		if full || rpc.Buffered()+len(b) > p.max {
			return errPipeFull
		}
		// An error ends the association and closes the pipe; the answers
		// it produced first (a bind_nak, a fault) stay readable.
		_ = rpc.Write(b)
		return nil
	}
	defer p.mu.Unlock()
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
		if data, more, ok, err := p.readLocked(max); ok {
			return data, more, err
		}
		ch := p.wait()
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

// tryClientRead is clientRead when it would not have to wait; ok is false
// when it would.
func (p *pipeConn) tryClientRead(max int) (data []byte, more, ok bool, err error) {
	p.mu.Lock()
	data, more, ok, err = p.readLocked(max)
	rpc, room := p.rpc, p.outLen < p.max
	p.mu.Unlock()
	// An inline pipe that held calls back while its answers were full
	// takes them up again once the client has read below the bound.
	if rpc != nil && room && rpc.Buffered() > 0 {
		_ = rpc.Write(nil)
	}
	return data, more, ok, err
}

// readLocked is one attempt of clientRead; ok is false when the server
// may still answer. p.mu must be held.
func (p *pipeConn) readLocked(max int) (data []byte, more, ok bool, err error) {
	switch {
	case len(p.out) > 0:
		m := p.out[0]
		if len(m) > max {
			p.out[0] = m[max:]
			p.outLen -= max
			p.notify()
			return m[:max], true, true, nil
		}
		p.out = p.out[1:]
		p.outLen -= len(m)
		if len(p.out) == 0 {
			p.out = nil
		}
		p.notify()
		return m, false, true, nil
	case p.closed:
		return nil, false, true, StatusPipeDisconnected
	case p.waiting && len(p.in) == 0:
		return nil, false, true, StatusPipeEmpty
	}
	return nil, false, false, nil
}

// waitReady waits up to d for a client READ not to have to wait (see
// mustWait) and reports whether it got there.
func (p *pipeConn) waitReady(d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var t *time.Timer
	for {
		if len(p.out) > 0 || p.closed || p.waiting && len(p.in) == 0 {
			if t != nil {
				t.Stop()
			}
			return true
		}
		if t == nil {
			t = time.NewTimer(d)
			defer t.Stop()
		}
		ch := p.wait()
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
