package krb5

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/netsession/netsession/auth"
)

// FlagDCEStyle is GSS_C_DCE_STYLE: the three-leg exchange DCE/RPC uses
// (MS-KILE 3.2.5.1 and 3.4.5.1). The acceptor's AP-REP comes back bare,
// and the initiator answers it with an AP-REP of its own (no subkey, the
// acceptor's sequence number), bare too.
const FlagDCEStyle uint32 = 0x1000

// HostSPN returns "host/HOST": the service principal DCE/RPC clients ask
// a ticket for over ncacn_ip_tcp, as Windows does.
func HostSPN(host string) string { return "host/" + strings.TrimSuffix(host, ".") }

// DCEForHost returns m as an initiator of DCE-style Kerberos for
// DCE/RPC (auth type 16, or inside SPNEGO under 9) to host: the ticket is
// for m.SPN, or HostSPN(host) when m names none. Its contexts take three
// legs (bind, bind_ack, auth3 or alter_context) and offer packet
// integrity and privacy (auth.Protector, auth.GSSStyle) with an AES
// session key. confidential asks for confidentiality (FlagConf), which
// packet privacy needs; leave it off for integrity, as Samba sizes the
// verifiers of a context that has it as wrap tokens even when signing.
func (m *Mechanism) DCEForHost(host string, confidential bool) auth.Initiator {
	spn := m.SPN
	if spn == "" {
		spn = HostSPN(host)
	}
	flags := DefaultFlags | FlagDCEStyle
	if !confidential {
		flags &^= FlagConf
	}
	return &dceInitiator{m: m, spn: spn, flags: flags}
}

type dceInitiator struct {
	m     *Mechanism
	spn   string
	flags uint32
}

func (d *dceInitiator) Mechanism() auth.Mechanism { return d.m.Mechanism() }
func (d *dceInitiator) Anonymous() bool           { return false }

// SPN is the service principal the initiator asks a ticket for.
func (d *dceInitiator) SPN() string { return d.spn }

func (d *dceInitiator) Initiate(ctx context.Context) (auth.InitiatorContext, error) {
	if d.m.Tickets == nil || d.spn == "" {
		return nil, fmt.Errorf("%w: Kerberos initiator without tickets or SPN", ErrConfig)
	}
	t, err := d.m.Tickets.Ticket(ctx, d.spn)
	if err != nil {
		return nil, err
	}
	ini := NewInitiator(t, d.m.Clock)
	ini.Flags = d.flags
	return &dceInitiatorContext{ini: ini}, nil
}

// dceInitiatorContext is the initiating side of a DCE-style context.
type dceInitiatorContext struct {
	ini  *Initiator
	prot *dceProtector
	perr error // why there is no protection (a non-AES key)
	key  []byte
	unprotected
}

// Step returns the AP-REQ for nil, then checks the acceptor's AP-REP and
// answers it.
func (c *dceInitiatorContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if !c.ini.sent {
		if in != nil {
			return nil, false, ErrState
		}
		out, err := c.ini.Init(ctx)
		return out, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if c.key != nil {
		return nil, false, ErrState
	}
	part, err := parseAPRep(in, c.ini.t.key, c.ini.auth.CTime, c.ini.auth.Cusec)
	if err != nil {
		return nil, false, err
	}
	now := c.ini.clock().UTC()
	out, err := marshalAPRep(c.ini.t.key, messages.EncAPRepPart{
		CTime: now.Truncate(time.Second), Cusec: now.Nanosecond() / 1000, SequenceNumber: part.SequenceNumber,
	})
	if err != nil {
		return nil, false, err
	}
	c.key = slices.Clone(part.Subkey.KeyValue)
	c.prot, c.perr = newDCEProtector(part.Subkey.KeyType, c.key, true,
		uint64(c.ini.auth.SeqNumber), uint64(part.SequenceNumber))
	c.unprotected = unprotected{c.prot, c.perr}
	c.ini.sessionKey, c.ini.peerSeq, c.ini.done = part.Subkey, part.SequenceNumber, true
	return out, true, nil
}

// SessionKey is the acceptor's subkey once done.
func (c *dceInitiatorContext) SessionKey() []byte { return slices.Clone(c.key) }

// DCEAcceptors returns the acceptor as auth.Acceptors for DCE/RPC: one
// for auth.MechMSKerberos and one for auth.MechKerberos, taking DCE-style
// AP-REQs (FlagDCEStyle, mutual authentication) in three legs and offering
// packet integrity and privacy with an AES session key. They share a's
// keys, service restrictions and replay cache with AuthAcceptors, and
// their logons go through a.Throttle.
func (a *Acceptor) DCEAcceptors() []auth.Acceptor { return a.DCEAcceptorsWith(a.Throttle) }

// DCEAcceptorsWith is DCEAcceptors with t as the throttle instead of
// a.Throttle, as AuthAcceptorsWith is for AuthAcceptors.
func (a *Acceptor) DCEAcceptorsWith(t auth.Throttle) []auth.Acceptor {
	return []auth.Acceptor{&dceMechAcceptor{a, auth.MechMSKerberos, t}, &dceMechAcceptor{a, auth.MechKerberos, t}}
}

type dceMechAcceptor struct {
	acc      *Acceptor
	mech     auth.Mechanism
	throttle auth.Throttle
}

func (m *dceMechAcceptor) Mechanism() auth.Mechanism { return m.mech }

func (m *dceMechAcceptor) Accept(ctx context.Context, peer auth.Peer) (auth.AcceptorContext, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &dceAcceptorContext{acc: m.acc, mech: m.mech, peer: peer, throttle: m.throttle}, nil
}

// dceAcceptorContext is the accepting side of a DCE-style context: the
// AP-REQ is checked as Acceptor.Accept does, then the initiator's AP-REP
// must decrypt with the ticket's session key and echo our sequence number.
type dceAcceptorContext struct {
	acc      *Acceptor
	mech     auth.Mechanism
	peer     auth.Peer
	throttle auth.Throttle
	legs     int
	failed   bool
	delay    time.Duration // how long the throttle holds back a refusal

	ticketKey types.EncryptionKey
	subkey    types.EncryptionKey
	ourSeq    uint64
	theirSeq  uint64
	id        *Identity
	result    *auth.Result
	prot      *dceProtector
	perr      error
	unprotected
}

func (c *dceAcceptorContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if c.failed || c.result != nil || c.legs >= 2 {
		return nil, false, ErrState
	}
	c.legs++
	var out []byte
	var done bool
	var err error
	if c.legs == 1 {
		out, err = c.first(ctx, in)
	} else {
		done, err = true, c.second(ctx, in)
	}
	if err != nil {
		c.failed = true
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, false, err
		}
		c.acc.logf("kerberos logon refused", "peer", c.peer.Source, "err", err)
		return nil, false, &logonError{err: err, delay: c.delay}
	}
	return out, done, nil
}

// first checks the AP-REQ and returns the bare AP-REP.
func (c *dceAcceptorContext) first(ctx context.Context, in []byte) ([]byte, error) {
	r, delay, err := c.acc.acceptThrottled(ctx, in, c.throttle, c.peer.Source)
	c.delay = delay
	if err != nil {
		return nil, err
	}
	if r.id.Flags&FlagDCEStyle == 0 || r.reply == nil || !r.subkey {
		return nil, fmt.Errorf("%w: AP-REQ without DCE style and mutual authentication, which DCE/RPC needs", ErrMalformed)
	}
	_, msg, err := UnwrapToken(r.reply)
	if err != nil {
		return nil, err
	}
	// The acceptance carries what the third leg and the per-message
	// tokens need: the ticket's key, our subkey and both sequence numbers.
	c.ticketKey, c.subkey, c.ourSeq, c.theirSeq, c.id = r.ticketKey, r.key, r.sendSeq, r.recvSeq, r.id
	return msg, nil
}

// second checks the initiator's AP-REP: encrypted with the ticket's
// session key, echoing our sequence number.
func (c *dceAcceptorContext) second(ctx context.Context, in []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	part, err := readAPRep(in, c.ticketKey)
	if err != nil {
		return err
	}
	if uint64(part.SequenceNumber) != c.ourSeq {
		return fmt.Errorf("%w: the initiator's AP-REP carries sequence number %d, ours was %d", ErrIntegrity, part.SequenceNumber, c.ourSeq)
	}
	c.prot, c.perr = newDCEProtector(c.subkey.KeyType, c.subkey.KeyValue, false, c.ourSeq, c.theirSeq)
	c.unprotected = unprotected{c.prot, c.perr}
	c.result = &auth.Result{Mechanism: c.mech, Identity: c.id.authIdentity(), SessionKey: slices.Clone(c.subkey.KeyValue)}
	c.acc.logf("kerberos DCE-style logon accepted", "user", c.id.User, "realm", c.id.Realm, "service", c.id.Service)
	return nil
}

func (c *dceAcceptorContext) Result() (auth.Result, bool) {
	if c.result == nil {
		return auth.Result{}, false
	}
	r := *c.result
	r.SessionKey = slices.Clone(r.SessionKey)
	return r, true
}

// readAPRep decodes an AP-REP, bare (DCE style) or in a GSS-API token,
// and decrypts its encrypted part with key. A KRB-ERROR gives a
// *KDCError.
func readAPRep(b []byte, key types.EncryptionKey) (messages.EncAPRepPart, error) {
	var part messages.EncAPRepPart
	msg := b
	tokID := TokenAPRep
	switch {
	case len(b) > 0 && b[0] == 0x60:
		var err error
		if tokID, msg, err = UnwrapToken(b); err != nil {
			return part, err
		}
	case len(b) > 0 && b[0] == 0x7e: // [APPLICATION 30] KRB-ERROR
		tokID = TokenKRBError
	}
	switch tokID {
	case TokenKRBError:
		return part, parseKRBError(msg)
	case TokenAPRep:
	default:
		return part, fmt.Errorf("%w: token %#04x where an AP-REP was expected", ErrMalformed, tokID)
	}
	var rep messages.APRep
	if err := safeUnmarshal(func() error { return rep.Unmarshal(msg) }); err != nil {
		return part, fmt.Errorf("%w: AP-REP: %v", ErrMalformed, err)
	}
	plain, err := decrypt(rep.EncPart, key, keyusage.AP_REP_ENCPART)
	if err != nil {
		return part, fmt.Errorf("%w: AP-REP does not decrypt with the session key: %v", ErrIntegrity, err)
	}
	if err := safeUnmarshal(func() error { return part.Unmarshal(plain) }); err != nil {
		return part, fmt.Errorf("%w: AP-REP encrypted part: %v", ErrMalformed, err)
	}
	return part, nil
}

// unprotected gives a context the methods of its protector, or the reason
// it has none (not established, or a non-AES key).
type unprotected struct {
	p   *dceProtector
	err error
}

func (u unprotected) get() (*dceProtector, error) {
	if u.p != nil {
		return u.p, nil
	}
	if u.err != nil {
		return nil, u.err
	}
	return nil, fmt.Errorf("%w: context not established", ErrState)
}

// SignatureSize is the MIC token's size (28 octets with AES).
func (u unprotected) SignatureSize() int {
	if u.p == nil {
		return tokenHeaderLen + 12
	}
	return u.p.SignatureSize()
}

// GSSWrapSize is the wrap token's size in a DCE/RPC verifier (76 octets
// with AES).
func (u unprotected) GSSWrapSize() (int, bool) {
	if u.p == nil {
		return tokenHeaderLen + dceEC + tokenHeaderLen + 12 + 16, true
	}
	return u.p.GSSWrapSize()
}

// Sign returns a MIC token over msg.
func (u unprotected) Sign(msg []byte) ([]byte, error) {
	p, err := u.get()
	if err != nil {
		return nil, err
	}
	return p.Sign(msg)
}

// Verify checks the peer's MIC token.
func (u unprotected) Verify(msg, sig []byte) error {
	p, err := u.get()
	if err != nil {
		return err
	}
	return p.Verify(msg, sig)
}

// SealWithin seals msg[lo:hi] in place and returns the wrap token.
func (u unprotected) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	p, err := u.get()
	if err != nil {
		return nil, err
	}
	return p.SealWithin(msg, lo, hi)
}

// UnsealWithin checks the peer's wrap token and unseals msg[lo:hi].
func (u unprotected) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	p, err := u.get()
	if err != nil {
		return err
	}
	return p.UnsealWithin(msg, lo, hi, sig)
}

// The mechListMIC of SPNEGO (auth.MICContext) is a MIC token over the
// mechanism list, counted in the context's sequence numbers: Samba's and
// Windows' SPNEGO clients send it with DCE-style Kerberos and expect the
// acceptor's in the final answer.

// CanMIC reports whether the context is established with an AES key.
func (c *dceInitiatorContext) CanMIC() bool { return c.prot != nil }

// MICRequired is true: the initiator always sends the mechListMIC, as
// Samba and Windows do with AES keys.
func (c *dceInitiatorContext) MICRequired() bool { return true }

// GetMIC returns a MIC token over msg.
func (c *dceInitiatorContext) GetMIC(msg []byte) ([]byte, error) { return c.Sign(msg) }

// VerifyMIC checks the acceptor's MIC token over msg.
func (c *dceInitiatorContext) VerifyMIC(msg, mic []byte) error { return c.Verify(msg, mic) }

// MICDone does nothing: the sequence numbers simply go on.
func (c *dceInitiatorContext) MICDone() {}

// CanMIC reports whether the context is established with an AES key.
func (c *dceAcceptorContext) CanMIC() bool { return c.prot != nil }

// MICRequired is false: impacket sends no mechListMIC, and the mechanism
// was the initiator's first choice whenever this is asked.
func (c *dceAcceptorContext) MICRequired() bool { return false }

// GetMIC returns a MIC token over msg.
func (c *dceAcceptorContext) GetMIC(msg []byte) ([]byte, error) { return c.Sign(msg) }

// VerifyMIC checks the initiator's MIC token over msg.
func (c *dceAcceptorContext) VerifyMIC(msg, mic []byte) error { return c.Verify(msg, mic) }

// MICDone does nothing: the sequence numbers simply go on.
func (c *dceAcceptorContext) MICDone() {}
