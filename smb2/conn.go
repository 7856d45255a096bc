package smb2

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

var le = binary.LittleEndian

// Dialects this server speaks, lowest first.
const (
	Dialect202      uint16 = 0x0202
	Dialect210      uint16 = 0x0210
	Dialect300      uint16 = 0x0300
	Dialect302      uint16 = 0x0302
	Dialect311      uint16 = 0x0311
	dialectWildcard uint16 = 0x02FF
)

// Status codes used only here.
const (
	statusPipeBusy         Status = 0xC00000AE
	statusFSDriverRequired Status = 0xC000019C
)

// errClose ends a connection without an answer; errProtocol is a framing
// error found by the reader.
var (
	errClose    = errors.New("smb2: closing connection")
	errProtocol = errors.New("smb2: bad framing")
)

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

	// Events from other goroutines: sessions deleted from the table, pipes
	// becoming idle.
	evMu     sync.Mutex
	evKills  []uint64
	evSignal chan struct{}

	established atomic.Bool // at least one session is valid

	start          time.Time // accepted
	setupSince     time.Time // negotiated, or last session ended
	wasEstablished bool

	// Everything below is guarded by mu. The reading goroutine holds it
	// while it handles a message, the serving goroutine while it handles
	// an event (an asynchronous result, a deleted session, the end).
	mu             sync.Mutex
	negotiated     bool
	smb1Wildcard   bool
	dialect        uint16
	clientGUID     [16]byte
	clientSecMode  uint16
	clientCaps     uint32
	clientDialects []uint16
	secMode        uint16
	gmac           bool
	preauth        [smbcrypto.PreauthSize]byte
	cipher         uint16      // encryption cipher agreed in NEGOTIATE; 0: none
	decryptedBy    *smbSession // the session whose key decrypted the message in hand

	seqLow, seqHigh uint64
	used            map[uint64]struct{}

	sessions      map[uint64]*smbSession
	nextSessionID uint64
	opens         map[uint64]*open
	nextFileID    uint64
	pipes         sync.WaitGroup
	closeAfter    bool   // close once the current responses are sent
	obuf          []byte // the frame send builds, kept between frames
	deletedAny    bool

	// Requests answered STATUS_PENDING: a goroutine waits for each one's
	// result and hands it to the serving goroutine, which sends it.
	asyncOps  map[uint64]*asyncOp
	nextAsync uint64
	asyncDone chan asyncResult
	asyncWG   sync.WaitGroup
	asyncOK   bool          // the request in hand may go asynchronous
	deferred  *deferredRead // set by dispatch when it answers StatusPending
}

// asyncOp is a request answered with an interim response.
type asyncOp struct {
	hdr    wire.Header // the request's header
	body   func(data []byte) []byte
	sess   *smbSession
	signed bool        // the request was signed
	seal   *smbSession // the answer is encrypted with this session's key
	cancel context.CancelCauseFunc
}

// asyncResult is the outcome of an asynchronous pipe READ.
type asyncResult struct {
	id   uint64
	data []byte
	st   Status
}

// errCancelled is the cause given to an asynchronous operation's context
// when the client sends CANCEL.
var errCancelled = errors.New("smb2: cancelled by the client")

type smbSession struct {
	id              uint64
	valid           bool
	auth            *ntlm.SPNEGOServerContext
	preauth         [smbcrypto.PreauthSize]byte
	signer          *smbcrypto.Signer
	signingRequired bool
	cipher          *sessionCipher // nil: the session does not encrypt
	caller          session.Caller
	entry           *session.Session
	flags           uint16
	trees           map[uint32]bool
	nextTree        uint32
	nopens          int
	doomed          bool
	grace           *time.Timer
}

type open struct {
	id   wire.FileID
	sess *smbSession
	tree uint32
	pipe *pipeConn
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
		nc:            nc,
		remote:        remote,
		log:           s.logger().With(slog.String("remote", nc.RemoteAddr().String())),
		done:          make(chan struct{}),
		drainCh:       make(chan struct{}),
		evSignal:      make(chan struct{}, 1),
		used:          map[uint64]struct{}{},
		sessions:      map[uint64]*smbSession{},
		opens:         map[uint64]*open{},
		asyncOps:      map[uint64]*asyncOp{},
		asyncDone:     make(chan asyncResult),
		seqHigh:       1,
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

// postKill is the OnClose hook of a session: an administrator deleted it.
// It may run on any goroutine, the connection's own pipe handlers included.
func (c *conn) postKill(id uint64) {
	c.evMu.Lock()
	c.evKills = append(c.evKills, id)
	c.evMu.Unlock()
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.evSignal <- struct{}{}:
	default:
	}
}

type frame struct {
	msg            []byte
	sessionRequest bool // an NBSS session request, answered positively
	err            error
}

// readLoop reads and handles one frame at a time, so at most one message
// is held in memory, and computes the deadline for the next one from the
// connection's state once the previous one is handled. The first byte of a
// frame must arrive by that deadline, the rest within MessageTimeout.
// Handling on the reading goroutine (under mu) spares every request two
// goroutine switches. When the connection must end it hands serve the
// result on exit; once draining it takes no new frame and leaves the end
// to serve.
func (c *conn) readLoop(exit chan<- error) {
	br := bufio.NewReaderSize(c.nc, 4096)
	c.mu.Lock()
	dl := c.readDeadline()
	c.mu.Unlock()
	for {
		f, keepAlive := c.readFrame(br, dl)
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
			dl = c.readDeadline()
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

func (c *conn) readFrame(br *bufio.Reader, dl time.Time) (f frame, keepAlive bool) {
	var hdr [4]byte
	c.nc.SetReadDeadline(dl)
	if _, err := br.ReadByte(); err != nil {
		return frame{err: err}, false
	}
	br.UnreadByte()
	// The rest of the frame must come within MessageTimeout, unless it is
	// already here (a small request usually arrives whole).
	if b, _ := br.Peek(min(4, br.Buffered())); len(b) < 4 || br.Buffered() < 4+(int(b[1])<<16|int(b[2])<<8|int(b[3])) {
		c.nc.SetReadDeadline(time.Now().Add(durOr(c.srv.MessageTimeout, DefaultMessageTimeout)))
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
	case n > c.srv.maxMessageSize() || n < 4:
		return frame{err: fmt.Errorf("%w: message of %d bytes", errProtocol, n)}, false
	}
	f.msg = make([]byte, n)
	if _, err := io.ReadFull(br, f.msg); err != nil {
		return frame{err: err}, false
	}
	c.srv.stats.bytesIn.Add(int64(n))
	return f, false
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
		c.mu.Unlock()
		cancel()
		c.pipes.Wait()
		c.asyncWG.Wait()
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
		case res := <-c.asyncDone:
			c.mu.Lock()
			err := c.finishAsync(res)
			finished := drainCh == nil && len(c.asyncOps) == 0
			c.mu.Unlock()
			if err != nil {
				return c.writeFailed(err)
			}
			if finished {
				return nil
			}
		case <-c.evSignal:
		case <-drainCh:
			c.mu.Lock()
			pending := len(c.asyncOps)
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

// processEvents marks deleted sessions and logs off those whose pipes have
// delivered everything in flight.
func (c *conn) processEvents() {
	c.evMu.Lock()
	kills := c.evKills
	c.evKills = nil
	c.evMu.Unlock()
	for _, id := range kills {
		force := id&(1<<63) != 0
		s := c.sessions[id&^(1<<63)]
		if s == nil {
			continue
		}
		if !s.doomed {
			s.doomed = true
			sid := s.id
			s.grace = time.AfterFunc(durOr(c.srv.LogoffGrace, DefaultLogoffGrace), func() { c.postKill(sid | 1<<63) })
		}
		if force {
			c.logoff(s, "deleted")
			c.deletedAny = true
		}
	}
	for _, s := range c.sessions {
		if s.doomed && c.quiet(s) {
			c.logoff(s, "deleted")
			c.deletedAny = true
		}
	}
	if c.deletedAny && len(c.sessions) == 0 {
		c.closeAfter = true
	}
}

// quiet reports whether none of s's pipes has a call in flight or an
// answer not yet collected, asynchronous reads included.
func (c *conn) quiet(s *smbSession) bool {
	for _, op := range c.asyncOps {
		if op.sess == s {
			return false
		}
	}
	for _, o := range c.opens {
		if o.sess == s && !o.pipe.idle() {
			return false
		}
	}
	return true
}

// logoff ends a session: its pipes close and it leaves the table.
func (c *conn) logoff(s *smbSession, why string) {
	for id, o := range c.opens {
		if o.sess == s {
			o.pipe.Close()
			delete(c.opens, id)
		}
	}
	if s.grace != nil {
		s.grace.Stop()
	}
	if s.entry != nil {
		s.entry.Close()
	}
	delete(c.sessions, s.id)
	if s.valid {
		c.srv.stats.sessionsOpen.Add(-1)
		c.log.Debug("smb2 session ends", slog.String("user", s.caller.User), slog.String("why", why))
	}
	any := false
	for _, x := range c.sessions {
		any = any || x.valid
	}
	c.established.Store(any)
}

// keptFrameSize bounds the frame buffer a connection keeps between
// answers: enough for a pipe READ of a 4280-octet DCE/RPC fragment (what
// rpcclient and Windows read) and every small answer, while a connection
// that once sent a large answer does not hold its size for good.
const keptFrameSize = 8 << 10

// response is one reply of a (possibly compounded) answer.
type response struct {
	hdr    wire.Header
	body   []byte
	signer *smbcrypto.Signer
	seal   *smbSession      // encrypts the whole answer with this session's key
	after  func(msg []byte) // sees the final bytes (pre-authentication hash)
}

func (c *conn) send(resps []response) error {
	size := 4
	for i := range resps {
		size += wire.HeaderSize + len(resps[i].body) + 7 // 7: compound padding
	}
	// The frame is built in a buffer the connection keeps for the next
	// one, up to keptFrameSize.
	out := c.obuf[:0]
	if cap(out) < size {
		out = make([]byte, 0, size)
		if size <= keptFrameSize {
			c.obuf = out
		}
	}
	out = append(out, 0, 0, 0, 0)
	for i := range resps {
		r := &resps[i]
		start := len(out)
		out = r.hdr.Append(out)
		out = append(out, r.body...)
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
	if s := resps[0].seal; s != nil {
		out = s.cipher.seal(make([]byte, 4, 4+smbcrypto.TransformHeaderSize+len(out)), s.id, out[4:])
	}
	n := len(out) - 4
	out[0], out[1], out[2], out[3] = 0, byte(n>>16), byte(n>>8), byte(n)
	return c.write(out)
}

// write sends a frame within WriteTimeout.
func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(durOr(c.srv.WriteTimeout, DefaultWriteTimeout)))
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

func (c *conn) handle(msg []byte) error {
	c.decryptedBy = nil
	if string(msg[:4]) == smbcrypto.ProtocolTransform {
		plain, s, err := c.decrypt(msg)
		if err != nil {
			return err
		}
		msg, c.decryptedBy = plain, s
	}
	switch {
	case string(msg[:4]) == wire.ProtocolSMB1:
		return c.handleSMB1(msg)
	case string(msg[:4]) != wire.ProtocolSMB2:
		return fmt.Errorf("%w: protocol id %x", errClose, msg[:4])
	}
	var resps []response
	var rel relState
	off := 0
	for {
		h, err := wire.ParseHeader(msg[off:])
		if err != nil {
			return fmt.Errorf("%w: %v", errClose, err)
		}
		end := len(msg)
		if h.NextCommand != 0 {
			next := int(h.NextCommand)
			if next%8 != 0 || next < wire.HeaderSize || off+next >= len(msg) {
				return fmt.Errorf("%w: NextCommand %d", errClose, next)
			}
			end = off + next
		}
		if off > 0 && h.Flags&wire.FlagRelatedOperations == 0 {
			rel = relState{}
		}
		r, ok, err := c.process(h, msg[off:end], off > 0, &rel)
		if err != nil {
			return err
		}
		if ok {
			resps = append(resps, r)
		}
		if h.NextCommand == 0 {
			break
		}
		off = end
	}
	if len(resps) == 0 {
		return nil
	}
	if c.decryptedBy != nil {
		resps[0].seal = c.decryptedBy
	}
	return c.send(resps)
}

// relState carries what related operations of a compound inherit.
type relState struct {
	valid     bool
	sessionID uint64
	treeID    uint32
	fileID    wire.FileID
	status    Status
}

// handleSMB1 answers a multi-protocol SMB1 NEGOTIATE with an SMB2 one.
func (c *conn) handleSMB1(msg []byte) error {
	if c.negotiated || c.smb1Wildcard || c.seqLow != 0 {
		return fmt.Errorf("%w: SMB1 after negotiation", errClose)
	}
	ds, err := wire.SMB1Dialects(msg)
	if err != nil {
		return fmt.Errorf("%w: %v", errClose, err)
	}
	c.seqLow, c.seqHigh = 1, 2
	switch {
	case slices.Contains(ds, "SMB 2.???"):
		c.smb1Wildcard = true
		return c.send([]response{c.negotiateResponse(dialectWildcard, wire.Header{Command: wire.CmdNegotiate}, nil, 1)})
	case slices.Contains(ds, "SMB 2.002"):
		c.negotiated = true
		c.dialect = Dialect202
		c.clientDialects = []uint16{Dialect202}
		c.secMode = c.serverSecMode()
		return c.send([]response{c.negotiateResponse(Dialect202, wire.Header{Command: wire.CmdNegotiate}, nil, 1)})
	}
	return fmt.Errorf("%w: SMB1 client without SMB2 dialects", errClose)
}

func (c *conn) serverSecMode() uint16 {
	m := wire.SigningEnabled
	if c.srv.Signing == SigningRequired {
		m |= wire.SigningRequired
	}
	return m
}

// charge checks a request's message IDs against the window the credits
// granted so far allow and consumes them; it returns the credits granted
// back. A request outside the window ends the connection, as Windows
// does.
func (c *conn) charge(h *wire.Header) (uint16, error) {
	n := uint64(h.CreditCharge)
	if n == 0 || c.dialect == Dialect202 {
		n = 1
	}
	mid := h.MessageID
	if mid < c.seqLow || mid+n > c.seqHigh || mid+n < mid {
		return 0, fmt.Errorf("%w: message id %d (charge %d) outside [%d,%d)", errClose, mid, n, c.seqLow, c.seqHigh)
	}
	for i := uint64(0); i < n; i++ {
		if _, dup := c.used[mid+i]; dup {
			return 0, fmt.Errorf("%w: message id %d reused", errClose, mid+i)
		}
	}
	for i := uint64(0); i < n; i++ {
		c.used[mid+i] = struct{}{}
	}
	for {
		if _, ok := c.used[c.seqLow]; !ok {
			break
		}
		delete(c.used, c.seqLow)
		c.seqLow++
	}
	avail := c.seqHigh - c.seqLow - uint64(len(c.used))
	want := max(uint64(h.Credit), 1)
	limit := c.srv.maxCredits()
	grant := uint64(0)
	if avail < limit {
		grant = min(want, limit-avail)
	}
	if avail == 0 && grant == 0 {
		grant = 1
	}
	c.seqHigh += grant
	return uint16(grant), nil
}

func (c *conn) reply(h *wire.Header, status Status, credits uint16, body []byte) response {
	rh := wire.Header{
		CreditCharge: h.CreditCharge,
		Status:       uint32(status),
		Command:      h.Command,
		Credit:       credits,
		Flags:        wire.FlagServerToRedir | h.Flags&wire.FlagRelatedOperations,
		MessageID:    h.MessageID,
		TreeID:       h.TreeID,
		SessionID:    h.SessionID,
	}
	if body == nil {
		body = wire.AppendErrorResponse(nil)
	}
	return response{hdr: rh, body: body}
}

// process handles one request. ok is false when nothing is to be sent.
func (c *conn) process(h wire.Header, msg []byte, inChain bool, rel *relState) (r response, ok bool, err error) {
	c.srv.stats.command(h.Command)
	if h.Flags&wire.FlagServerToRedir != 0 {
		return r, false, fmt.Errorf("%w: response flag in a request", errClose)
	}
	if h.Command == wire.CmdCancel {
		// A CANCEL has no answer of its own and takes no credit; the
		// operation it names ends with STATUS_CANCELLED. One that does
		// not prove its session is dropped without a word.
		if c.cancelAuthentic(&h, msg) {
			c.cancelAsync(&h)
		} else {
			c.log.Debug("smb2 CANCEL dropped: not authenticated", slog.Uint64("session", h.SessionID))
		}
		return r, false, nil
	}
	if h.Flags&wire.FlagAsyncCommand != 0 {
		return r, false, fmt.Errorf("%w: async request", errClose)
	}
	if !c.negotiated {
		if h.Command != wire.CmdNegotiate {
			return r, false, fmt.Errorf("%w: %d before NEGOTIATE", errClose, h.Command)
		}
		credits, err := c.charge(&h)
		if err != nil {
			return r, false, err
		}
		return c.negotiate(h, msg, credits)
	}
	credits, err := c.charge(&h)
	if err != nil {
		return r, false, err
	}
	switch h.Command {
	case wire.CmdNegotiate:
		return r, false, fmt.Errorf("%w: second NEGOTIATE", errClose)
	case wire.CmdSessionSetup:
		return c.sessionSetup(h, msg, credits), true, nil
	case wire.CmdEcho:
		if inChain && h.Flags&wire.FlagRelatedOperations != 0 && rel.valid && h.SessionID == ^uint64(0) {
			h.SessionID = rel.sessionID
		}
		return c.echo(h, msg, credits), true, nil
	}
	if inChain && h.Flags&wire.FlagRelatedOperations != 0 && rel.valid {
		if rel.status != StatusSuccess {
			return c.reply(&h, rel.status, credits, nil), true, nil
		}
		if h.SessionID == ^uint64(0) {
			h.SessionID = rel.sessionID
		}
		if h.TreeID == ^uint32(0) {
			h.TreeID = rel.treeID
		}
	}
	s := c.sessions[h.SessionID]
	if s == nil || !s.valid {
		r = c.reply(&h, StatusUserSessionDeleted, credits, nil)
		rel.set(h, StatusUserSessionDeleted, wire.FileID{})
		return r, true, nil
	}
	if st := c.encryptionStatus(s); st != StatusSuccess {
		return c.reply(&h, st, credits, nil), true, nil
	}
	signed := h.Flags&wire.FlagSigned != 0 && c.decryptedBy == nil
	if signed {
		if s.signer == nil || s.signer.Verify(msg) != nil {
			c.log.Debug("smb2 bad signature", slog.Uint64("session", s.id))
			return c.reply(&h, StatusAccessDenied, credits, nil), true, nil
		}
	} else if s.signingRequired && c.decryptedBy == nil {
		return c.reply(&h, StatusAccessDenied, credits, nil), true, nil
	}
	if s.doomed && !collecting(h.Command) {
		// Deleted by NetSessionDel and waiting for its pipes to deliver
		// what is in flight: nothing new starts.
		r = c.reply(&h, StatusUserSessionDeleted, credits, nil)
		rel.set(h, StatusUserSessionDeleted, wire.FileID{})
		return r, true, nil
	}
	s.entry.Touch()
	c.asyncOK = !inChain && h.NextCommand == 0
	st, body, fid := c.dispatch(s, &h, msg, rel)
	c.asyncOK = false
	if d := c.deferred; d != nil {
		c.deferred = nil
		rel.set(h, st, fid)
		return c.startAsync(s, h, credits, signed, d), true, nil
	}
	r = c.reply(&h, st, credits, body)
	r.seal = c.sealFor(s)
	rel.set(h, st, fid)
	if s.signer != nil && (signed || s.signingRequired || h.Command == wire.CmdIoctl && st == StatusSuccess && body != nil && le.Uint32(body[4:]) == wire.FsctlValidateNegotiateInfo) {
		r.signer = s.signer
	}
	if h.Command == wire.CmdLogoff && st == StatusSuccess {
		c.logoff(s, "logoff")
	}
	return r, true, nil
}

// collecting reports whether a command may still run on a session
// deleted by NetSessionDel: reading the answers in flight and closing.
func collecting(cmd uint16) bool {
	switch cmd {
	case wire.CmdRead, wire.CmdClose, wire.CmdTreeDisconnect, wire.CmdLogoff:
		return true
	}
	return false
}

func (rel *relState) set(h wire.Header, st Status, fid wire.FileID) {
	rel.valid = true
	rel.sessionID = h.SessionID
	rel.treeID = h.TreeID
	rel.status = st
	if fid != (wire.FileID{}) {
		rel.fileID = fid
	}
}

func (c *conn) negotiate(h wire.Header, msg []byte, credits uint16) (r0 response, _ bool, _ error) {
	req, err := wire.ParseNegotiateRequest(msg)
	if err != nil {
		return c.reply(&h, StatusInvalidParameter, credits, nil), true, nil
	}
	best := uint16(0)
	for _, d := range req.Dialects {
		switch d {
		case Dialect202, Dialect210, Dialect300, Dialect302, Dialect311:
			best = max(best, d)
		}
	}
	if best == 0 {
		c.closeAfter = true
		return c.reply(&h, StatusNotSupported, credits, nil), true, nil
	}
	var ctxs []wire.NegotiateContext
	if best == Dialect311 {
		data, ok := req.Context(wire.CtxPreauthIntegrity)
		algs, err := wire.ParseIDList(data, 2)
		if !ok || err != nil || !slices.Contains(algs, wire.HashSHA512) {
			return c.reply(&h, StatusInvalidParameter, credits, nil), true, nil
		}
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return r0, false, err
		}
		pre := le.AppendUint16(nil, 1)
		pre = le.AppendUint16(pre, uint16(len(salt)))
		pre = le.AppendUint16(pre, wire.HashSHA512)
		ctxs = append(ctxs, wire.NegotiateContext{Type: wire.CtxPreauthIntegrity, Data: append(pre, salt...)})
		if data, ok := req.Context(wire.CtxSigning); ok {
			algs, err := wire.ParseIDList(data, 0)
			if err != nil {
				return c.reply(&h, StatusInvalidParameter, credits, nil), true, nil
			}
			alg := smbcrypto.AlgAESCMAC
			if slices.Contains(algs, smbcrypto.AlgAESGMAC) {
				alg = smbcrypto.AlgAESGMAC
				c.gmac = true
			}
			d := le.AppendUint16(nil, 1)
			ctxs = append(ctxs, wire.NegotiateContext{Type: wire.CtxSigning, Data: le.AppendUint16(d, alg)})
		}
		c.preauth = smbcrypto.PreauthUpdate([smbcrypto.PreauthSize]byte{}, msg)
	}
	encCtx, err := c.negotiateEncryption(best, req.Capabilities, req)
	if err != nil {
		return c.reply(&h, StatusInvalidParameter, credits, nil), true, nil
	}
	if encCtx != nil {
		ctxs = append(ctxs, *encCtx)
	}
	c.negotiated = true
	c.dialect = best
	c.clientGUID = req.ClientGUID
	c.clientSecMode = req.SecurityMode
	c.clientCaps = req.Capabilities
	c.clientDialects = req.Dialects
	c.secMode = c.serverSecMode()
	r := c.negotiateResponse(best, h, ctxs, credits)
	if best == Dialect311 {
		r.after = func(b []byte) { c.preauth = smbcrypto.PreauthUpdate(c.preauth, b) }
	}
	c.log.Debug("smb2 negotiated", slog.String("dialect", fmt.Sprintf("%04x", best)))
	return r, true, nil
}

func (c *conn) negotiateResponse(dialect uint16, h wire.Header, ctxs []wire.NegotiateContext, credits uint16) response {
	nr := wire.NegotiateResponse{
		SecurityMode:    c.serverSecMode(),
		Dialect:         dialect,
		Capabilities:    c.serverCaps(),
		ServerGUID:      c.srv.guid,
		MaxTransactSize: DefaultMaxIOSize,
		MaxReadSize:     DefaultMaxIOSize,
		MaxWriteSize:    DefaultMaxIOSize,
		SystemTime:      filetime(c.srv.now()),
		SecurityBuffer:  ntlm.AcceptorHint(),
		Contexts:        ctxs,
	}
	return c.reply(&h, StatusSuccess, credits, nr.Append(make([]byte, wire.HeaderSize, 512))[wire.HeaderSize:])
}

func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

func (c *conn) sessionSetup(h wire.Header, msg []byte, credits uint16) response {
	req, err := wire.ParseSessionSetupRequest(msg)
	if err != nil {
		return c.reply(&h, StatusInvalidParameter, credits, nil)
	}
	if req.Flags&wire.SessionFlagBinding != 0 {
		return c.reply(&h, StatusRequestNotAccepted, credits, nil)
	}
	var s *smbSession
	if h.SessionID == 0 {
		if len(c.sessions) >= c.srv.maxSessionsPerConn() {
			return c.reply(&h, StatusInsufficientResources, credits, nil)
		}
		s = &smbSession{id: c.nextSessionID, preauth: c.preauth, trees: map[uint32]bool{}, nextTree: 1}
		c.nextSessionID++
		if c.srv.Auth != nil {
			s.auth = c.srv.Auth.NewSPNEGOContext(c.remote)
		}
		c.sessions[s.id] = s
		h.SessionID = s.id
	} else {
		s = c.sessions[h.SessionID]
		if s == nil {
			return c.reply(&h, StatusUserSessionDeleted, credits, nil)
		}
		if s.valid {
			// Re-authentication of an established session is not offered.
			return c.reply(&h, StatusRequestNotAccepted, credits, nil)
		}
	}
	if c.dialect == Dialect311 {
		s.preauth = smbcrypto.PreauthUpdate(s.preauth, msg)
	}
	fail := func(st Status, token []byte, why error) response {
		c.holdAnswer(why)
		c.srv.stats.logonsFailed.Add(1)
		c.log.Info("smb2 logon refused", slog.Any("err", why))
		delete(c.sessions, s.id)
		return c.reply(&h, st, credits, wire.AppendSessionSetupResponse(nil, 0, token))
	}
	if s.auth == nil {
		return fail(StatusLogonFailure, nil, errors.New("no authenticator configured"))
	}
	out, done, err := s.auth.Step(c.ctx, req.SecurityBuffer)
	if err != nil {
		return fail(logonStatus(err), out, err)
	}
	if !done {
		r := c.reply(&h, StatusMoreProcessingRequired, credits, wire.AppendSessionSetupResponse(nil, 0, out))
		if c.dialect == Dialect311 {
			r.after = func(b []byte) { s.preauth = smbcrypto.PreauthUpdate(s.preauth, b) }
		}
		return r
	}
	logon, _ := s.auth.Logon()
	s.auth = nil
	s.caller = logon.Caller
	switch {
	case s.caller.IsAnonymous():
		if !c.srv.AllowAnonymous {
			return fail(StatusLogonFailure, nil, errors.New("anonymous logons are not allowed"))
		}
		s.flags = wire.SessionIsNull
	case s.caller.Guest:
		if !c.srv.AllowGuest {
			return fail(StatusLogonFailure, nil, errors.New("guest logons are not allowed"))
		}
		s.flags = wire.SessionIsGuest
	}
	if s.flags == 0 && len(logon.SessionKey) > 0 {
		keys := smbcrypto.DeriveKeys(c.dialect, logon.SessionKey, s.preauth[:])
		alg := smbcrypto.AlgAESCMAC
		switch {
		case c.dialect < Dialect300:
			alg = smbcrypto.AlgHMACSHA256
		case c.gmac:
			alg = smbcrypto.AlgAESGMAC
		}
		signer, err := smbcrypto.NewSigner(alg, keys.Signing)
		if err != nil {
			return fail(StatusLogonFailure, nil, err)
		}
		s.signer = signer
		s.signingRequired = c.srv.Signing == SigningRequired ||
			uint16(req.SecurityMode)&wire.SigningRequired != 0 || c.clientSecMode&wire.SigningRequired != 0
	}
	if st, err := c.setupEncryption(s, logon.SessionKey); st != StatusSuccess {
		return fail(st, nil, err)
	}
	sid := s.id
	entry, err := c.srv.Table.Open(session.Spec{
		Client:    c.remote,
		User:      s.caller.User,
		Guest:     s.caller.Guest,
		Transport: c.srv.transport(),
		OnClose:   func() { c.postKill(sid) },
	})
	if err != nil {
		return fail(StatusRequestNotAccepted, nil, err)
	}
	s.entry = entry
	s.valid = true
	c.established.Store(true)
	c.srv.stats.sessionsOpened.Add(1)
	c.srv.stats.sessionsOpen.Add(1)
	attrs := []slog.Attr{slog.String("user", s.caller.User), slog.Bool("guest", s.caller.Guest), slog.String("dialect", fmt.Sprintf("%04x", c.dialect))}
	if s.signer != nil {
		attrs = append(attrs, slog.String("signing", signingName(s.signer.Algorithm())), slog.Bool("required", s.signingRequired))
	}
	if s.cipher != nil {
		attrs = append(attrs, slog.String("encryption", smbcrypto.CipherName(s.cipher.id)))
	}
	c.log.LogAttrs(c.ctx, slog.LevelDebug, "smb2 session", attrs...)
	r := c.reply(&h, StatusSuccess, credits, wire.AppendSessionSetupResponse(nil, s.flags, out))
	if s.signer != nil && (c.dialect == Dialect311 || s.signingRequired) {
		r.signer = s.signer
	}
	return r
}

// dispatch serves the commands of an established session. It returns the
// status, the body (nil: an error body) and the file a CREATE opened.
func (c *conn) dispatch(s *smbSession, h *wire.Header, msg []byte, rel *relState) (Status, []byte, wire.FileID) {
	switch h.Command {
	case wire.CmdLogoff:
		if wire.ParseSmall(msg, "LOGOFF") != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		return StatusSuccess, wire.AppendSmall(nil), wire.FileID{}
	case wire.CmdTreeConnect:
		req, err := wire.ParseTreeConnectRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		share := req.Path[strings.LastIndexByte(req.Path, '\\')+1:]
		if !strings.EqualFold(share, "IPC$") {
			return StatusBadNetworkName, nil, wire.FileID{}
		}
		if len(s.trees) >= maxTreesPerSession {
			return StatusInsufficientResources, nil, wire.FileID{}
		}
		id := s.nextTree
		s.nextTree++
		s.trees[id] = true
		h.TreeID = id
		return StatusSuccess, wire.AppendTreeConnectResponse(nil, wire.ShareTypePipe, wire.ShareFlagNoCaching|shareFlags(s), 0, 0x001F01FF), wire.FileID{}
	case wire.CmdIoctl:
		req, err := wire.ParseIoctlRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		if req.CtlCode == wire.FsctlValidateNegotiateInfo {
			return c.validateNegotiate(req)
		}
	}
	if !s.trees[h.TreeID] {
		return StatusNetworkNameDeleted, nil, wire.FileID{}
	}
	switch h.Command {
	case wire.CmdTreeDisconnect:
		if wire.ParseSmall(msg, "TREE_DISCONNECT") != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		for id, o := range c.opens {
			if o.sess == s && o.tree == h.TreeID {
				c.closeOpen(id, o)
			}
		}
		delete(s.trees, h.TreeID)
		return StatusSuccess, wire.AppendSmall(nil), wire.FileID{}
	case wire.CmdCreate:
		return c.create(s, h, msg)
	case wire.CmdClose:
		req, err := wire.ParseCloseRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		c.closeOpen(o.id.Volatile, o)
		return StatusSuccess, wire.AppendCloseResponse(nil), wire.FileID{}
	case wire.CmdFlush:
		req, err := wire.ParseFlushRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		if _, st := c.lookup(s, h, req.FileID, rel); st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		return StatusSuccess, wire.AppendFlushResponse(nil), wire.FileID{}
	case wire.CmdWrite:
		req, err := wire.ParseWriteRequest(msg)
		if err != nil || len(req.Data) > DefaultMaxIOSize {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		if st := pipeStatus(o.pipe.clientWrite(req.Data)); st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		return StatusSuccess, wire.AppendWriteResponse(nil, uint32(len(req.Data))), wire.FileID{}
	case wire.CmdRead:
		req, err := wire.ParseReadRequest(msg)
		if err != nil || req.Length > DefaultMaxIOSize {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		if c.deferRead(o, int(req.Length), func(data []byte) []byte { return wire.AppendReadResponse(make([]byte, 0, 16+len(data)), data, 0) }) {
			return StatusPending, nil, wire.FileID{}
		}
		data, more, st := c.pipeRead(o, int(req.Length))
		if st != StatusSuccess && st != StatusBufferOverflow {
			return st, nil, wire.FileID{}
		}
		_ = more
		return st, wire.AppendReadResponse(make([]byte, 0, 16+len(data)), data, 0), wire.FileID{}
	case wire.CmdIoctl:
		req, _ := wire.ParseIoctlRequest(msg) // parsed above
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		switch req.CtlCode {
		case wire.FsctlPipeTransceive:
			if req.Flags&wire.IoctlIsFsctl == 0 || req.MaxOutputResponse > DefaultMaxIOSize || len(req.Input) > DefaultMaxIOSize {
				return StatusInvalidParameter, nil, wire.FileID{}
			}
			if o.pipe.pendingOut() {
				return statusPipeBusy, nil, wire.FileID{}
			}
			if st := pipeStatus(o.pipe.clientWrite(req.Input)); st != StatusSuccess {
				return st, nil, wire.FileID{}
			}
			if c.deferRead(o, int(req.MaxOutputResponse), func(data []byte) []byte { return wire.AppendIoctlResponse(nil, req.CtlCode, o.id, data) }) {
				return StatusPending, nil, wire.FileID{}
			}
			data, _, st := c.pipeRead(o, int(req.MaxOutputResponse))
			if st != StatusSuccess && st != StatusBufferOverflow {
				return st, nil, wire.FileID{}
			}
			return st, wire.AppendIoctlResponse(nil, req.CtlCode, o.id, data), wire.FileID{}
		case wire.FsctlDFSGetReferrals:
			return statusFSDriverRequired, nil, wire.FileID{}
		}
		return StatusNotSupported, nil, wire.FileID{}
	case wire.CmdQueryInfo:
		req, err := wire.ParseQueryInfoRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		if _, st := c.lookup(s, h, req.FileID, rel); st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		return queryInfo(req)
	}
	// LOCK, QUERY_DIRECTORY, CHANGE_NOTIFY, SET_INFO, OPLOCK_BREAK and
	// anything unknown: a pipe has none of them.
	if h.Command >= wire.NumCommands {
		return StatusInvalidParameter, nil, wire.FileID{}
	}
	return StatusNotSupported, nil, wire.FileID{}
}

func pipeStatus(err error) Status {
	switch {
	case err == nil:
		return StatusSuccess
	case errors.Is(err, errPipeFull):
		return StatusInsufficientResources
	}
	return StatusPipeDisconnected
}

func (c *conn) pipeRead(o *open, n int) ([]byte, bool, Status) {
	if n == 0 {
		return nil, false, StatusSuccess
	}
	// Most reads find their answer queued (always, on an inline pipe):
	// only one that has to wait pays for a timer.
	if data, more, ok, err := o.pipe.tryClientRead(n); ok {
		return readResult(data, more, err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, durOr(c.srv.PipeTimeout, DefaultPipeTimeout))
	defer cancel()
	data, more, err := o.pipe.clientRead(ctx, n)
	return readResult(data, more, err)
}

// readResult turns the outcome of a client read of a pipe into a status.
func readResult(data []byte, more bool, err error) ([]byte, bool, Status) {
	var st Status
	switch {
	case errors.As(err, &st):
		return nil, false, st
	case err != nil:
		return nil, false, StatusPipeEmpty
	case more:
		return data, true, StatusBufferOverflow
	}
	return data, false, StatusSuccess
}

func (c *conn) lookup(s *smbSession, h *wire.Header, fid wire.FileID, rel *relState) (*open, Status) {
	if fid == (wire.FileID{Persistent: ^uint64(0), Volatile: ^uint64(0)}) && rel.valid {
		fid = rel.fileID
	}
	o := c.opens[fid.Volatile]
	if o == nil || o.id != fid || o.sess != s || o.tree != h.TreeID {
		return nil, StatusFileClosed
	}
	return o, StatusSuccess
}

func (c *conn) closeOpen(id uint64, o *open) {
	o.pipe.Close()
	delete(c.opens, id)
	o.sess.nopens--
	o.sess.entry.RemoveOpen()
}

func (c *conn) create(s *smbSession, h *wire.Header, msg []byte) (Status, []byte, wire.FileID) {
	req, err := wire.ParseCreateRequest(msg)
	if err != nil {
		return StatusInvalidParameter, nil, wire.FileID{}
	}
	svc, ok := c.srv.pipe(req.Name)
	if !ok {
		return StatusObjectNameNotFound, nil, wire.FileID{}
	}
	if s.nopens >= maxOpensPerSession || len(c.opens) >= c.srv.maxOpensPerConn() {
		return StatusInsufficientResources, nil, wire.FileID{}
	}
	var pc *pipeConn
	if svc.rpc != nil {
		var err error
		pc, err = newInlinePipe(c.ctx, c.nc.LocalAddr(), c.nc.RemoteAddr(), c.srv.maxPipeBuffer(), svc.rpc,
			rpcPipeOptions(svc.name, c.nc.RemoteAddr(), s.caller)...)
		if err != nil { // the RPC server is shutting down
			return StatusPipeNotAvailable, nil, wire.FileID{}
		}
	} else {
		pc = newPipeConn(c.nc.LocalAddr(), c.nc.RemoteAddr(), c.srv.maxPipeBuffer())
		pc.onIdle = c.signal
		caller := s.caller
		c.pipes.Add(1)
		go func() {
			defer c.pipes.Done()
			defer pc.Close()
			if err := svc.stream(c.ctx, pc, caller); err != nil && c.ctx.Err() == nil {
				c.log.Debug("smb2 pipe handler", slog.Any("err", err))
			}
		}()
	}
	n := c.nextFileID
	c.nextFileID++
	fid := wire.FileID{Persistent: n, Volatile: n}
	o := &open{id: fid, sess: s, tree: h.TreeID, pipe: pc}
	c.opens[n] = o
	s.nopens++
	s.entry.AddOpen()
	cr := wire.CreateResponse{CreateAction: 1, FileAttributes: 0x80, FileID: fid}
	return StatusSuccess, cr.Append(nil), fid
}

func (c *conn) validateNegotiate(req *wire.IoctlRequest) (Status, []byte, wire.FileID) {
	if c.dialect < Dialect300 {
		return StatusNotSupported, nil, wire.FileID{}
	}
	v, err := wire.ParseValidateNegotiateInfo(req.Input)
	if err != nil {
		return StatusInvalidParameter, nil, wire.FileID{}
	}
	if v.Capabilities != c.clientCaps || v.GUID != c.clientGUID || v.SecurityMode != c.clientSecMode || !slices.Equal(v.Dialects, c.clientDialects) {
		// A mismatch means someone tampered with the NEGOTIATE.
		c.log.Warn("smb2 VALIDATE_NEGOTIATE_INFO mismatch")
		c.closeAfter = true
		c.kill()
		return StatusAccessDenied, nil, wire.FileID{}
	}
	out := wire.AppendValidateNegotiateResponse(nil, c.serverCaps(), c.srv.guid, c.secMode, c.dialect)
	return StatusSuccess, wire.AppendIoctlResponse(nil, req.CtlCode, req.FileID, out), wire.FileID{}
}

func queryInfo(req *wire.QueryInfoRequest) (Status, []byte, wire.FileID) {
	if req.InfoType != wire.InfoFile {
		return StatusNotSupported, nil, wire.FileID{}
	}
	var out []byte
	switch req.InfoClass {
	case wire.FileStandardInformation:
		out = le.AppendUint64(nil, 4096) // allocation size
		out = le.AppendUint64(out, 0)    // end of file
		out = le.AppendUint32(out, 1)    // links
		out = append(out, 1, 0, 0, 0)    // delete pending, directory, reserved
	default:
		return StatusInvalidInfoClass, nil, wire.FileID{}
	}
	if int(req.OutputBufferLength) < len(out) {
		return StatusInfoLengthMismatch, nil, wire.FileID{}
	}
	return StatusSuccess, wire.AppendQueryInfoResponse(nil, out), wire.FileID{}
}

func signingName(alg uint16) string {
	switch alg {
	case smbcrypto.AlgHMACSHA256:
		return "HMAC-SHA256"
	case smbcrypto.AlgAESCMAC:
		return "AES-CMAC"
	case smbcrypto.AlgAESGMAC:
		return "AES-GMAC"
	}
	return "unknown"
}
