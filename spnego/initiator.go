package spnego

import (
	"context"
	"encoding/asn1"
	"fmt"

	"github.com/netsession/netsession/auth"
)

// Initiator negotiates among the mechanisms given to it on the initiating
// side. It is itself an auth.Initiator (of auth.MechSPNEGO). Its first
// token offers every mechanism, in order, with an optimistic token of the
// first; when the acceptor selects another of them, that one starts over.
type Initiator struct {
	mechs []auth.Initiator
}

// NewInitiator returns an Initiator over mechs, most preferred first.
func NewInitiator(mechs ...auth.Initiator) (*Initiator, error) {
	if err := checkMechs(mechs); err != nil {
		return nil, err
	}
	return &Initiator{mechs: append([]auth.Initiator(nil), mechs...)}, nil
}

// MustInitiator is NewInitiator for mechanisms known to be valid (the
// ones of this module); it panics on an error.
func MustInitiator(mechs ...auth.Initiator) *Initiator {
	i, err := NewInitiator(mechs...)
	if err != nil {
		panic(err)
	}
	return i
}

// Mechanism returns auth.MechSPNEGO.
func (i *Initiator) Mechanism() auth.Mechanism { return auth.MechSPNEGO }

// Anonymous reports whether every mechanism logs on anonymously.
func (i *Initiator) Anonymous() bool {
	for _, m := range i.mechs {
		if !m.Anonymous() {
			return false
		}
	}
	return true
}

// Initiate starts an exchange.
func (i *Initiator) Initiate(_ context.Context) (auth.InitiatorContext, error) {
	return i.NewContext(), nil
}

// NewContext is Initiate with the concrete type.
func (i *Initiator) NewContext() *InitiatorContext {
	c := &InitiatorContext{ini: i}
	c.gate = gate{state: &c.state}
	return c
}

// InitiatorContext is one SPNEGO exchange on the initiating side. For
// NTLM it takes three legs: NegTokenInit out, the acceptor's challenge in
// and AUTHENTICATE plus mechListMIC out, the acceptor's final token in
// (done).
type InitiatorContext struct {
	gate        // SignatureSize, Sign, Verify, SealWithin, UnsealWithin
	ini         *Initiator
	state       state
	mech        auth.InitiatorContext
	mechID      auth.Mechanism
	mechDone    bool
	rawMechs    []byte
	micRequired bool
	sentMIC     bool
	gotMIC      bool // the acceptor's mechListMIC verified
}

// Step produces the next SPNEGO token; see InitiatorContext.
func (c *InitiatorContext) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	return c.gate.step(ctx, in, c.step)
}

func (c *InitiatorContext) start(ctx context.Context, m auth.Initiator, in []byte) ([]byte, error) {
	mc, err := m.Initiate(ctx)
	if err != nil {
		return nil, err
	}
	c.mech, c.mechID, c.gate.mech = mc, m.Mechanism(), mc
	out, done, err := mc.Step(ctx, in)
	c.mechDone = done
	return out, err
}

func (c *InitiatorContext) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch c.state {
	case stateInitial:
		tok, err := c.start(ctx, c.ini.mechs[0], in)
		if err != nil {
			return nil, false, err
		}
		init := &NegTokenInit{MechToken: tok}
		for _, m := range c.ini.mechs {
			init.MechTypes = append(init.MechTypes, oidOf(m.Mechanism()))
		}
		out := init.Marshal()
		c.rawMechs = init.RawMechTypes
		c.state = stateWantMore
		return out, false, nil
	case stateWantMore:
		return c.answer(ctx, in)
	default:
		return nil, false, fmt.Errorf("%w: SPNEGO exchange already finished", ErrState)
	}
}

// answer handles one NegTokenResp of the acceptor.
func (c *InitiatorContext) answer(ctx context.Context, in []byte) ([]byte, bool, error) {
	resp, err := ParseNegTokenResp(in)
	if err != nil {
		return nil, false, err
	}
	if resp.NegState == NegStateReject {
		return nil, false, c.rejected(ctx, resp.ResponseToken)
	}
	var out []byte
	restarted := false
	if resp.SupportedMech != nil && auth.MechanismOf(resp.SupportedMech) != c.mechID {
		if out, err = c.restart(ctx, resp.SupportedMech); err != nil {
			return nil, false, err
		}
		restarted = true
	}
	if !restarted && (resp.ResponseToken != nil || !c.mechDone) {
		if c.mechDone {
			return nil, false, fmt.Errorf("%w: %v token after the mechanism finished", ErrState, c.mechID)
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: no %v token in the NegTokenResp", ErrState, c.mechID)
		}
		if out, c.mechDone, err = c.mech.Step(ctx, resp.ResponseToken); err != nil {
			return nil, false, err
		}
	}
	if resp.NegState == NegStateAcceptCompleted {
		if !c.mechDone || out != nil {
			return nil, false, fmt.Errorf("%w: acceptor completed before the %v exchange did", ErrState, c.mechID)
		}
		if err := c.finalMIC(resp.MechListMIC, resp.ResponseToken != nil); err != nil {
			return nil, false, err
		}
		c.state = stateDone
		return nil, true, nil
	}
	if c.mechDone && out == nil {
		return c.answerMIC(resp)
	}
	next := &NegTokenResp{NegState: NegStateAbsent, ResponseToken: out}
	if c.mechDone {
		if mc, ok := c.mech.(auth.MICContext); ok && mc.CanMIC() && (c.micRequired || mc.MICRequired()) {
			if next.MechListMIC, err = mc.GetMIC(c.rawMechs); err != nil {
				return nil, false, err
			}
			c.sentMIC = true
		}
	}
	return next.Marshal(), false, nil
}

// rejected is the error of an acceptor's reject: ErrRejected, with the
// mechanism's reading of the token that came with it when there is one
// (a Kerberos KRB-ERROR says why: a clock skew, a replay).
func (c *InitiatorContext) rejected(ctx context.Context, tok []byte) error {
	if tok == nil || c.mech == nil || c.mechDone {
		return ErrRejected
	}
	if _, _, err := c.mech.Step(ctx, tok); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return ErrRejected
}

// restart switches to the mechanism the acceptor selected, when it is one
// of ours and nothing but the first token was sent yet.
func (c *InitiatorContext) restart(ctx context.Context, sel asn1.ObjectIdentifier) ([]byte, error) {
	id := auth.MechanismOf(sel)
	if c.mechDone || c.micRequired {
		return nil, fmt.Errorf("%w: acceptor selected %v late", ErrNoMechanism, id)
	}
	for _, m := range c.ini.mechs {
		if m.Mechanism() == id {
			c.micRequired = true
			return c.start(ctx, m, nil)
		}
	}
	return nil, fmt.Errorf("%w: acceptor selected %v", ErrNoMechanism, sel)
}

// answerMIC answers an acceptor that goes on after the mechanism is done
// on this side: it sent its mechListMIC first (with the mechanism's last
// token, as for Kerberos) or asks for ours (request-mic). Its MIC is
// verified, and ours sent.
func (c *InitiatorContext) answerMIC(resp *NegTokenResp) ([]byte, bool, error) {
	mc, ok := c.mech.(auth.MICContext)
	if !ok || !mc.CanMIC() || c.sentMIC || (resp.MechListMIC == nil && resp.NegState != NegStateRequestMIC) {
		return nil, false, fmt.Errorf("%w: acceptor answered negState %d", ErrRejected, resp.NegState)
	}
	if resp.MechListMIC != nil {
		if err := mc.VerifyMIC(c.rawMechs, resp.MechListMIC); err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrMechListMIC, err)
		}
		c.gotMIC = true
	}
	ours, err := mc.GetMIC(c.rawMechs)
	if err != nil {
		return nil, false, err
	}
	c.sentMIC = true
	return (&NegTokenResp{NegState: NegStateAbsent, MechListMIC: ours}).Marshal(), false, nil
}

// finalMIC checks the acceptor's mechListMIC, if any, and ends this side's
// mechListMIC exchange. withToken says whether the completing answer
// carries the mechanism's last token: an acceptor may then send its MIC
// with it although this side sent none (Kerberos first, RFC 4178 5), and
// the MIC is verified.
func (c *InitiatorContext) finalMIC(mic []byte, withToken bool) error {
	mc, ok := c.mech.(auth.MICContext)
	if mic != nil {
		if c.gotMIC || !ok || !(c.sentMIC || (withToken && mc.CanMIC())) {
			return fmt.Errorf("%w: unexpected mechListMIC", ErrMechListMIC)
		}
		if err := mc.VerifyMIC(c.rawMechs, mic); err != nil {
			return fmt.Errorf("%w: %w", ErrMechListMIC, err)
		}
		c.gotMIC = true
	} else if c.micRequired && !c.gotMIC && ok && mc.CanMIC() {
		return fmt.Errorf("%w: the acceptor sent none", ErrMechListMIC)
	}
	if c.sentMIC || c.gotMIC {
		mc.MICDone()
	}
	return nil
}

// Done reports whether the exchange completed.
func (c *InitiatorContext) Done() bool { return c.state == stateDone }

// SessionKey returns the negotiated mechanism's session key once Done.
func (c *InitiatorContext) SessionKey() []byte {
	if !c.Done() {
		return nil
	}
	return c.mech.SessionKey()
}

// Negotiated returns the mechanism in use and its context; nil before the
// first Step.
func (c *InitiatorContext) Negotiated() (auth.Mechanism, auth.InitiatorContext) {
	return c.mechID, c.mech
}
