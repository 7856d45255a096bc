package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/session"
)

// serverConn is the state of one association (one transport connection).
type serverConn struct {
	srv    *Server
	nc     net.Conn       // a stream connection; nil for a message association
	out    io.WriteCloser // where answers go (nc, or the association's queue)
	ctx    context.Context
	cancel context.CancelFunc
	cfg    ConnConfig
	log    *slog.Logger
	start  time.Time
	active atomic.Bool // between a PDU header and the end of its answer

	bound      bool
	assocGroup uint32
	maxRecv    int // largest fragment we accept
	maxXmit    int // largest fragment we send
	contexts   map[uint16]*presContext
	features   Features

	sec *secState
	cur *pendingCall

	rbuf []byte
	wbuf []byte
}

type presContext struct {
	iface  *Interface
	syntax SyntaxID
}

// secState is the one security context of an association (security
// context multiplexing is not offered).
type secState struct {
	sc        ServerSecurityContext
	typ       AuthType
	level     AuthLevel
	contextID uint32
	// hdrSign: the bind that started the context asked for header
	// signing (PFC_SUPPORT_HEADER_SIGN), and the answer granted it.
	hdrSign bool
	done    bool
	failed  bool
	caller  session.Caller
	// answerAt is when the answer to the failed logon may go out (the
	// mechanism's throttle holds it back); zero: at once.
	answerAt time.Time
}

// pendingCall is a request being reassembled.
type pendingCall struct {
	callID    uint32
	contextID uint16
	opnum     uint16
	object    UUID
	hasObject bool
	stub      []byte
	fault     uint32 // non-zero: answer this fault once the last fragment is in
	// reserved is the part of the server's request budget this call
	// holds: cap(stub) once the stub is a copy of its own.
	reserved int64
	// deadline is when the last fragment must have arrived.
	deadline time.Time
}

func (c *serverConn) serve() (err error) {
	// Cancelling the connection's context (the caller's ctx, Close) must
	// also end a blocked read.
	stop := context.AfterFunc(c.ctx, func() { c.out.Close() })
	c.log.Debug("dcerpc: connection opened")
	defer func() {
		stop()
		c.cancel()
		c.out.Close()
		c.srv.removeConn(c)
		c.log.Debug("dcerpc: connection closed", "err", err)
	}()
	for {
		if c.srv.closing.Load() && c.cur == nil {
			return nil
		}
		c.setReadDeadline(c.idleDeadline())
		raw, h, rerr := readFrame(c.nc, c.rbuf, c.maxRecv, func(Header) {
			c.active.Store(true)
			c.setReadDeadline(c.bodyDeadline())
		})
		c.rbuf = raw[:0]
		if rerr != nil {
			err := c.readFailed(raw, h, rerr)
			c.active.Store(false)
			return err
		}
		c.active.Store(true)
		herr := c.handle(raw, h)
		// A connection between the fragments of a request is not idle.
		c.active.Store(c.cur != nil)
		if herr != nil {
			return herr
		}
	}
}

// readFailed decides the answer to a PDU that could not be read.
func (c *serverConn) readFailed(raw []byte, h Header, err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		// Orderly close by the peer between PDUs, or by Shutdown/Close.
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if c.cur != nil && !c.cur.deadline.IsZero() && !time.Now().Before(c.cur.deadline) {
			c.log.Info("dcerpc: request not complete within the reassembly timeout", "call_id", c.cur.callID,
				"buffered", len(c.cur.stub))
			return fmt.Errorf("%w: request not complete within the reassembly timeout", err)
		}
		c.log.Debug("dcerpc: connection timed out", "active", c.active.Load())
		return err
	case errors.Is(err, ErrTooLarge):
		c.log.Debug("dcerpc: fragment too large", "err", err)
		c.writeFault(h.CallID, 0, StatusProtoError, true)
		return err
	}
	var ve *VersionError
	if errors.As(err, &ve) {
		if callID, ok := peekBindVersion(raw); ok {
			c.writePDU(&BindNak{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: callID},
				Reason: NakReasonProtocolVersionNotSupport, Versions: []Version{{5, 0}}})
		}
	}
	c.log.Debug("dcerpc: unreadable PDU", "err", err)
	return err
}

func (c *serverConn) handle(raw []byte, h Header) error {
	pdu, err := DecodePDU(raw)
	if err != nil {
		c.log.Debug("dcerpc: undecodable PDU", "type", h.Type, "err", err)
		switch h.Type {
		case PTypeBind:
			c.writePDU(&BindNak{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: h.CallID},
				Reason: NakReasonNotSpecified, Versions: []Version{{5, 0}}})
		default:
			c.writeFault(h.CallID, 0, StatusProtoError, true)
		}
		return err
	}
	switch p := pdu.(type) {
	case *Bind:
		if p.Type == PTypeAlterContext {
			if !c.bound {
				return c.protoError(h, "alter_context before bind")
			}
			return c.bind(p, true)
		}
		if c.bound {
			c.writePDU(&BindNak{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: h.CallID},
				Reason: NakReasonNotSpecified, Versions: []Version{{5, 0}}})
			return fmt.Errorf("%w: second bind on an association", ErrProtocol)
		}
		return c.bind(p, false)
	case *Request:
		if !c.bound {
			return c.protoError(h, "request before bind")
		}
		return c.request(raw, p)
	case *Auth3:
		return c.auth3(p)
	case *Orphaned:
		if c.cur != nil && c.cur.callID == h.CallID {
			c.dropCall()
		}
		return nil
	case *CoCancel:
		// Calls run to completion; a cancel has nothing to interrupt.
		return nil
	}
	return c.protoError(h, fmt.Sprintf("unexpected %s", h.Type))
}

func (c *serverConn) protoError(h Header, why string) error {
	c.log.Debug("dcerpc: protocol error", "why", why, "call_id", h.CallID)
	c.writeFault(h.CallID, 0, StatusProtoError, true)
	return fmt.Errorf("%w: %s", ErrProtocol, why)
}

// bind answers a bind or an alter_context. Structural problems Samba
// refuses outright (no context, a context without transfer syntaxes, two
// feature negotiation contexts, a context id rebound to another interface)
// get a bind_nak, or for an alter_context a fault and a close.
func (c *serverConn) bind(p *Bind, alter bool) error {
	refuse := func(r BindNakReason, why string) error {
		if alter {
			return c.protoError(p.Header, "alter_context: "+why)
		}
		c.writePDU(&BindNak{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: p.CallID},
			Reason: r, Versions: []Version{{5, 0}}})
		return fmt.Errorf("%w: bind refused (%s): %s", ErrProtocol, r, why)
	}
	if len(p.Contexts) == 0 {
		return refuse(NakReasonProtocolVersionNotSupport, "no presentation context")
	}
	features := 0
	for _, ce := range p.Contexts {
		if len(ce.TransferSyntaxes) == 0 {
			return refuse(NakReasonNotSpecified, "a context without transfer syntaxes")
		}
		if _, ok := isBindTimeFeature(ce.TransferSyntaxes[0]); ok && !alter {
			features++
		}
	}
	if features > 1 {
		return refuse(NakReasonNotSpecified, "several feature negotiation contexts")
	}
	results := make([]ContextResultElem, len(p.Contexts))
	limit := c.srv.lim.MaxContexts
	for i, ce := range p.Contexts {
		r, err := c.negotiate(ce, alter, limit)
		if err != nil {
			return refuse(NakReasonNotSpecified, err.Error())
		}
		results[i] = r
	}

	ack := &BindAck{
		Header:  Header{Type: PTypeBindAck, Flags: FlagFirstFrag | FlagLastFrag, CallID: p.CallID},
		Results: results,
	}
	if alter {
		ack.Type = PTypeAlterContextResp
	} else {
		// One size both ways, as Samba and Windows answer: the smaller of
		// the client's two, never below the C706 minimum, capped by ours,
		// truncated to a multiple of 8.
		v := max(min(int(p.MaxXmitFrag), int(p.MaxRecvFrag)), MinFragSize)
		c.maxXmit = min(v, c.maxXmit) &^ 7
		c.maxRecv = min(v, c.maxRecv) &^ 7
		c.assocGroup = p.AssocGroupID
		if c.assocGroup == 0 {
			c.assocGroup = c.srv.assoc.Add(1)
		}
		ack.SecondaryAddr = c.cfg.SecondaryAddr
	}
	ack.MaxXmitFrag = uint16(c.maxXmit)
	ack.MaxRecvFrag = uint16(c.maxRecv)
	ack.AssocGroupID = c.assocGroup

	if p.Auth != nil {
		out, err := c.authLeg(p)
		if err != nil {
			c.log.Debug("dcerpc: security context refused", "err", err)
			c.holdAnswer()
			if !alter {
				var nr nakReason
				if errors.As(err, &nr) {
					return refuse(BindNakReason(nr), err.Error())
				}
				return refuse(NakReasonNotSpecified, err.Error())
			}
			c.writeFault(p.CallID, 0, StatusSecPkgError, true)
			return err
		}
		if len(out) > 0 {
			ack.Auth = &AuthVerifier{Type: c.sec.typ, Level: c.sec.level, ContextID: c.sec.contextID, Value: out}
		}
		if p.Flags&FlagSupportHdrSign != 0 {
			ack.Flags |= FlagSupportHdrSign
			if !alter {
				c.sec.hdrSign = true
			}
		}
	}
	c.bound = true
	return c.writePDU(ack)
}

// negotiate decides one presentation context, as Samba answers. It fails
// when the context id is already bound to another interface.
func (c *serverConn) negotiate(ce ContextElem, alter bool, limit int) (ContextResultElem, error) {
	reject := func(r ProviderReason) (ContextResultElem, error) {
		return ContextResultElem{Result: ResultProviderRejection, Reason: r}, nil
	}
	// Only the first transfer syntax marks a feature negotiation context,
	// and only in a bind.
	if offered, ok := isBindTimeFeature(ce.TransferSyntaxes[0]); ok && !alter {
		c.features = offered & FeatureKeepConnectionOnOrphan
		return ContextResultElem{Result: ResultNegotiateAck, Reason: ProviderReason(c.features)}, nil
	}
	iface := c.srv.lookup(ce.AbstractSyntax)
	if iface == nil {
		return reject(ReasonAbstractSyntaxNotSupported)
	}
	ndr := false
	for _, t := range ce.TransferSyntaxes {
		if t == NDR20 {
			ndr = true
			break
		}
	}
	if old, ok := c.contexts[ce.ContextID]; ok && old.syntax != ce.AbstractSyntax {
		return ContextResultElem{}, fmt.Errorf("context %d is bound to %s", ce.ContextID, old.syntax)
	}
	if !ndr {
		return reject(ReasonTransferSyntaxesNotSupported)
	}
	if _, ok := c.contexts[ce.ContextID]; !ok {
		if len(c.contexts) >= limit {
			return reject(ReasonLocalLimitExceeded)
		}
		c.contexts[ce.ContextID] = &presContext{iface: iface, syntax: ce.AbstractSyntax}
	}
	return ContextResultElem{Result: ResultAcceptance, TransferSyntax: NDR20}, nil
}

// nakReason is an auth failure that selects a bind_nak reason.
type nakReason BindNakReason

func (r nakReason) Error() string { return BindNakReason(r).String() }

// authLeg runs one token of the security context exchange carried by a
// bind or alter_context.
func (c *serverConn) authLeg(p *Bind) ([]byte, error) {
	a := p.Auth
	if c.sec == nil {
		acc := c.srv.Auth[a.Type]
		if acc == nil {
			return nil, nakReason(NakReasonAuthTypeNotRecognized)
		}
		switch a.Level {
		case AuthLevelConnect, AuthLevelIntegrity, AuthLevelPrivacy:
		default:
			return nil, fmt.Errorf("%w: auth level %s not supported", ErrAuth, a.Level)
		}
		sc, err := acc.NewSecurityContext(c.ctx, AuthBindInfo{Type: a.Type, Level: a.Level,
			ContextID: a.ContextID, RemoteAddr: c.cfg.RemoteAddr, Transport: c.cfg.Caller})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		c.sec = &secState{sc: sc, typ: a.Type, level: a.Level, contextID: a.ContextID}
	} else if c.sec.done || c.sec.failed || a.Type != c.sec.typ || a.ContextID != c.sec.contextID || a.Level != c.sec.level {
		return nil, fmt.Errorf("%w: a second security context on the association", ErrAuth)
	}
	return c.step(a.Value)
}

func (c *serverConn) step(token []byte) ([]byte, error) {
	// The token aliases the read buffer; mechanisms may keep parts of it
	// (SPNEGO keeps the mechanism list for the mechListMIC).
	out, done, err := c.sec.sc.Step(c.ctx, bytes.Clone(token))
	if err != nil {
		c.sec.failed = true
		var d interface{ AnswerDelay() time.Duration }
		if errors.As(err, &d) && d.AnswerDelay() > 0 {
			c.sec.answerAt = time.Now().Add(d.AnswerDelay())
		}
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if done {
		c.sec.done = true
		c.sec.caller = c.sec.sc.Caller()
	}
	return out, nil
}

func (c *serverConn) auth3(p *Auth3) error {
	a := p.Auth
	if c.sec == nil || c.sec.done || c.sec.failed || a.Type != c.sec.typ || a.ContextID != c.sec.contextID {
		return c.protoError(p.Header, "auth3 without a security context in progress")
	}
	if _, err := c.step(a.Value); err != nil {
		// No answer to an auth3: the next request gets the fault.
		c.log.Debug("dcerpc: auth3 refused", "err", err)
	}
	return nil
}

// holdAnswer holds back the answer that tells the client its logon
// failed (a bind_nak, or the fault on the first call after AUTH3) until
// the time the mechanism asked for (an error with an AnswerDelay method,
// such as the ntlm throttle's): the connection's own goroutine waits on a
// timer, ended early when the connection is cancelled; no goroutine is
// started for it, and the connection keeps its place (MaxConnsPerAddr).
func (c *serverConn) holdAnswer() {
	if c.sec == nil || c.sec.answerAt.IsZero() {
		return
	}
	d := time.Until(c.sec.answerAt)
	c.sec.answerAt = time.Time{}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	}
}

// checkAuth verifies or unseals one request fragment in place.
func (c *serverConn) checkAuth(raw []byte, p *Request) (uint32, error) {
	if c.sec == nil {
		if p.Auth != nil {
			return StatusProtoError, fmt.Errorf("%w: verifier on an unauthenticated association", ErrProtocol)
		}
		return 0, nil
	}
	if c.sec.failed {
		return StatusAccessDenied, fmt.Errorf("%w: the security context was refused", ErrAuth)
	}
	if !c.sec.done {
		return StatusProtoError, fmt.Errorf("%w: request before the security context completed", ErrProtocol)
	}
	if c.sec.level < AuthLevelIntegrity {
		return 0, nil
	}
	a := p.Auth
	if a == nil || a.Type != c.sec.typ || a.Level != c.sec.level || a.ContextID != c.sec.contextID {
		return StatusSecPkgError, fmt.Errorf("%w: request without the association's verifier", ErrAuth)
	}
	if err := unprotect(c.sec.sc, c.sec.level, c.sec.hdrSign, raw, p); err != nil {
		return StatusSecPkgError, err
	}
	return 0, nil
}

func (c *serverConn) request(raw []byte, p *Request) error {
	if status, err := c.checkAuth(raw, p); err != nil {
		c.log.Debug("dcerpc: request refused", "err", err)
		c.holdAnswer()
		c.writeFault(p.CallID, p.ContextID, status, true)
		return err
	}
	limit := c.maxReassembled()
	if p.Flags&FlagFirstFrag != 0 {
		if c.cur != nil {
			return c.protoError(p.Header, "new call while another is being reassembled")
		}
		pc := &pendingCall{callID: p.CallID, contextID: p.ContextID, opnum: p.Opnum,
			object: p.Object, hasObject: p.Flags&FlagObjectUUID != 0}
		if _, ok := c.contexts[p.ContextID]; !ok {
			pc.fault = StatusUnknownInterface
		} else if p.Flags&FlagLastFrag == 0 {
			if int64(p.AllocHint) > int64(limit) {
				c.log.Debug("dcerpc: request announced over the reassembly limit", "call_id", p.CallID, "alloc_hint", p.AllocHint)
				c.writeFault(p.CallID, p.ContextID, StatusAccessDenied, true)
				return fmt.Errorf("%w: request of %d octets announced", ErrTooLarge, p.AllocHint)
			}
		}
		if p.Flags&FlagLastFrag == 0 {
			if d := c.srv.tmo.Reassembly; d > 0 {
				pc.deadline = time.Now().Add(d)
			}
		}
		c.cur = pc
	} else if c.cur == nil || c.cur.callID != p.CallID || c.cur.contextID != p.ContextID || c.cur.opnum != p.Opnum {
		return c.protoError(p.Header, "fragment of no call in progress")
	} else if !c.cur.deadline.IsZero() && !time.Now().Before(c.cur.deadline) {
		// A message association has no read deadline: its late fragment
		// ends it here.
		c.log.Info("dcerpc: request not complete within the reassembly timeout", "call_id", p.CallID,
			"buffered", len(c.cur.stub))
		c.dropCall()
		c.writeFault(p.CallID, p.ContextID, StatusProtoError, true)
		return fmt.Errorf("%w: request not complete within the reassembly timeout", ErrProtocol)
	}
	pc := c.cur
	if pc.fault == 0 {
		if len(pc.stub)+len(p.Stub) > limit {
			c.dropCall()
			c.log.Debug("dcerpc: request over the reassembly limit", "call_id", p.CallID, "limit", limit)
			c.writeFault(p.CallID, p.ContextID, StatusAccessDenied, true)
			return fmt.Errorf("%w: request over %d octets", ErrTooLarge, limit)
		}
		switch {
		case p.Flags&FlagFirstFrag != 0 && p.Flags&FlagLastFrag != 0:
			pc.stub = p.Stub // single fragment: no copy, valid until the next read
		case len(pc.stub)+len(p.Stub) > cap(pc.stub):
			// alloc_hint is trusted only up to 64 KiB at first; once the
			// client has sent that much, the buffer is sized by the
			// remaining length it announces (within the cap).
			want := len(pc.stub) + len(p.Stub)
			if len(pc.stub) == 0 {
				want = max(want, min(int(p.AllocHint), limit, 64<<10))
			} else {
				want = max(want, min(len(pc.stub)+int(p.AllocHint), limit))
			}
			if err := c.reserve(pc, int64(want-cap(pc.stub))); err != nil {
				c.dropCall()
				c.writeFault(p.CallID, p.ContextID, StatusRemoteNoMemory, true)
				return err
			}
			grown := make([]byte, len(pc.stub), want)
			copy(grown, pc.stub)
			pc.stub = append(grown, p.Stub...)
		default:
			pc.stub = append(pc.stub, p.Stub...)
		}
	}
	if p.Flags&FlagLastFrag == 0 {
		return nil
	}
	c.cur = nil
	defer c.unreserve(pc)
	if pc.fault != 0 {
		return c.writeFault(pc.callID, pc.contextID, pc.fault, true)
	}
	return c.dispatch(pc)
}

// reserve takes n more octets of the server's request budget for pc, or
// fails when the budget is spent.
func (c *serverConn) reserve(pc *pendingCall, n int64) error {
	budget := c.srv.lim.MaxBufferedRequests
	if now := c.srv.buffered.Add(n); budget > 0 && now > budget {
		c.srv.buffered.Add(-n)
		c.log.Warn("dcerpc: request refused: the server's reassembly budget is spent",
			"call_id", pc.callID, "budget", budget)
		return fmt.Errorf("%w: reassembly budget of %d octets spent", ErrTooLarge, budget)
	}
	pc.reserved += n
	return nil
}

// unreserve gives pc's part of the budget back.
func (c *serverConn) unreserve(pc *pendingCall) {
	c.srv.buffered.Add(-pc.reserved)
	pc.reserved = 0
}

// dropCall forgets the request being reassembled.
func (c *serverConn) dropCall() {
	if c.cur != nil {
		c.unreserve(c.cur)
		c.cur = nil
	}
}

// maxReassembled is the largest request stub the association may send:
// smaller until its caller has authenticated as someone.
func (c *serverConn) maxReassembled() int {
	n := c.srv.lim.MaxReassembledSize
	caller := c.cfg.Caller
	if c.sec != nil {
		caller = c.sec.caller // zero until the context completes
	}
	if caller.User == "" || caller.Anonymous || caller.Guest {
		n = min(n, c.srv.lim.MaxUnauthReassembledSize)
	}
	return n
}

func (c *serverConn) dispatch(pc *pendingCall) error {
	pctx := c.contexts[pc.contextID]
	if n := pctx.iface.NumOpnums; n > 0 && int(pc.opnum) >= n {
		return c.writeFault(pc.callID, pc.contextID, StatusOpRangeError, true)
	}
	call := &Call{
		Opnum: pc.opnum, Stub: pc.stub, CallID: pc.callID, ContextID: pc.contextID,
		Object: pc.object, HasObject: pc.hasObject, Syntax: pctx.syntax,
		AssocGroupID: c.assocGroup, Caller: c.cfg.Caller, RemoteAddr: c.cfg.RemoteAddr,
		AuthLevel: AuthLevelNone,
	}
	if c.sec != nil {
		call.Caller, call.AuthType, call.AuthLevel = c.sec.caller, c.sec.typ, c.sec.level
	}
	out, err := c.invoke(pctx.iface.Handler, call)
	if err != nil {
		if f := (*Fault)(nil); errors.As(err, &f) {
			return c.writeFault(pc.callID, pc.contextID, f.Status, f.DidNotExecute)
		}
		c.log.Warn("dcerpc: handler failed", "syntax", pctx.syntax, "opnum", pc.opnum, "err", err)
		return c.writeFault(pc.callID, pc.contextID, StatusCantPerform, false)
	}
	err = c.writeResponse(pc.callID, pc.contextID, out)
	if r, ok := pctx.iface.Handler.(StubReleaser); ok {
		r.ReleaseStub(out)
	}
	return err
}

func (c *serverConn) invoke(h Handler, call *Call) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("dcerpc: handler panic", "panic", r, "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("handler panic: %v", r)
		}
	}()
	return h.ServeRPC(c.ctx, call)
}

// writeResponse fragments stub to the negotiated max_xmit_frag. alloc_hint
// is the number of stub octets from this fragment to the end.
func (c *serverConn) writeResponse(callID uint32, ctxID uint16, stub []byte) error {
	protected := c.sec != nil && c.sec.level >= AuthLevelIntegrity
	maxStub := c.maxXmit - HeaderLen - 8
	var sigLen int
	if protected {
		sigLen = sigSize(c.sec.sc, c.sec.level)
		maxStub = (maxStub - authTrailerLen - sigLen) &^ (authPadAlign - 1)
	}
	if maxStub <= 0 {
		return fmt.Errorf("dcerpc: signature of %d octets leaves no room in a %d-octet fragment", sigLen, c.maxXmit)
	}
	off := 0
	for {
		n := min(maxStub, len(stub)-off)
		r := &Response{
			Header:    Header{CallID: callID},
			AllocHint: uint32(len(stub) - off),
			ContextID: ctxID,
			Stub:      stub[off : off+n],
		}
		if off == 0 {
			r.Flags |= FlagFirstFrag
		}
		if off+n == len(stub) {
			r.Flags |= FlagLastFrag
		}
		if protected {
			r.Auth = &AuthVerifier{Type: c.sec.typ, Level: c.sec.level, ContextID: c.sec.contextID,
				Value: zeroSig(sigLen)}
		}
		if err := c.writeProtected(r); err != nil {
			return err
		}
		off += n
		if off == len(stub) {
			return nil
		}
	}
}

func zeroSig(n int) []byte { return make([]byte, n) }

func (c *serverConn) writeProtected(r *Response) error {
	size := r.Size()
	if cap(c.wbuf) < size {
		c.wbuf = make([]byte, size, max(size, c.maxXmit))
	}
	b := c.wbuf[:size]
	if _, err := r.MarshalTo(b); err != nil {
		return err
	}
	if r.Auth != nil {
		if err := protect(c.sec.sc, c.sec.level, c.sec.hdrSign, b, r); err != nil {
			return err
		}
	}
	return c.write(b)
}

func (c *serverConn) writeFault(callID uint32, ctxID uint16, status uint32, didNotExecute bool) error {
	// alloc_hint 24 as Samba sends it.
	f := &FaultPDU{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: callID}, AllocHint: 24, ContextID: ctxID, Status: status}
	if didNotExecute {
		f.Flags |= FlagDidNotExecute
	}
	return c.writePDU(f)
}

func (c *serverConn) writePDU(p PDU) error {
	size := p.Size()
	if cap(c.wbuf) < size {
		c.wbuf = make([]byte, size, max(size, c.maxXmit))
	}
	b := c.wbuf[:size]
	if _, err := p.MarshalTo(b); err != nil {
		return err
	}
	return c.write(b)
}

func (c *serverConn) write(b []byte) error {
	if d := c.srv.tmo.Write; d > 0 && c.nc != nil {
		c.nc.SetWriteDeadline(time.Now().Add(d))
	}
	if _, err := c.out.Write(b); err != nil {
		return fmt.Errorf("dcerpc: write: %w", err)
	}
	return nil
}

func (c *serverConn) idleDeadline() time.Time {
	var t time.Time
	if d := c.srv.tmo.Idle; d > 0 {
		t = time.Now().Add(d)
	}
	t = c.reassemblyBound(t)
	if !c.bound {
		if d := c.srv.tmo.Handshake; d > 0 {
			if h := c.start.Add(d); t.IsZero() || h.Before(t) {
				t = h
			}
		}
	}
	return t
}

func (c *serverConn) bodyDeadline() time.Time {
	var t time.Time
	if d := c.srv.tmo.Read; d > 0 {
		t = time.Now().Add(d)
	}
	return c.reassemblyBound(t)
}

// reassemblyBound brings deadline t forward to the reassembly deadline of
// the request in progress, if any.
func (c *serverConn) reassemblyBound(t time.Time) time.Time {
	if c.cur == nil || c.cur.deadline.IsZero() {
		return t
	}
	if t.IsZero() || c.cur.deadline.Before(t) {
		return c.cur.deadline
	}
	return t
}

func (c *serverConn) setReadDeadline(t time.Time) { c.nc.SetReadDeadline(t) }
