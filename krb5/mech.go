package krb5

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/netsession/netsession/auth"
)

// TicketSource obtains service tickets; *Client is one.
type TicketSource interface {
	Ticket(ctx context.Context, spn string) (*Ticket, error)
}

// Mechanism is Kerberos as an auth.Initiator: each exchange obtains a
// ticket for SPN from Tickets and sends an AP-REQ asking for mutual
// authentication; the AP-REP's subkey is the session key.
type Mechanism struct {
	// Tickets gives the service tickets (a *Client).
	Tickets TicketSource
	// SPN is the service principal, e.g. DefaultSPN(host); see ForHost.
	SPN string
	// Mech is the mechanism OID to offer: auth.MechKerberos (the default)
	// or auth.MechMSKerberos.
	Mech auth.Mechanism
	// Clock gives the authenticator's time (nil: time.Now).
	Clock func() time.Time
}

// ForHost returns m for a logon to host: a copy whose SPN is
// DefaultSPN(host) when m has none, m itself otherwise. Transports that
// know the host call it (one Mechanism serves many hosts).
func (m *Mechanism) ForHost(host string) auth.Initiator {
	if m.SPN != "" {
		return m
	}
	c := *m
	c.SPN = DefaultSPN(host)
	return &c
}

// Mechanism returns the OID the initiator offers.
func (m *Mechanism) Mechanism() auth.Mechanism {
	if m.Mech == "" {
		return auth.MechKerberos
	}
	return m.Mech
}

// Anonymous returns false: Kerberos always names a client.
func (*Mechanism) Anonymous() bool { return false }

// Initiate obtains the service ticket and starts an exchange.
func (m *Mechanism) Initiate(ctx context.Context) (auth.InitiatorContext, error) {
	if m.Tickets == nil || m.SPN == "" {
		return nil, fmt.Errorf("%w: Kerberos initiator without tickets or SPN", ErrConfig)
	}
	t, err := m.Tickets.Ticket(ctx, m.SPN)
	if err != nil {
		return nil, err
	}
	return &initiatorContext{ini: NewInitiator(t, m.Clock)}, nil
}

type initiatorContext struct {
	ini *Initiator
	w   *Wrapper
}

// Step returns the AP-REQ for nil, then checks the AP-REP.
func (c *initiatorContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if !c.ini.sent {
		if in != nil {
			return nil, false, ErrState
		}
		out, err := c.ini.Init(ctx)
		return out, false, err
	}
	if err := c.ini.Accept(ctx, in); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// SessionKey is the AP-REP subkey once done.
func (c *initiatorContext) SessionKey() []byte { return c.ini.SessionKey() }

// The contexts protect SPNEGO's mechanism list with RFC 4121 MIC tokens
// (auth.MICContext), made with the context key (the acceptor's subkey)
// and the sequence numbers of the authenticator and the AP-REP.
var (
	_ auth.MICContext = (*initiatorContext)(nil)
	_ auth.MICContext = (*acceptorContext)(nil)
)

// wrapper is the context's per-message protection, made on first use
// once the context is established; nil for keys without RFC 4121 tokens.
func (c *initiatorContext) wrapper() *Wrapper {
	if c.w == nil && c.ini.done && micCapable(c.ini.sessionKey.KeyType) {
		c.w, _ = c.ini.Wrapper()
	}
	return c.w
}

// CanMIC reports whether the context is established with a key that has
// RFC 4121 tokens (AES).
func (c *initiatorContext) CanMIC() bool { return c.wrapper() != nil }

// MICRequired is false: with Kerberos first, the mechListMIC is optional
// (RFC 4178 section 5).
func (*initiatorContext) MICRequired() bool { return false }

// GetMIC returns the initiator's MIC token over msg.
func (c *initiatorContext) GetMIC(msg []byte) ([]byte, error) {
	w := c.wrapper()
	if w == nil {
		return nil, ErrState
	}
	return w.MIC(msg)
}

// VerifyMIC checks the acceptor's MIC token over msg.
func (c *initiatorContext) VerifyMIC(msg, mic []byte) error {
	w := c.wrapper()
	if w == nil {
		return ErrState
	}
	return w.VerifyMIC(msg, mic)
}

// MICDone does nothing: Kerberos has no state to reset.
func (*initiatorContext) MICDone() {}

// AuthAcceptors returns the acceptor as auth.Acceptors for SPNEGO: one
// for auth.MechMSKerberos and one for auth.MechKerberos (Windows clients
// offer the first, others the second), sharing a's keys and replay
// cache. Their logons go through a.Throttle.
func (a *Acceptor) AuthAcceptors() []auth.Acceptor { return a.AuthAcceptorsWith(a.Throttle) }

// AuthAcceptorsWith is AuthAcceptors with t as the throttle instead of
// a.Throttle: a server gives its mechanisms one throttle without
// changing the Acceptor it was handed. A nil t never throttles.
func (a *Acceptor) AuthAcceptorsWith(t auth.Throttle) []auth.Acceptor {
	return []auth.Acceptor{&mechAcceptor{a, auth.MechMSKerberos, t}, &mechAcceptor{a, auth.MechKerberos, t}}
}

type mechAcceptor struct {
	acc      *Acceptor
	mech     auth.Mechanism
	throttle auth.Throttle
}

func (m *mechAcceptor) Mechanism() auth.Mechanism { return m.mech }

func (m *mechAcceptor) Accept(ctx context.Context, peer auth.Peer) (auth.AcceptorContext, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &acceptorContext{acc: m.acc, mech: m.mech, peer: peer, throttle: m.throttle}, nil
}

type acceptorContext struct {
	acc      *Acceptor
	mech     auth.Mechanism
	peer     auth.Peer
	throttle auth.Throttle
	result   *auth.Result
	w        *Wrapper // nil for keys without RFC 4121 tokens
	tried    bool
}

// logonError is a refused AP-REQ: both an auth.ErrLogonFailure and the
// krb5 reason, with the time the throttle wants the answer held back.
type logonError struct {
	err   error
	delay time.Duration
}

func (e *logonError) Error() string   { return e.err.Error() }
func (e *logonError) Unwrap() []error { return []error{auth.ErrLogonFailure, e.err} }

// AnswerDelay is how long the transport should hold back the failing
// answer (auth.Throttle).
func (e *logonError) AnswerDelay() time.Duration { return e.delay }

func (c *acceptorContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if c.tried {
		return nil, false, ErrState
	}
	c.tried = true
	r, delay, err := c.acc.acceptThrottled(ctx, in, c.throttle, c.peer.Source)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, false, err
		}
		c.acc.logf("kerberos logon refused", "peer", c.peer.Source, "err", err)
		// The KRB-ERROR, when the refusal has a code, goes back to the
		// initiator with the refusal (SPNEGO's reject carries it).
		return c.acc.errorToken(in, err), false, &logonError{err: err, delay: delay}
	}
	c.result = &auth.Result{Mechanism: c.mech, Identity: r.id.authIdentity(), SessionKey: slices.Clone(r.key.KeyValue)}
	if micCapable(r.key.KeyType) {
		c.w, _ = r.wrapper()
	}
	return r.reply, true, nil
}

// CanMIC reports whether the context is established with a key that has
// RFC 4121 tokens (AES).
func (c *acceptorContext) CanMIC() bool { return c.w != nil }

// MICRequired is false: with Kerberos first, the mechListMIC is optional
// (RFC 4178 section 5).
func (*acceptorContext) MICRequired() bool { return false }

// GetMIC returns the acceptor's MIC token over msg.
func (c *acceptorContext) GetMIC(msg []byte) ([]byte, error) {
	if c.w == nil {
		return nil, ErrState
	}
	return c.w.MIC(msg)
}

// VerifyMIC checks the initiator's MIC token over msg.
func (c *acceptorContext) VerifyMIC(msg, mic []byte) error {
	if c.w == nil {
		return ErrState
	}
	return c.w.VerifyMIC(msg, mic)
}

// MICDone does nothing: Kerberos has no state to reset.
func (*acceptorContext) MICDone() {}

func (c *acceptorContext) Result() (auth.Result, bool) {
	if c.result == nil {
		return auth.Result{}, false
	}
	r := *c.result
	r.SessionKey = slices.Clone(r.SessionKey)
	return r, true
}

// authIdentity converts to the mechanism-neutral identity: the NetBIOS
// domain when the PAC names one (the realm otherwise), the user's SID,
// and the primary group, groups, extra and resource SIDs, each once.
func (id *Identity) authIdentity() auth.Identity {
	out := auth.Identity{User: id.User, Domain: id.Domain, UserSID: id.UserSID}
	if out.Domain == "" {
		out.Domain = id.Realm
	}
	seen := map[string]bool{}
	add := func(sids ...string) {
		for _, s := range sids {
			if s != "" && s != id.UserSID && !seen[s] {
				seen[s] = true
				out.GroupSIDs = append(out.GroupSIDs, s)
			}
		}
	}
	add(id.PrimaryGroupSID)
	add(id.GroupSIDs...)
	add(id.ExtraSIDs...)
	add(id.ResourceGroupSIDs...)
	return out
}
