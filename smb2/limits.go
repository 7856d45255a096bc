package smb2

import (
	"errors"
	"time"

	"github.com/netsession/netsession/auth"
)

// ErrTooManyConns is returned by ServeConn when the server already serves
// Limits.MaxConns connections; the connection has been closed.
var ErrTooManyConns = errors.New("smb2: too many connections")

// ErrTooManyConnsFromAddr is returned by ServeConn when the server already
// serves Limits.MaxConnsPerAddr connections from the peer's address; the
// connection has been closed.
var ErrTooManyConnsFromAddr = errors.New("smb2: too many connections from one address")

// How many connections the server holds: MaxConns (1,024) in all, and
// MaxConnsPerAddr (256) from one IP address or IPv6 /64, so that one
// client cannot keep the others out; a connection over either is closed
// at once, and the refusals are logged once per address every ten seconds
// with a count. An accept that fails for want of descriptors or memory is
// retried after 5 ms, doubling to 1 s: Serve never stops for it.

// Frame sizes by the connection's phase. Before NEGOTIATE a frame holds
// only a NEGOTIATE (or an SMB1 multi-protocol negotiate): with every
// negotiate context a client sends (pre-authentication integrity with its
// salt, encryption and signing algorithms, compression, a netname of up to
// 255 characters, transport and RDMA capabilities) it stays under 1.5 KiB,
// so MaxNegotiateFrameSize leaves a wide margin. Until a session is
// established a frame holds a SESSION_SETUP, whose largest token is a
// Kerberos AP-REQ carrying a PAC of many groups (about 48 KB, wrapped in
// SPNEGO): MaxSetupFrameSize admits it. A longer announced length closes
// the connection before any memory is given to it. After that,
// MaxMessageSize applies.
const (
	// MaxNegotiateFrameSize bounds a frame before NEGOTIATE.
	MaxNegotiateFrameSize = 8 << 10
	// MaxSetupFrameSize bounds a frame until a session is established.
	MaxSetupFrameSize = 64 << 10
)

// What one connection may hold, with the defaults:
//
//   - one message being read or processed at a time (at most
//     MaxNegotiateFrameSize, 8 KiB, before NEGOTIATE, MaxSetupFrameSize,
//     64 KiB, until a session is established, then MaxMessageSize,
//     1 MiB), its buffer grown as its octets arrive (from 16 KiB,
//     doubling), not sized by the length it announces: the reader reads
//     the next frame only once the previous one is answered, so a
//     client's pipelined requests wait in the kernel's socket buffer, not
//     in ours, and MaxCredits (512) bounds how many it may send;
//   - MaxSessionsPerConn (64) sessions and MaxOpensPerConn (64) pipes,
//     each pipe buffering at most MaxPipeBuffer (256 KiB) in each
//     direction: what the client wrote ahead of the handler, a request
//     being reassembled from fragments included (more is refused), and
//     what the handler wrote ahead of the client's READs (the handler's
//     next Write waits; one answer may pass the bound);
//   - and all the pipes of one session together at most
//     MaxSessionPipeMemory (1 MiB), of one connection MaxConnPipeMemory
//     (4 MiB), input and unread answers counted together: a WRITE or
//     transceive that would pass either is refused. A srvsvc request is
//     under 1 KiB and a level-502 answer for 5,000 sessions under 1 MiB,
//     so a session that reads its answers never meets the bound, while
//     the 64 pipes of a connection can no longer hold 64 times
//     MaxPipeBuffer in each direction: a connection holds at most its
//     frame (1 MiB) and 4 MiB of pipe buffers, plus the one answer per
//     pipe the handler may have written past the bound.
//
// A pipe with nothing in flight (no input held unanswered as a handler
// sees it, no answer unread) for Timeouts.PipeIdle (5 min, as a DCE/RPC
// association over TCP idles out) is closed; a request left unfinished
// on an inline (RPCService) pipe is dropped, and its pipe closed, at the
// DCE/RPC server's Timeouts.Reassembly (30 s) from its first fragment.
//
// And how long it may take:
//
//   - Timeouts.Negotiate (10 s) from accept to NEGOTIATE;
//   - Timeouts.Setup (30 s) from NEGOTIATE, or from the end of its last
//     session, to an established session, however busy it keeps the
//     connection meanwhile;
//   - Timeouts.Idle (15 min, as Windows' autodisconnect) of silence once it
//     has a session;
//   - Timeouts.Message (30 s) for the rest of a message once its first byte
//     has arrived, so a half-sent header or body cannot stall the reader;
//     before a session is established, no later than the phase's own
//     deadline (Timeouts.Negotiate or Timeouts.Setup);
//   - Timeouts.Write (30 s) for a response to a client that does not read.
//
// Each is a field of Server.Limits or Server.Timeouts whose zero value
// means the default.

// Limits bound what the server, one address and one connection may hold.
// Every zero field means the default of the same name (DefaultMaxConns for
// MaxConns, and so on).
type Limits struct {
	// MaxConns bounds the connections served at once, server-wide
	// (negative: no bound). A connection over it is closed as soon as it
	// is accepted.
	MaxConns int
	// MaxConnsPerAddr bounds those from one IP address, an IPv6 address
	// counting by its /64 (negative: no bound), so that one client
	// reconnecting as fast as it is closed cannot take every place.
	// Refusals are logged at WARN once per address every ten seconds,
	// with a count.
	MaxConnsPerAddr int
	// MaxCredits bounds the credits a connection holds, hence the
	// requests it may have outstanding.
	MaxCredits uint16
	// MaxSessionsPerConn bounds the sessions (established or being set
	// up) of one connection; one more SESSION_SETUP gets
	// STATUS_INSUFFICIENT_RESOURCES.
	MaxSessionsPerConn int
	// MaxOpensPerConn bounds the pipes open on one connection; one more
	// CREATE gets STATUS_INSUFFICIENT_RESOURCES.
	MaxOpensPerConn int
	// MaxMessageSize bounds one transport frame once a session is
	// established, compounded requests included; a larger length closes
	// the connection before anything is allocated.
	MaxMessageSize int
	// MaxPipeBuffer bounds, for each open pipe, what the client may
	// write ahead of the pipe's handler (a WRITE beyond it fails) and
	// what the handler may write ahead of the client's READs (its Write
	// waits).
	MaxPipeBuffer int
	// MaxSessionPipeMemory and MaxConnPipeMemory bound what the pipes of
	// one session, and of one connection, hold together: the client's
	// input not yet answered (requests being reassembled included) and
	// the answers it has not read. A WRITE or transceive that would pass
	// either is refused with STATUS_INSUFFICIENT_RESOURCES.
	MaxSessionPipeMemory, MaxConnPipeMemory int
}

// Timeouts bound how long a connection may take. Every zero field means
// the default of the same name (DefaultNegotiateTimeout for Negotiate, and
// so on); a negative Idle or PipeIdle means never, a negative value of the
// others means the default.
type Timeouts struct {
	// Negotiate is the time a new connection has to send its NEGOTIATE.
	Negotiate time.Duration
	// Setup is the time a negotiated connection has to establish a
	// session, counted from NEGOTIATE or from the end of its last
	// session, however much it sends meanwhile.
	Setup time.Duration
	// Idle closes a connection with sessions that sends nothing (not even
	// ECHO) for that long.
	Idle time.Duration
	// Message bounds reading the rest of a message once its first byte
	// has arrived: a half-sent header or body does not hold the
	// connection longer.
	Message time.Duration
	// Write bounds writing one response to a client that does not read;
	// then the connection is closed.
	Write time.Duration
	// Pipe bounds how long a READ or transceive waits for the pipe to
	// answer.
	Pipe time.Duration
	// PipeIdle closes a pipe that has had nothing in flight (no request,
	// no answer unread) for that long; the client's next use of it gets
	// STATUS_FILE_CLOSED.
	PipeIdle time.Duration
	// LogoffGrace is how long a session deleted by NetSessionDel may
	// still collect the answer to a call in flight on its pipes before it
	// is logged off regardless.
	LogoffGrace time.Duration
}

// withDefaults returns l with every zero field set to its default: the one
// place the defaults are applied.
func (l Limits) withDefaults() Limits {
	or(&l.MaxConns, DefaultMaxConns)
	or(&l.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	or(&l.MaxCredits, DefaultMaxCredits)
	or(&l.MaxSessionsPerConn, DefaultMaxSessionsPerConn)
	or(&l.MaxOpensPerConn, DefaultMaxOpensPerConn)
	or(&l.MaxMessageSize, DefaultMaxMessageSize)
	or(&l.MaxPipeBuffer, DefaultMaxPipeBuffer)
	or(&l.MaxSessionPipeMemory, DefaultMaxSessionPipeMemory)
	or(&l.MaxConnPipeMemory, DefaultMaxConnPipeMemory)
	return l
}

// withDefaults returns t with every zero field set to its default, and
// every negative one but Idle and PipeIdle (where it means never): the one
// place the defaults are applied.
func (t Timeouts) withDefaults() Timeouts {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&t.Negotiate, DefaultNegotiateTimeout},
		{&t.Setup, DefaultSetupTimeout},
		{&t.Message, DefaultMessageTimeout},
		{&t.Write, DefaultWriteTimeout},
		{&t.Pipe, DefaultPipeTimeout},
		{&t.LogoffGrace, DefaultLogoffGrace},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	or(&t.Idle, DefaultIdleTimeout)
	or(&t.PipeIdle, DefaultPipeIdleTimeout)
	return t
}

// or sets *v to def when it is zero.
func or[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// readDeadline is the deadline for the first byte of the next message; the
// reading goroutine computes it after each message it has handled, under
// c.mu.
func (c *conn) readDeadline() time.Time {
	now := time.Now()
	est := c.established.Load()
	if !est && (c.setupSince.IsZero() || c.wasEstablished) {
		c.setupSince = now
	}
	c.wasEstablished = est
	switch {
	case !c.negotiated:
		return c.start.Add(c.srv.tmo.Negotiate)
	case !est:
		return c.setupSince.Add(c.srv.tmo.Setup)
	case c.srv.tmo.Idle < 0:
		return time.Time{}
	}
	return now.Add(c.srv.tmo.Idle)
}

// logonStatus is the status of a refused SESSION_SETUP: an account locked
// out by the throttle gets STATUS_ACCOUNT_LOCKED_OUT, as Windows answers,
// any other refusal STATUS_LOGON_FAILURE.
func logonStatus(err error) Status {
	if errors.Is(err, auth.ErrAccountLockedOut) {
		return StatusAccountLockedOut
	}
	return StatusLogonFailure
}

// holdAnswer holds back the answer to a failed logon for as long as the
// authentication's throttle asks (an error with an AnswerDelay method, see
// auth.Throttle): the connection's own goroutine waits on a timer, ended
// early when the connection is killed; no goroutine is started for it.
// The connection keeps its place (MaxConnsPerAddr) meanwhile.
func (c *conn) holdAnswer(err error) {
	var d interface{ AnswerDelay() time.Duration }
	if err == nil || !errors.As(err, &d) || d.AnswerDelay() <= 0 {
		return
	}
	t := time.NewTimer(d.AnswerDelay())
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	}
}
