package dcerpc

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MessageConn is one association over a message transport, served
// synchronously by whoever feeds it: Write takes the bytes the client sent
// and, before it returns, answers every PDU they complete by calling the
// send function given to NewMessageConn once per answer PDU. There is no
// goroutine and no read deadline of its own; the transport bounds how long
// a client may take (the SMB server's timeouts, for a named pipe).
//
// It suits transports that hand over whole client writes and hold the
// answers as messages for the client to collect, as an SMB server's named
// pipe does: a call costs no goroutine switch, and its answer is ready by
// the time the write is acknowledged. The handlers run on the caller's
// goroutine, so they must not wait for that goroutine.
//
// A PDU split across writes is held (never more than the negotiated
// max_recv_frag) until its last byte arrives; complete PDUs are held too
// while the transport's WithHold says so (Buffered tells how much is
// held). Write and Buffered are for one goroutine at a time. An error from Write means the
// association has ended (a protocol error, an oversized fragment, a
// closed server or a send that failed); the answers it produced before
// ending (a bind_nak, a fault) have been sent, and later Writes fail.
type MessageConn struct {
	c   *serverConn
	buf []byte // an incomplete PDU

	mu       sync.Mutex
	stop     func() bool // stops the AfterFunc on c.ctx; nil until set
	closed   bool
	writing  bool // a Write is answering: the release waits for its end
	released bool
	onClose  func()
}

// NewMessageConn starts an association whose answers go to send, one call
// per PDU; send must copy the slice if it keeps it. remote is the client's
// address (it may be nil). onClose, if not nil, runs once when the
// association ends by any means: Close, a protocol error, the server's
// Shutdown or Close, or ctx being done. It may run while the server holds
// its own lock (Shutdown, Close), so it must not call into the server or
// end another of its associations. It returns ErrServerClosed once the
// server is shutting down.
func (s *Server) NewMessageConn(ctx context.Context, remote net.Addr, send func(pdu []byte) error, onClose func(), opts ...ConnOption) (*MessageConn, error) {
	m := &MessageConn{onClose: onClose}
	// The server may close the association as soon as it knows it, before
	// newConn returns, so m.c is set under the server's lock.
	c, ok := s.newConn(ctx, &messageTransport{m: m, remote: remote, send: send}, opts, func(c *serverConn) { m.c = c })
	if !ok {
		return nil, ErrServerClosed
	}
	stop := context.AfterFunc(c.ctx, func() { m.Close() })
	m.mu.Lock()
	m.stop = stop
	m.mu.Unlock()
	c.log.Debug("dcerpc: message association opened")
	return m, nil
}

// Write feeds bytes the client sent and answers the PDUs they complete.
func (m *MessageConn) Write(b []byte) error {
	if !m.startWrite() {
		return net.ErrClosed
	}
	defer m.endWrite()
	c := m.c
	m.buf = append(m.buf, b...)
	off := 0
	var err error
	for err == nil && len(m.buf)-off >= HeaderLen {
		if c.cfg.hold != nil && c.cfg.hold() {
			break
		}
		var h Header
		h, err = ParseHeader(m.buf[off : off+HeaderLen])
		if err == nil && int(h.FragLength) > c.maxRecv {
			err = fmt.Errorf("%w: fragment of %d octets, limit %d", ErrTooLarge, h.FragLength, c.maxRecv)
		}
		if err != nil {
			c.readFailed(m.buf[off:off+HeaderLen], h, err)
			break
		}
		if len(m.buf)-off < int(h.FragLength) {
			break
		}
		raw := m.buf[off : off+int(h.FragLength)]
		off += int(h.FragLength)
		c.active.Store(true)
		err = c.handle(raw, h)
		c.active.Store(c.cur != nil)
		if err == nil && c.srv.closing.Load() && c.cur == nil {
			err = ErrServerClosed
		}
	}
	if err != nil {
		m.buf = nil
		m.Close()
		return err
	}
	// Keep the rest (incomplete, or held back) at the front of the buffer.
	n := copy(m.buf, m.buf[off:])
	m.buf = m.buf[:n]
	if n == 0 && cap(m.buf) > 2*c.maxRecv {
		m.buf = nil // a large write was answered: do not hold its buffer
	}
	return nil
}

// Buffered is how many octets Write holds: an incomplete PDU, and the PDUs
// held back by WithHold.
func (m *MessageConn) Buffered() int { return len(m.buf) }

// Close ends the association. It is safe to call from any goroutine and
// more than once. A Write in progress is not interrupted, and the
// server's Shutdown waits for it to return.
func (m *MessageConn) Close() error {
	if m.markClosed() {
		m.releaseIdle()
	}
	return nil
}

// startWrite reports whether the association is open and, if so, marks a
// Write in progress.
func (m *MessageConn) startWrite() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writing = !m.closed
	return m.writing
}

// endWrite ends a Write; when the association was closed meanwhile, the
// release left to it happens now.
func (m *MessageConn) endWrite() {
	m.mu.Lock()
	m.writing = false
	rel := m.closed && !m.released
	m.released = m.released || rel
	m.mu.Unlock()
	if rel {
		m.release()
	}
}

// releaseIdle releases a closed association unless a Write is still
// answering (its handler running): then the Write's end does, so the
// server counts the association until no handler of it runs.
func (m *MessageConn) releaseIdle() {
	m.mu.Lock()
	rel := !m.writing && !m.released
	m.released = m.released || rel
	m.mu.Unlock()
	if rel {
		m.release()
	}
}

// markClosed marks the association closed and runs onClose; it reports
// whether this call did it.
func (m *MessageConn) markClosed() bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.closed = true
	f := m.onClose
	m.mu.Unlock()
	m.c.cancel()
	if f != nil {
		f()
	}
	return true
}

// release forgets the association in the server, which lets Shutdown
// return; it must not run under the server's lock.
func (m *MessageConn) release() {
	m.mu.Lock()
	stop := m.stop
	m.mu.Unlock()
	// Without stop yet, c.ctx is already cancelled (markClosed did it), so
	// the AfterFunc runs a Close that does nothing.
	if stop != nil {
		stop()
	}
	m.c.srv.removeConn(m.c)
	m.c.srv.wg.Done()
	m.c.log.Debug("dcerpc: message association closed")
}

// messageTransport is the net.Conn a message association's serverConn
// writes its answers to and the server closes it through.
type messageTransport struct {
	m      *MessageConn
	remote net.Addr
	send   func([]byte) error
}

func (t *messageTransport) Write(b []byte) (int, error) {
	if err := t.send(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close is how Server.Shutdown and Server.Close end the association; they
// hold the server's lock, so the rest of the release runs apart.
func (t *messageTransport) Close() error {
	if t.m.markClosed() {
		go t.m.releaseIdle()
	}
	return nil
}

func (t *messageTransport) Read([]byte) (int, error)         { return 0, io.EOF }
func (t *messageTransport) LocalAddr() net.Addr              { return nil }
func (t *messageTransport) RemoteAddr() net.Addr             { return t.remote }
func (t *messageTransport) SetDeadline(time.Time) error      { return nil }
func (t *messageTransport) SetReadDeadline(time.Time) error  { return nil }
func (t *messageTransport) SetWriteDeadline(time.Time) error { return nil }
