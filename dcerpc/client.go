package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultMaxResponseSize caps a reassembled response stub unless
// ClientConfig.MaxResponseSize says otherwise.
const DefaultMaxResponseSize = 16 << 20

// Client makes calls over one association on any byte stream (a TCP
// connection, an SMB named pipe). Calls are serialised: one call is on the
// wire at a time.
//
// Cancellation: if the stream has SetDeadline (net.Conn does), the context's
// deadline is applied to every exchange and cancellation interrupts a
// blocked Read or Write. Otherwise, if the stream is an io.Closer,
// cancellation closes it. Otherwise nothing can interrupt a blocked Read:
// the call ends when the stream delivers or fails. A call interrupted
// mid-exchange leaves the stream at an unknown position: the Client then
// refuses further calls with ErrClientBroken. A fault, a bind_nak or a
// rejected context does not break the Client.
type Client struct {
	rw  io.ReadWriter
	cfg ClientConfig // with the defaults filled in

	mu        sync.Mutex
	broken    error
	callID    uint32
	bound     bool
	nextCtx   uint16
	neg       Negotiated
	maxXmit   int
	recvLimit int // largest fragment accepted: ours, or the server's if larger
	authDone  bool
	// hdrSign: the server granted header signing in its bind_ack.
	hdrSign bool
	rbuf    []byte
	wbuf    []byte
}

// Negotiated is what the bind settled.
type Negotiated struct {
	MaxXmitFrag   uint16 // largest fragment the client sends: min(ours, the server's max_recv_frag)
	MaxRecvFrag   uint16 // largest fragment the server sends (its max_xmit_frag)
	AssocGroupID  uint32
	SecondaryAddr string
	// Features are the bind-time features the server acknowledged.
	Features Features
}

// ClientConfig configures a Client. The zero value binds without
// authentication, proposing the largest fragments, and accepts responses
// up to DefaultMaxResponseSize.
type ClientConfig struct {
	// MaxXmitFrag and MaxRecvFrag are the max_xmit_frag and max_recv_frag
	// the client proposes (0: MaxFragSize; never below MinFragSize):
	// servers answer with the smaller of the two capped by their own
	// limits (Windows 5840 over TCP, 4280 over named pipes), and one that
	// allows more sends a large answer in fewer fragments, hence fewer
	// round trips over a pipe.
	MaxXmitFrag, MaxRecvFrag uint16
	// MaxResponseSize caps reassembled responses (0:
	// DefaultMaxResponseSize).
	MaxResponseSize int
	// Auth, when not nil, authenticates the association, with
	// AuthContextID as its auth_context_id.
	Auth          AuthInitiator
	AuthContextID uint32
	// AssocGroupID, when not zero, asks to join that existing association
	// group.
	AssocGroupID uint32
	// Features, when not zero, adds a bind-time feature negotiation
	// context offering them to the bind (MS-RPCE 3.3.1.5.3).
	Features Features
}

// withDefaults returns cfg with every zero field set to its default: the
// one place the defaults are applied.
func (cfg ClientConfig) withDefaults() ClientConfig {
	fragSize(&cfg.MaxXmitFrag, MaxFragSize)
	fragSize(&cfg.MaxRecvFrag, MaxFragSize)
	or(&cfg.MaxResponseSize, DefaultMaxResponseSize)
	return cfg
}

// NewClient returns a Client on rw, configured by cfg (its zero value will
// do). Nothing is sent until Bind.
func NewClient(rw io.ReadWriter, cfg ClientConfig) *Client {
	c := &Client{rw: rw, cfg: cfg.withDefaults()}
	c.maxXmit = int(c.cfg.MaxXmitFrag)
	c.recvLimit = int(c.cfg.MaxRecvFrag)
	return c
}

// Close closes the stream if it is an io.Closer.
func (c *Client) Close() error {
	if cl, ok := c.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Negotiated reports the bind's outcome.
func (c *Client) Negotiated() Negotiated {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg
}

type deadliner interface{ SetDeadline(time.Time) error }

// guard applies ctx to the stream for one exchange. The returned function
// undoes it and converts an I/O error caused by ctx into ctx's error.
func (c *Client) guard(ctx context.Context) func(error) error {
	if err := ctx.Err(); err != nil {
		return func(error) error { return err }
	}
	var stop func() bool
	switch s := c.rw.(type) {
	case deadliner:
		dl, _ := ctx.Deadline()
		s.SetDeadline(dl)
		fired := make(chan struct{})
		inner := context.AfterFunc(ctx, func() {
			s.SetDeadline(time.Unix(1, 0))
			close(fired)
		})
		stop = func() bool {
			if !inner() {
				<-fired // let the interruption finish before clearing it
			}
			s.SetDeadline(time.Time{})
			return true
		}
	case io.Closer:
		stop = context.AfterFunc(ctx, func() { s.Close() })
	default:
		stop = func() bool { return true }
	}
	_, setsDeadline := c.rw.(deadliner)
	return func(err error) error {
		stop()
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("dcerpc: interrupted: %w (%v)", cerr, err)
		}
		// The stream's deadline came from ctx, and may fire a moment
		// before ctx's own timer.
		if setsDeadline && errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("dcerpc: interrupted: %w (%v)", context.DeadlineExceeded, err)
		}
		return err
	}
}

// fail marks the client broken after a transport or protocol error.
func (c *Client) fail(err error) error {
	var fe *Fault
	if err != nil && !errors.As(err, &fe) {
		var cr *ContextRejectedError
		var bn *BindNakError
		if !errors.As(err, &cr) && !errors.As(err, &bn) {
			c.broken = err
		}
	}
	return err
}

func (c *Client) nextCallID() uint32 {
	c.callID++
	return c.callID
}

// Bind establishes the association with one presentation context for
// syntax (NDR20), which Call uses by default, and runs the authentication
// exchange if ClientConfig.Auth is set. A bind_nak is a *BindNakError, a rejected
// context a *ContextRejectedError.
func (c *Client) Bind(ctx context.Context, syntax SyntaxID) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return fmt.Errorf("%w: %w", ErrClientBroken, c.broken)
	}
	if c.bound {
		return fmt.Errorf("%w: already bound", ErrProtocol)
	}
	done := c.guard(ctx)
	defer func() { err = c.fail(done(err)) }()

	b := &Bind{
		Header:       Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: c.nextCallID()},
		MaxXmitFrag:  c.cfg.MaxXmitFrag,
		MaxRecvFrag:  c.cfg.MaxRecvFrag,
		AssocGroupID: c.cfg.AssocGroupID,
		Contexts:     []ContextElem{{ContextID: 0, AbstractSyntax: syntax, TransferSyntaxes: []SyntaxID{NDR20}}},
	}
	c.nextCtx = 1
	if c.cfg.Features != 0 {
		b.Contexts = append(b.Contexts, ContextElem{ContextID: 1, AbstractSyntax: syntax,
			TransferSyntaxes: []SyntaxID{BindTimeFeatureSyntax(c.cfg.Features)}})
		c.nextCtx = 2
	}
	var authDone bool
	if a := c.cfg.Auth; a != nil {
		tok, d, err := a.Step(ctx, nil)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
		authDone = d
		b.Auth = &AuthVerifier{Type: a.AuthType(), Level: a.AuthLevel(), ContextID: c.cfg.AuthContextID, Value: tok}
		b.Flags |= FlagSupportHdrSign
	}
	ack, err := c.exchangeBind(b)
	if err != nil {
		return err
	}
	c.hdrSign = b.Auth != nil && ack.Flags&FlagSupportHdrSign != 0
	c.neg = Negotiated{MaxXmitFrag: ack.MaxRecvFrag, MaxRecvFrag: ack.MaxXmitFrag,
		AssocGroupID: ack.AssocGroupID, SecondaryAddr: ack.SecondaryAddr}
	c.maxXmit = max(min(int(ack.MaxRecvFrag), int(c.cfg.MaxXmitFrag)), MinFragSize)
	c.neg.MaxXmitFrag = uint16(c.maxXmit)
	// Samba and Windows raise small sizes to 2048: take what the server
	// announces it sends rather than fail on it.
	c.recvLimit = max(int(c.cfg.MaxRecvFrag), int(ack.MaxXmitFrag))
	if len(ack.Results) != len(b.Contexts) {
		return fmt.Errorf("%w: %d results for %d contexts", ErrProtocol, len(ack.Results), len(b.Contexts))
	}
	if c.cfg.Features != 0 && ack.Results[1].Result == ResultNegotiateAck {
		c.neg.Features = Features(ack.Results[1].Reason)
	}
	if r := ack.Results[0]; r.Result != ResultAcceptance {
		return &ContextRejectedError{Syntax: syntax, Result: r.Result, Reason: r.Reason}
	}
	if r := ack.Results[0]; r.TransferSyntax != NDR20 {
		return fmt.Errorf("%w: server chose transfer syntax %s", ErrProtocol, r.TransferSyntax)
	}
	c.bound = true
	if c.cfg.Auth != nil {
		var tok []byte
		if ack.Auth != nil {
			tok = bytes.Clone(ack.Auth.Value) // aliases the read buffer
		}
		if err := c.authenticate(ctx, syntax, tok, authDone); err != nil {
			c.bound = false
			return err
		}
	}
	return nil
}

// authenticate runs the legs after bind_ack: auth3 for a mechanism that is
// done after its next token, alter_context legs otherwise.
func (c *Client) authenticate(ctx context.Context, syntax SyntaxID, tok []byte, done bool) error {
	a := c.cfg.Auth
	for !done {
		out, d, err := a.Step(ctx, tok)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
		done = d
		av := &AuthVerifier{Type: a.AuthType(), Level: a.AuthLevel(), ContextID: c.cfg.AuthContextID, Value: out}
		if done {
			if len(out) > 0 {
				p := &Auth3{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: c.nextCallID()}, Auth: av}
				if err := c.send(p); err != nil {
					return err
				}
			}
			break
		}
		alt := &Bind{
			Header:       Header{Type: PTypeAlterContext, Flags: FlagFirstFrag | FlagLastFrag, CallID: c.nextCallID()},
			MaxXmitFrag:  c.cfg.MaxXmitFrag,
			MaxRecvFrag:  c.cfg.MaxRecvFrag,
			AssocGroupID: c.neg.AssocGroupID,
			Contexts:     []ContextElem{{ContextID: 0, AbstractSyntax: syntax, TransferSyntaxes: []SyntaxID{NDR20}}},
			Auth:         av,
		}
		resp, err := c.exchangeBind(alt)
		if err != nil {
			return err
		}
		tok = nil
		if resp.Auth != nil {
			tok = bytes.Clone(resp.Auth.Value)
		}
	}
	c.authDone = true
	return nil
}

// AlterContext adds a presentation context for syntax on the association
// and returns its context ID, for use as CallOptions.ContextID.
func (c *Client) AlterContext(ctx context.Context, syntax SyntaxID) (id uint16, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return 0, fmt.Errorf("%w: %w", ErrClientBroken, c.broken)
	}
	if !c.bound {
		return 0, ErrNotBound
	}
	done := c.guard(ctx)
	defer func() { err = c.fail(done(err)) }()
	id = c.nextCtx
	c.nextCtx++
	alt := &Bind{
		Header:       Header{Type: PTypeAlterContext, Flags: FlagFirstFrag | FlagLastFrag, CallID: c.nextCallID()},
		MaxXmitFrag:  c.cfg.MaxXmitFrag,
		MaxRecvFrag:  c.cfg.MaxRecvFrag,
		AssocGroupID: c.neg.AssocGroupID,
		Contexts:     []ContextElem{{ContextID: id, AbstractSyntax: syntax, TransferSyntaxes: []SyntaxID{NDR20}}},
	}
	resp, err := c.exchangeBind(alt)
	if err != nil {
		return 0, err
	}
	if len(resp.Results) != 1 {
		return 0, fmt.Errorf("%w: %d results for 1 context", ErrProtocol, len(resp.Results))
	}
	if r := resp.Results[0]; r.Result != ResultAcceptance {
		return 0, &ContextRejectedError{Syntax: syntax, Result: r.Result, Reason: r.Reason}
	}
	return id, nil
}

// exchangeBind sends a bind or alter_context and reads its answer.
func (c *Client) exchangeBind(b *Bind) (*BindAck, error) {
	if err := c.send(b); err != nil {
		return nil, err
	}
	want := PTypeBindAck
	if b.Type == PTypeAlterContext {
		want = PTypeAlterContextResp
	}
	p, err := c.recv()
	if err != nil {
		return nil, err
	}
	if p.Hdr().CallID != b.CallID {
		return nil, fmt.Errorf("%w: answer for call_id %d, expected %d", ErrProtocol, p.Hdr().CallID, b.CallID)
	}
	switch q := p.(type) {
	case *BindAck:
		if q.Type != want {
			return nil, fmt.Errorf("%w: %s in answer to %s", ErrProtocol, q.Type, b.Type)
		}
		return q, nil
	case *BindNak:
		return nil, &BindNakError{Reason: q.Reason}
	case *FaultPDU:
		return nil, &Fault{Status: q.Status, DidNotExecute: q.Flags&FlagDidNotExecute != 0, CallID: q.CallID}
	}
	return nil, fmt.Errorf("%w: %s in answer to %s", ErrProtocol, p.Hdr().Type, b.Type)
}

// CallOptions are the optional parts of one call. The zero value sends
// it on the presentation context Bind established, with no object UUID.
type CallOptions struct {
	// ContextID is the presentation context the call is sent on: one
	// AlterContext returned, or 0, the one Bind established.
	ContextID uint16
	// Object, when not the nil UUID, is sent as the call's object UUID
	// (PFC_OBJECT_UUID).
	Object UUID
}

// Call sends a request with stub for opnum on the context Bind
// established, fragmenting it to the negotiated size, and returns the
// reassembled response stub. A fault answer is a *Fault; transport
// failures wrap the I/O error.
func (c *Client) Call(ctx context.Context, opnum uint16, stub []byte) ([]byte, error) {
	return c.CallWith(ctx, opnum, stub, CallOptions{})
}

// CallWith is Call with options: another presentation context, an object
// UUID.
func (c *Client) CallWith(ctx context.Context, opnum uint16, stub []byte, opts CallOptions) (out []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil, fmt.Errorf("%w: %w", ErrClientBroken, c.broken)
	}
	if !c.bound {
		return nil, ErrNotBound
	}
	done := c.guard(ctx)
	defer func() { err = c.fail(done(err)) }()

	callID := c.nextCallID()
	if err := c.sendRequest(callID, opnum, stub, &opts); err != nil {
		return nil, err
	}
	return c.readResponse(callID)
}

func (c *Client) protection() (AuthInitiator, bool) {
	a := c.cfg.Auth
	return a, a != nil && c.authDone && a.AuthLevel() >= AuthLevelIntegrity
}

func (c *Client) sendRequest(callID uint32, opnum uint16, stub []byte, cc *CallOptions) error {
	hasObject := cc.Object != UUID{}
	a, protected := c.protection()
	maxStub := c.maxXmit - HeaderLen - 8
	if hasObject {
		maxStub -= 16
	}
	var sigLen int
	if protected {
		sigLen = sigSize(a, a.AuthLevel())
		maxStub = (maxStub - authTrailerLen - sigLen) &^ (authPadAlign - 1)
	}
	if maxStub <= 0 {
		return fmt.Errorf("dcerpc: no room for stub in a %d-octet fragment", c.maxXmit)
	}
	off := 0
	for {
		n := min(maxStub, len(stub)-off)
		r := &Request{Header: Header{CallID: callID}, AllocHint: uint32(len(stub) - off),
			ContextID: cc.ContextID, Opnum: opnum, Object: cc.Object, Stub: stub[off : off+n]}
		if hasObject {
			r.Flags |= FlagObjectUUID
		}
		if off == 0 {
			r.Flags |= FlagFirstFrag
		}
		if off+n == len(stub) {
			r.Flags |= FlagLastFrag
		}
		if protected {
			r.Auth = &AuthVerifier{Type: a.AuthType(), Level: a.AuthLevel(), ContextID: c.cfg.AuthContextID, Value: zeroSig(sigLen)}
		}
		b, err := c.marshal(r)
		if err != nil {
			return err
		}
		if protected {
			if err := protect(a, a.AuthLevel(), c.hdrSign, b, r); err != nil {
				return err
			}
		}
		if err := c.write(b); err != nil {
			return err
		}
		off += n
		if off == len(stub) {
			return nil
		}
	}
}

func (c *Client) readResponse(callID uint32) ([]byte, error) {
	var out []byte
	first := true
	for {
		raw, p, err := c.recvRaw()
		if err != nil {
			return nil, err
		}
		h := p.Hdr()
		if h.CallID != callID {
			return nil, fmt.Errorf("%w: answer for call_id %d, expected %d", ErrProtocol, h.CallID, callID)
		}
		switch q := p.(type) {
		case *FaultPDU:
			return nil, &Fault{Status: q.Status, DidNotExecute: q.Flags&FlagDidNotExecute != 0, CallID: q.CallID}
		case *Response:
			if first != (q.Flags&FlagFirstFrag != 0) {
				return nil, fmt.Errorf("%w: response fragment flags 0x%02x out of order", ErrProtocol, uint8(q.Flags))
			}
			if err := c.checkResponseAuth(raw, q); err != nil {
				return nil, err
			}
			if len(out)+len(q.Stub) > c.cfg.MaxResponseSize {
				return nil, fmt.Errorf("%w: response over %d octets", ErrTooLarge, c.cfg.MaxResponseSize)
			}
			if first && q.Flags&FlagLastFrag != 0 {
				return append([]byte(nil), q.Stub...), nil
			}
			if first {
				// alloc_hint is the whole stub: trust it up to the cap.
				out = make([]byte, 0, min(int(q.AllocHint), c.cfg.MaxResponseSize))
			}
			first = false
			out = append(out, q.Stub...)
			if q.Flags&FlagLastFrag != 0 {
				return out, nil
			}
		default:
			return nil, fmt.Errorf("%w: %s in answer to a request", ErrProtocol, h.Type)
		}
	}
}

func (c *Client) checkResponseAuth(raw []byte, r *Response) error {
	a, protected := c.protection()
	if !protected {
		return nil
	}
	v := r.Auth
	if v == nil || v.Type != a.AuthType() || v.Level != a.AuthLevel() || v.ContextID != c.cfg.AuthContextID {
		return fmt.Errorf("%w: response without the association's verifier", ErrAuth)
	}
	return unprotect(a, a.AuthLevel(), c.hdrSign, raw, r)
}

func (c *Client) marshal(p PDU) ([]byte, error) {
	n := p.Size()
	if cap(c.wbuf) < n {
		c.wbuf = make([]byte, n)
	}
	b := c.wbuf[:n]
	if _, err := p.MarshalTo(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *Client) send(p PDU) error {
	b, err := c.marshal(p)
	if err != nil {
		return err
	}
	return c.write(b)
}

func (c *Client) write(b []byte) error {
	if _, err := c.rw.Write(b); err != nil {
		return fmt.Errorf("dcerpc: write: %w", err)
	}
	return nil
}

func (c *Client) recv() (PDU, error) {
	_, p, err := c.recvRaw()
	return p, err
}

// recvRaw reads one PDU; the result aliases the client's read buffer until
// the next read. Shutdown PDUs are skipped.
func (c *Client) recvRaw() ([]byte, PDU, error) {
	for {
		raw, _, err := readFrame(c.rw, c.rbuf, c.recvLimit, nil)
		c.rbuf = raw[:0]
		if err != nil {
			if errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("dcerpc: read: %w", err)
		}
		p, err := DecodePDU(raw)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := p.(*Shutdown); ok {
			continue
		}
		return raw, p, nil
	}
}
