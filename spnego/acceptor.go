package spnego

import (
	"context"
	"encoding/asn1"
	"fmt"

	"github.com/netsession/netsession/auth"
)

// Acceptor negotiates among the mechanisms given to it (RFC 4178,
// MS-SPNG) on the accepting side: SMB2 SESSION_SETUP and DCE/RPC auth
// type 9. It is itself an auth.Acceptor (of auth.MechSPNEGO) and an
// auth.Advertiser.
//
// The mechanism is the first of the initiator's mechTypes that the
// Acceptor has. When that is not the initiator's first choice, any
// optimistic token is dropped, the answer names the selected mechanism
// without a token, the initiator restarts with it, and the mechListMIC
// becomes mandatory (RFC 4178 5). It is mandatory as well whenever the
// mechanism asks for it (auth.MICContext.MICRequired). When the
// mechanism's last token comes from the acceptor (Kerberos's AP-REP), the
// initiator cannot make its MIC before reading it: the acceptor then
// sends its own MIC with that token (accept-incomplete) and completes
// once the initiator's MIC verifies.
type Acceptor struct {
	mechs []auth.Acceptor
}

// NewAcceptor returns an Acceptor over mechs, in this side's order of
// preference (the order the NEGOTIATE hint lists them in). Mechanisms with
// an identifier that is not a valid OID, or repeated, are an error.
func NewAcceptor(mechs ...auth.Acceptor) (*Acceptor, error) {
	if err := checkMechs(mechs); err != nil {
		return nil, err
	}
	return &Acceptor{mechs: append([]auth.Acceptor(nil), mechs...)}, nil
}

// MustAcceptor is NewAcceptor for mechanisms known to be valid (the
// ones of this module); it panics on an error.
func MustAcceptor(mechs ...auth.Acceptor) *Acceptor {
	a, err := NewAcceptor(mechs...)
	if err != nil {
		panic(err)
	}
	return a
}

type mechanism interface{ Mechanism() auth.Mechanism }

func checkMechs[M mechanism](mechs []M) error {
	if len(mechs) == 0 {
		return fmt.Errorf("%w: no mechanisms given", ErrNoMechanism)
	}
	seen := map[auth.Mechanism]bool{}
	for _, m := range mechs {
		id := m.Mechanism()
		if _, err := id.OID(); err != nil {
			return err
		}
		if id == auth.MechSPNEGO || seen[id] {
			return fmt.Errorf("spnego: mechanism %v given twice or nested", id)
		}
		seen[id] = true
	}
	return nil
}

// Mechanism returns auth.MechSPNEGO.
func (a *Acceptor) Mechanism() auth.Mechanism { return auth.MechSPNEGO }

// Mechanisms returns the mechanisms negotiated among, in order.
func (a *Acceptor) Mechanisms() []auth.Mechanism {
	out := make([]auth.Mechanism, len(a.mechs))
	for i, m := range a.mechs {
		out[i] = m.Mechanism()
	}
	return out
}

func (a *Acceptor) find(m auth.Mechanism) auth.Acceptor {
	for _, x := range a.mechs {
		if x.Mechanism() == m {
			return x
		}
	}
	return nil
}

// Advertise returns the NegTokenInit2 (MS-SPNG 2.2.1) an SMB2 server puts
// in its NEGOTIATE response: the mechanisms in order, with the
// conventional negHints hintName "not_defined_in_RFC4178@please_ignore".
func (a *Acceptor) Advertise() []byte {
	const hint = "not_defined_in_RFC4178@please_ignore"
	var oids []byte
	for _, m := range a.mechs {
		oid, _ := m.Mechanism().OID() // checked by NewAcceptor
		oids = append(oids, marshalOID(oid)...)
	}
	mechs := tlvBytes(0xa0, tlvBytes(0x30, oids))
	hints := tlvBytes(0xa3, tlvBytes(0x30, tlvBytes(0xa0, tlvBytes(0x1b, []byte(hint)))))
	return tlvBytes(0x60, []byte(oidSPNEGO), tlvBytes(0xa0, tlvBytes(0x30, mechs, hints)))
}

// Accept starts an acceptor exchange with peer.
func (a *Acceptor) Accept(_ context.Context, peer auth.Peer) (auth.AcceptorContext, error) {
	return a.NewContext(peer), nil
}

// NewContext is Accept with the concrete type.
func (a *Acceptor) NewContext(peer auth.Peer) *AcceptorContext {
	c := &AcceptorContext{acc: a, peer: peer}
	c.gate = gate{state: &c.state}
	return c
}

type state int

const (
	stateInitial   state = iota
	stateWantFirst       // mechanism selected, its first token not seen yet
	stateWantMore        // mechanism running
	stateWantMIC         // mechanism done, the acceptor's mechListMIC sent, the initiator's due
	stateDone
	stateFailed
)

// AcceptorContext is one SPNEGO exchange on the accepting side. Once done
// it reports the negotiated mechanism's Result and, when that mechanism's
// context offers it, its message protection (auth.Protector).
type AcceptorContext struct {
	gate        // SignatureSize, Sign, Verify, SealWithin, UnsealWithin
	acc         *Acceptor
	peer        auth.Peer
	state       state
	mech        auth.AcceptorContext
	mechID      auth.Mechanism
	rawMechs    []byte
	micRequired bool
	errToken    []byte // the mechanism's token for its refusal
}

// Step consumes the initiator's next SPNEGO token. On a refusal, out may
// hold a reject token for the caller to send along with its error status.
func (c *AcceptorContext) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	before := c.state
	out, done, err = c.gate.step(ctx, in, c.step)
	if err != nil && before != stateFailed && c.state == stateFailed {
		// This leg failed; the mechanism's own error token, if it made
		// one (a Kerberos KRB-ERROR), tells the initiator why.
		reject := &NegTokenResp{NegState: NegStateReject, ResponseToken: c.errToken}
		c.errToken = nil
		return reject.Marshal(), false, err
	}
	return out, done, err
}

func (c *AcceptorContext) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch c.state {
	case stateInitial:
		init, err := ParseNegTokenInit(in)
		if err != nil {
			return nil, false, err
		}
		idx := -1
		var sel auth.Acceptor
		for i, o := range init.MechTypes {
			if sel = c.acc.find(auth.MechanismOf(o)); sel != nil {
				idx = i
				break
			}
		}
		if sel == nil {
			return nil, false, fmt.Errorf("%w: initiator offers %v, acceptor has %v", ErrNoMechanism, init.MechTypes, c.acc.Mechanisms())
		}
		mc, err := sel.Accept(ctx, c.peer)
		if err != nil {
			return nil, false, err
		}
		c.mech, c.mechID = mc, sel.Mechanism()
		c.gate.mech = mc
		c.rawMechs = init.RawMechTypes
		c.micRequired = idx != 0
		resp := &NegTokenResp{NegState: NegStateAcceptIncomplete, SupportedMech: init.MechTypes[idx]}
		if idx == 0 && init.MechToken != nil {
			return c.mechStep(ctx, init.MechToken, init.MechListMIC, resp)
		}
		// An optimistic token for another mechanism is dropped; the
		// initiator sends the selected mechanism's first token next.
		c.state = stateWantFirst
		return resp.Marshal(), false, nil
	case stateWantFirst, stateWantMore:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, err
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: no %v token in the NegTokenResp", ErrState, c.mechID)
		}
		return c.mechStep(ctx, resp.ResponseToken, resp.MechListMIC, &NegTokenResp{NegState: NegStateAcceptIncomplete})
	case stateWantMIC:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, err
		}
		if resp.ResponseToken != nil || resp.MechListMIC == nil {
			return nil, false, fmt.Errorf("%w: the initiator's answer to ours is not a mechListMIC alone", ErrMechListMIC)
		}
		mc := c.mech.(auth.MICContext) // stateWantMIC is reached only with one
		if err := mc.VerifyMIC(c.rawMechs, resp.MechListMIC); err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrMechListMIC, err)
		}
		mc.MICDone()
		c.state = stateDone
		return (&NegTokenResp{NegState: NegStateAcceptCompleted}).Marshal(), true, nil
	default:
		return nil, false, fmt.Errorf("%w: SPNEGO exchange already finished", ErrState)
	}
}

// mechStep feeds the mechanism one token and answers with resp, completed
// (and the mechListMIC exchanged) once the mechanism is done.
func (c *AcceptorContext) mechStep(ctx context.Context, tok, mic []byte, resp *NegTokenResp) ([]byte, bool, error) {
	out, done, err := c.mech.Step(ctx, tok)
	if err != nil {
		c.errToken = out
		return nil, false, err
	}
	resp.ResponseToken = out
	if !done {
		c.state = stateWantMore
		return resp.Marshal(), false, nil
	}
	resp.NegState = NegStateAcceptCompleted
	mc, ok := c.mech.(auth.MICContext)
	canMIC := ok && mc.CanMIC()
	switch {
	case canMIC && mic != nil:
		if err := mc.VerifyMIC(c.rawMechs, mic); err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrMechListMIC, err)
		}
		ours, err := mc.GetMIC(c.rawMechs)
		if err != nil {
			return nil, false, err
		}
		resp.MechListMIC = ours
		mc.MICDone()
	case canMIC && (c.micRequired || mc.MICRequired()) && out != nil:
		// The initiator has this last token of the mechanism to read
		// (Kerberos's AP-REP) before it can make a MIC: the acceptor's
		// goes first, and the initiator's is due in the next leg.
		ours, err := mc.GetMIC(c.rawMechs)
		if err != nil {
			return nil, false, err
		}
		resp.NegState = NegStateAcceptIncomplete
		resp.MechListMIC = ours
		c.state = stateWantMIC
		return resp.Marshal(), false, nil
	case canMIC && (c.micRequired || mc.MICRequired()):
		return nil, false, fmt.Errorf("%w: required but absent", ErrMechListMIC)
	}
	c.state = stateDone
	return resp.Marshal(), true, nil
}

// Done reports whether the exchange completed successfully.
func (c *AcceptorContext) Done() bool { return c.state == stateDone }

// Result returns the negotiated mechanism's result once Done.
func (c *AcceptorContext) Result() (auth.Result, bool) {
	if !c.Done() {
		return auth.Result{}, false
	}
	return c.mech.Result()
}

// Negotiated returns the selected mechanism and its context; nil before
// the first token selected one.
func (c *AcceptorContext) Negotiated() (auth.Mechanism, auth.AcceptorContext) {
	return c.mechID, c.mech
}

// oidOf is the OID of a mechanism NewAcceptor or NewInitiator checked.
func oidOf(m auth.Mechanism) asn1.ObjectIdentifier {
	oid, err := m.OID()
	if err != nil {
		panic("spnego: " + err.Error()) // checked by the constructors
	}
	return oid
}
