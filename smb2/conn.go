package smb2

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/internal/rawtcp"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

var le = binary.LittleEndian

// errClose ends a connection without an answer; errProtocol is a framing
// error found by the reader.
var (
	errClose    = errors.New("smb2: closing connection")
	errProtocol = errors.New("smb2: bad framing")
)

// conn is one client connection. Its state is grouped by concern: what
// NEGOTIATE settled (neg), the credit window (credits), sessions and open
// pipes, requests answered asynchronously (async) and events from other
// goroutines (events).
type conn struct {
	srv    *Server
	nc     net.Conn
	remote string // client IP
	log    *slog.Logger
	ctx    context.Context // cancelled when the connection ends or is killed
	cancel context.CancelFunc

	done      chan struct{} // closed when serve returns
	drainCh   chan struct{}
	drainOnce sync.Once
	killOnce  sync.Once

	events eventQueue

	established atomic.Bool // at least one session is valid

	start          time.Time // accepted
	setupSince     time.Time // negotiated, or last session ended
	wasEstablished bool

	// Everything below is guarded by mu. The reading goroutine holds it
	// while it handles a message, the serving goroutine while it handles
	// an event (an asynchronous result, a deleted session, the end).
	mu         sync.Mutex
	negotiated bool
	neg        negotiated
	credits    creditWindow

	sessions      map[uint64]*smbSession
	nextSessionID uint64
	opens         map[uint64]*open
	nextFileID    uint64
	pipes         sync.WaitGroup // pipe handlers' goroutines
	closeAfter    bool           // close once the current responses are sent
	obuf          []byte         // the frame send builds, kept between frames
	pipeSweep     *time.Timer    // closes idle pipes (Timeouts.PipeIdle)
	deletedAny    bool

	async asyncState
}

func newConn(s *Server, nc net.Conn) *conn {
	remote := nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		ctx:           ctx,
		cancel:        cancel,
		srv:           s,
		nc:            rawtcp.Wrap(nc),
		remote:        remote,
		log:           s.logger().With(slog.String("remote", nc.RemoteAddr().String())),
		done:          make(chan struct{}),
		drainCh:       make(chan struct{}),
		events:        eventQueue{signal: make(chan struct{}, 1)},
		credits:       creditWindow{high: 1, used: map[uint64]struct{}{}},
		sessions:      map[uint64]*smbSession{},
		opens:         map[uint64]*open{},
		async:         asyncState{ops: map[uint64]*asyncOp{}, done: make(chan asyncResult)},
		nextSessionID: 0x0000040000000001,
		nextFileID:    1,
		start:         time.Now(),
	}
}

// drain asks the connection to stop after the request in progress.
func (c *conn) drain() { c.drainOnce.Do(func() { close(c.drainCh) }) }

// kill stops the connection at once, pipe waits and handlers included.
func (c *conn) kill() {
	c.killOnce.Do(func() { c.nc.Close() })
	c.cancel()
	c.drain()
}

type frame struct {
	msg            []byte
	sessionRequest bool // an NBSS session request, answered positively
	err            error
}

// readLoop reads and handles one frame at a time, so at most one message
// is held in memory, and computes the deadline for the next one from the
// connection's state once the previous one is handled. The first byte of a
// frame must arrive by that deadline, the rest within Timeouts.Message.
// Handling on the reading goroutine (under mu) spares every request two
// goroutine switches. When the connection must end it hands serve the
// result on exit; once draining it takes no new frame and leaves the end
// to serve.
func (c *conn) readLoop(exit chan<- error) {
	br := bufio.NewReaderSize(c.nc, 4096)
	c.mu.Lock()
	b := c.frameBounds()
	c.mu.Unlock()
	for {
		f, keepAlive := c.readFrame(br, b)
		if keepAlive {
			continue
		}
		c.mu.Lock()
		if f.err != nil {
			err := c.readFailed(f.err)
			c.mu.Unlock()
			exit <- err
			return
		}
		select {
		case <-c.drainCh:
			c.mu.Unlock()
			return
		default:
		}
		end, err := c.serveFrame(f)
		if !end {
			b = c.frameBounds()
		}
		c.mu.Unlock()
		if end {
			exit <- err
			return
		}
	}
}

// serveFrame handles one frame; end reports that the connection ends, with
// err as the result of serve. c.mu must be held.
func (c *conn) serveFrame(f frame) (end bool, err error) {
	// What happened meanwhile (a session deleted from the table) takes
	// effect before the request, as it would have if the serving
	// goroutine had got to it first.
	c.processEvents()
	if c.closeAfter {
		return true, nil
	}
	if f.sessionRequest {
		if err := c.write([]byte{0x82, 0, 0, 0}); err != nil {
			return true, c.writeFailed(err)
		}
		return false, nil
	}
	if err := c.handle(f.msg); err != nil {
		if errors.Is(err, errClose) {
			c.srv.stats.protocolErrors.Add(1)
			c.log.Info("smb2 connection closed", slog.Any("err", err))
			return true, nil
		}
		return true, c.writeFailed(err)
	}
	c.processEvents()
	return c.closeAfter, nil
}

// frameBounds is what the reader allows the next frame: when its first
// byte must arrive, how long it may be and whether the rest must also come
// before that deadline. Before a session is established the connection's
// phase deadline (Timeouts.Negotiate, Timeouts.Setup) also bounds the rest of
// the frame, and its size is bounded by the phase (see limits.go).
type frameBounds struct {
	deadline time.Time
	maxSize  int
	phase    bool // deadline also bounds the rest of the frame
}

// frameBounds computes the bounds of the next frame; c.mu must be held.
func (c *conn) frameBounds() frameBounds {
	b := frameBounds{deadline: c.readDeadline(), maxSize: c.srv.lim.MaxMessageSize}
	switch {
	case !c.negotiated:
		b.maxSize, b.phase = min(b.maxSize, MaxNegotiateFrameSize), true
	case !c.established.Load():
		b.maxSize, b.phase = min(b.maxSize, MaxSetupFrameSize), true
	}
	return b
}

func (c *conn) readFrame(br *bufio.Reader, fb frameBounds) (f frame, keepAlive bool) {
	var hdr [4]byte
	c.nc.SetReadDeadline(fb.deadline)
	if _, err := br.ReadByte(); err != nil {
		return frame{err: err}, false
	}
	br.UnreadByte()
	// The rest of the frame must come within Timeouts.Message, unless it is
	// already here (a small request usually arrives whole), and before
	// the phase deadline of a connection without a session.
	if b, _ := br.Peek(min(4, br.Buffered())); len(b) < 4 || br.Buffered() < 4+(int(b[1])<<16|int(b[2])<<8|int(b[3])) {
		dl := time.Now().Add(c.srv.tmo.Message)
		if fb.phase && !fb.deadline.IsZero() && fb.deadline.Before(dl) {
			dl = fb.deadline
		}
		c.nc.SetReadDeadline(dl)
	}
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return frame{err: err}, false
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	c.srv.stats.bytesIn.Add(4)
	switch {
	case hdr[0] == 0x85 && n == 0: // NBSS keep-alive
		return f, true
	case hdr[0] == 0x81: // NBSS session request (port 139 style)
		if n > 1024 {
			return frame{err: fmt.Errorf("%w: session request of %d bytes", errProtocol, n)}, false
		}
		if _, err := br.Discard(n); err != nil {
			return frame{err: err}, false
		}
		return frame{sessionRequest: true}, false
	case hdr[0] != 0:
		return frame{err: fmt.Errorf("%w: NBSS packet type %#x", errProtocol, hdr[0])}, false
	case n > fb.maxSize || n < 4:
		return frame{err: fmt.Errorf("%w: message of %d bytes, limit %d", errProtocol, n, fb.maxSize)}, false
	}
	msg, err := readGrowing(br, n)
	if err != nil {
		return frame{err: err}, false
	}
	f.msg = msg
	c.srv.stats.bytesIn.Add(int64(n))
	return f, false
}

// frameChunk is the first allocation for a frame's body: a frame is
// given memory as its octets arrive, doubling from this, never for the
// length it announces alone.
const frameChunk = 16 << 10

// readGrowing reads n octets, growing the buffer as they arrive, so that a
// peer that announces a large frame and sends little of it makes the
// server hold only about what it sent.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, min(n, frameChunk))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	for len(b) < n {
		have := len(b)
		want := min(n, 2*have)
		b = slices.Grow(b, want-have)[:want]
		if _, err := io.ReadFull(r, b[have:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (c *conn) serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, c.cancel)
	defer stop()
	cancel := c.cancel
	ctx = c.ctx
	exit := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); c.readLoop(exit) }()
	defer func() {
		close(c.done)
		c.kill()
		c.mu.Lock()
		for _, s := range c.sessions {
			c.logoff(s, "disconnect")
		}
		if c.pipeSweep != nil {
			c.pipeSweep.Stop()
		}
		c.mu.Unlock()
		cancel()
		c.pipes.Wait()
		c.async.wg.Wait()
		<-readerDone
	}()
	c.log.Debug("smb2 connection")
	// The reading goroutine handles the requests; this one the events.
	// Once draining, no new frame is taken, but the asynchronous
	// operations in progress still get their final answers.
	drainCh := (<-chan struct{})(c.drainCh)
	for {
		select {
		case err := <-exit:
			return err
		case res := <-c.async.done:
			c.mu.Lock()
			err := c.finishAsync(res)
			finished := drainCh == nil && len(c.async.ops) == 0
			c.mu.Unlock()
			if err != nil {
				return c.writeFailed(err)
			}
			if finished {
				return nil
			}
		case <-c.events.signal:
		case <-drainCh:
			c.mu.Lock()
			pending := len(c.async.ops)
			c.mu.Unlock()
			if pending == 0 {
				return nil
			}
			drainCh = nil
		case <-ctx.Done():
			return nil
		}
		c.mu.Lock()
		c.processEvents()
		closeAfter := c.closeAfter
		c.mu.Unlock()
		if closeAfter {
			return nil
		}
	}
}

// keptFrameSize bounds the frame buffer a connection keeps between
// answers: enough for a pipe READ of a 4280-octet DCE/RPC fragment (what
// rpcclient and Windows read) and every small answer, while a connection
// that once sent a large answer does not hold its size for good.
const keptFrameSize = 8 << 10

// response is one reply of a (possibly compounded) answer.
type response struct {
	hdr     wire.Header
	body    []byte
	data    []byte   // follows body
	recycle recycler // takes data back once the frame is written
	signer  *smbcrypto.Signer
	seal    *smbSession      // encrypts the whole answer with this session's key
	after   func(msg []byte) // sees the final bytes (pre-authentication hash)
}

func (c *conn) send(resps []response) error {
	size := 4
	for i := range resps {
		size += wire.HeaderSize + len(resps[i].body) + len(resps[i].data) + 7 // 7: compound padding
	}
	// The frame is built in a buffer the connection keeps for the next
	// one, up to keptFrameSize; a larger one comes from the server's pool
	// and goes back once written.
	out := c.obuf[:0]
	var pooled *[]byte
	if cap(out) < size {
		if size <= keptFrameSize {
			out = make([]byte, 0, size)
			c.obuf = out
		} else {
			pooled = c.srv.frameBuffer(size)
			out = (*pooled)[:0]
			defer c.srv.frames.Put(pooled)
		}
	}
	out = append(out, 0, 0, 0, 0)
	for i := range resps {
		r := &resps[i]
		start := len(out)
		out = r.hdr.Append(out)
		out = append(out, r.body...)
		out = append(out, r.data...)
		if i < len(resps)-1 {
			for (len(out)-start)%8 != 0 {
				out = append(out, 0)
			}
			le.PutUint32(out[start+20:], uint32(len(out)-start))
		}
		if r.signer != nil && resps[0].seal == nil {
			if err := r.signer.Sign(out[start:]); err != nil {
				return err
			}
		}
		if r.after != nil {
			r.after(out[start:])
		}
	}
	if pooled != nil {
		*pooled = out[:0]
	}
	if s := resps[0].seal; s != nil {
		out = s.cipher.seal(make([]byte, 4, 4+smbcrypto.TransformHeaderSize+len(out)), s.id, out[4:])
	}
	n := len(out) - 4
	out[0], out[1], out[2], out[3] = 0, byte(n>>16), byte(n>>8), byte(n)
	err := c.write(out)
	for i := range resps {
		if r := &resps[i]; r.recycle != nil {
			r.recycle.Recycle(r.data)
		}
	}
	return err
}

// frameBuffer returns a buffer of the pool with room for size octets.
func (s *Server) frameBuffer(size int) *[]byte {
	if p, _ := s.frames.Get().(*[]byte); p != nil && cap(*p) >= size {
		return p
	}
	b := make([]byte, 0, size)
	return &b
}

// write sends a frame within Timeouts.Write.
func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.tmo.Write))
	n, err := c.nc.Write(b)
	c.srv.stats.bytesOut.Add(int64(n))
	return err
}

// readFailed ends the connection after a read error: the peer left, a
// deadline passed or the framing was wrong.
func (c *conn) readFailed(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		return nil
	case errors.Is(err, errProtocol):
		c.srv.stats.protocolErrors.Add(1)
		c.log.Info("smb2 connection closed", slog.Any("err", err))
		return nil
	case errors.As(err, &ne) && ne.Timeout():
		c.srv.stats.timeouts.Add(1)
		c.log.Info("smb2 connection timed out", slog.String("phase", c.phase()))
		return nil
	}
	c.log.Debug("smb2 connection ends", slog.Any("err", err))
	return err
}

// writeFailed ends the connection after a failed write.
func (c *conn) writeFailed(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.srv.stats.timeouts.Add(1)
		c.log.Info("smb2 connection timed out", slog.String("phase", "write"))
		return nil
	}
	c.log.Debug("smb2 connection closed", slog.Any("err", err))
	return err
}

func (c *conn) phase() string {
	switch {
	case !c.negotiated:
		return "negotiate"
	case !c.established.Load():
		return "setup"
	}
	return "idle"
}
