package smb2

import (
	"errors"
	"time"

	"github.com/netsession/netsession/auth"
)

// ErrTooManyConns is returned by ServeConn when the server already serves
// MaxConns connections; the connection has been closed.
var ErrTooManyConns = errors.New("smb2: too many connections")

// ErrTooManyConnsFromAddr is returned by ServeConn when the server already
// serves MaxConnsPerAddr connections from the peer's address; the
// connection has been closed.
var ErrTooManyConnsFromAddr = errors.New("smb2: too many connections from one address")

// How many connections the server holds: MaxConns (1,024) in all, and
// MaxConnsPerAddr (256) from one IP address or IPv6 /64, so that one
// client cannot keep the others out; a connection over either is closed
// at once, and the refusals are logged once per address every ten seconds
// with a count. An accept that fails for want of descriptors or memory is
// retried after 5 ms, doubling to 1 s: Serve never stops for it.

// What one connection may hold, with the defaults:
//
//   - one message being read or processed at a time (at most
//     MaxMessageSize, 1 MiB): the reader reads the next frame only once
//     the previous one is answered, so a client's pipelined requests wait
//     in the kernel's socket buffer, not in ours, and MaxCredits (512)
//     bounds how many it may send;
//   - MaxSessionsPerConn (64) sessions and MaxOpensPerConn (64) pipes,
//     each pipe buffering at most MaxPipeBuffer (256 KiB) in each
//     direction: what the client wrote ahead of the handler (more is
//     refused), and what the handler wrote ahead of the client's READs
//     (the handler's next Write waits).
//
// And how long it may take:
//
//   - NegotiateTimeout (10 s) from accept to NEGOTIATE;
//   - SetupTimeout (30 s) from NEGOTIATE, or from the end of its last
//     session, to an established session, however busy it keeps the
//     connection meanwhile;
//   - IdleTimeout (15 min, as Windows' autodisconnect) of silence once it
//     has a session;
//   - MessageTimeout (30 s) for the rest of a message once its first byte
//     has arrived, so a half-sent header or body cannot stall the reader;
//   - WriteTimeout (30 s) for a response to a client that does not read.
//
// Each limit is a Server field whose zero value means the default.

func intOr(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

func (s *Server) maxConns() int        { return intOr(s.MaxConns, DefaultMaxConns) }
func (s *Server) maxConnsPerAddr() int { return intOr(s.MaxConnsPerAddr, DefaultMaxConnsPerAddr) }
func (s *Server) maxSessionsPerConn() int {
	return intOr(s.MaxSessionsPerConn, DefaultMaxSessionsPerConn)
}
func (s *Server) maxOpensPerConn() int { return intOr(s.MaxOpensPerConn, DefaultMaxOpensPerConn) }
func (s *Server) maxMessageSize() int  { return intOr(s.MaxMessageSize, DefaultMaxMessageSize) }
func (s *Server) maxPipeBuffer() int   { return intOr(s.MaxPipeBuffer, DefaultMaxPipeBuffer) }

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
		return c.start.Add(durOr(c.srv.NegotiateTimeout, DefaultNegotiateTimeout))
	case !est:
		return c.setupSince.Add(durOr(c.srv.SetupTimeout, DefaultSetupTimeout))
	case c.srv.IdleTimeout < 0:
		return time.Time{}
	}
	return now.Add(durOr(c.srv.IdleTimeout, DefaultIdleTimeout))
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
