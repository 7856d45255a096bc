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
// synchronously by whoever feeds it, without a goroutine of its own: Write
// takes the bytes the client sent and, before it returns, answers every
// PDU they complete; the answers wait in the association, one message per
// PDU, until Next takes them. There is no read deadline: the transport
// bounds how long a client may take between writes, but a request whose
// fragments are not all in within the server's Timeouts.Reassembly ends
// the association when that deadline passes, written to or not, and the
// memory it held is given back.
//
// It suits transports that hand over whole client writes and keep the
// answers as messages for the client to collect (a named pipe): a call
// costs no goroutine switch, and its answer is ready by the time the write
// is acknowledged. The handlers run on the caller's goroutine, so they
// must not wait for that goroutine.
//
// A PDU split across writes is held (never more than the negotiated
// max_recv_frag) until its last octet arrives. With ConnConfig.MaxPending,
// complete PDUs are held too while the answers not yet taken reach the
// bound; Next answers them once it has made room. Write and Next are for
// one goroutine at a time; Pending and Close may be called from any. An
// error from Write means the association has ended (a protocol error, an
// oversized fragment, a closed server); the answers it produced before
// ending (a bind_nak, a fault) can still be taken with Next, and later
// Writes fail with net.ErrClosed.
type MessageConn struct {
	c          *serverConn
	buf        []byte // input not answered yet: an incomplete PDU, or held PDUs
	maxPending int

	mu       sync.Mutex
	out      [][]byte // answers not yet taken; out[0] may be partly taken
	outLen   int
	held     int         // len(buf) and the request being reassembled, for Pending
	deadline time.Time   // the reassembly deadline of the request in progress
	timer    *time.Timer // ends the association at deadline
	stop     func() bool // stops the AfterFunc on c.ctx; nil until set
	closed   bool
	writing  bool // a Write is answering: the release waits for its end
	released bool
}

// NewMessageConn starts a message association; cfg.RemoteAddr is the
// client's address, if known. The association ends with Close, a protocol
// error, the server's Shutdown or Close, or ctx being done; Next then
// reports io.EOF once the answers are taken. It returns ErrServerClosed
// once the server is shutting down.
func (s *Server) NewMessageConn(ctx context.Context, cfg ConnConfig) (*MessageConn, error) {
	m := &MessageConn{}
	// The server may close the association as soon as it knows it, before
	// newConn returns, so m.c is set under the server's lock.
	c, ok := s.newConn(ctx, nil, messageTransport{m}, cfg, func(c *serverConn) { m.c = c })
	if !ok {
		return nil, ErrServerClosed
	}
	m.maxPending = c.cfg.MaxPending
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
		if m.full() {
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
		m.setHeld()
		m.Close()
		return err
	}
	// Keep the rest (incomplete, or held back) at the front of the buffer.
	n := copy(m.buf, m.buf[off:])
	m.buf = m.buf[:n]
	if n == 0 && cap(m.buf) > 2*c.maxRecv {
		m.buf = nil // a large write was answered: do not hold its buffer
	}
	m.setHeld()
	return nil
}

// Next takes up to max octets of the next answer; more reports that the
// answer goes on, and the next call returns the rest. It never waits:
// with no answer ready it returns nil, and io.EOF once the association
// has ended. The slice is valid until the next call. Taking an answer
// makes room under ConnConfig.MaxPending: PDUs held back are answered before
// Next returns.
func (m *MessageConn) Next(max int) (msg []byte, more bool, err error) {
	m.mu.Lock()
	switch {
	case len(m.out) > 0:
		a := m.out[0]
		if len(a) > max {
			m.out[0] = a[max:]
			msg, more = a[:max], true
		} else {
			m.out[0] = nil
			m.out = m.out[1:]
			if len(m.out) == 0 {
				m.out = nil
			}
			msg = a
		}
		m.outLen -= len(msg)
	case m.closed:
		err = io.EOF
	}
	resume := msg != nil && m.held > 0 && !m.closed && !m.fullLocked()
	m.mu.Unlock()
	if resume {
		_ = m.Write(nil) // an error ends the association; its answers stay
	}
	return msg, more, err
}

// Pending reports the octets of client input the association holds
// unanswered (an incomplete PDU, PDUs held back by ConnConfig.MaxPending, and the
// request being reassembled from fragments) and
// of answers not yet taken by Next. busy is always nil: a message
// association answers within Write and Next, so no answer comes later on
// its own.
func (m *MessageConn) Pending() (in, out int, busy <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held, m.outLen, nil
}

// Close ends the association. It is safe to call from any goroutine and
// more than once. A Write in progress is not interrupted, and the
// server's Shutdown waits for it to return.
func (m *MessageConn) Close() error {
	if m.markClosed() {
		m.releaseIdle()
	}
	return nil
}

// full reports whether the answers not yet taken have reached the bound.
func (m *MessageConn) full() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fullLocked()
}

func (m *MessageConn) fullLocked() bool { return m.maxPending > 0 && m.outLen >= m.maxPending }

// setHeld records what the association holds of the client's input, and
// arms the reassembly deadline of a request in progress. It runs at the
// end of a Write, on the goroutine that owns the association's state.
func (m *MessageConn) setHeld() {
	held := len(m.buf)
	var dl time.Time
	if cur := m.c.cur; cur != nil {
		held += cap(cur.stub)
		dl = cur.deadline
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held = held
	if dl.Equal(m.deadline) || m.closed {
		return
	}
	m.deadline = dl
	switch {
	case dl.IsZero():
		if m.timer != nil {
			m.timer.Stop()
		}
	case m.timer == nil:
		m.timer = time.AfterFunc(time.Until(dl), m.expire)
	default:
		m.timer.Reset(time.Until(dl))
	}
}

// expire ends the association when the request being reassembled has
// missed its deadline and no Write is answering meanwhile (a Write sees
// the deadline itself). It takes the association's state as a Write
// would, drops the request and gives its memory back.
func (m *MessageConn) expire() {
	m.mu.Lock()
	if m.closed || m.writing || m.deadline.IsZero() || time.Now().Before(m.deadline) {
		m.mu.Unlock()
		return
	}
	m.writing = true
	m.mu.Unlock()
	c := m.c
	if c.cur != nil {
		c.log.Info("dcerpc: request not complete within the reassembly timeout", "call_id", c.cur.callID,
			"buffered", len(c.cur.stub))
	}
	c.dropCall()
	m.buf = nil
	m.setHeld()
	m.Close()
	m.endWrite()
}

// queue keeps one answer PDU for Next.
func (m *MessageConn) queue(b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return net.ErrClosed
	}
	var buf []byte
	if p, _ := m.c.srv.answers.Get().(*[]byte); p != nil && cap(*p) >= len(b) {
		buf = (*p)[:0]
	}
	m.out = append(m.out, append(buf, b...))
	m.outLen += len(b)
	return nil
}

// Recycle gives back an answer Next returned once the caller is done with
// it, so that its memory holds a later answer instead of a new
// allocation. Only an answer taken whole (the last piece of its message,
// more false) may be given back, and the caller must not touch it
// afterwards. It is optional: an answer never given back is collected as
// usual. The memory goes to a pool the server's associations share, which
// the garbage collector empties, so an idle association holds none.
func (m *MessageConn) Recycle(msg []byte) {
	if cap(msg) == 0 {
		return
	}
	msg = msg[:0]
	m.c.srv.answers.Put(&msg)
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

// markClosed marks the association closed; it reports whether this call
// did it.
func (m *MessageConn) markClosed() bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.closed = true
	m.mu.Unlock()
	m.c.cancel()
	return true
}

// release forgets the association in the server, which lets Shutdown
// return; it must not run under the server's lock.
func (m *MessageConn) release() {
	m.mu.Lock()
	stop := m.stop
	if m.timer != nil {
		m.timer.Stop()
	}
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

// messageTransport is where a message association's serverConn sends its
// answers (into the association's queue) and how the server ends it.
type messageTransport struct{ m *MessageConn }

func (t messageTransport) Write(b []byte) (int, error) {
	if err := t.m.queue(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close is how Server.Shutdown and Server.Close end the association; they
// hold the server's lock, so the rest of the release runs apart.
func (t messageTransport) Close() error {
	if t.m.markClosed() {
		go t.m.releaseIdle()
	}
	return nil
}
