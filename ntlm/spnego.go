package ntlm

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/netsession/netsession/session"
)

// Object identifiers SPNEGO deals in. They are functions so that no
// package-level slice can be modified by a caller.

// OIDSPNEGO is 1.3.6.1.5.5.2, the SPNEGO pseudo-mechanism.
func OIDSPNEGO() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2} }

// OIDNTLMSSP is 1.3.6.1.4.1.311.2.2.10, NTLM.
func OIDNTLMSSP() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
}

// OIDKerberos is 1.2.840.113554.1.2.2, Kerberos 5.
func OIDKerberos() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
}

// OIDMSKerberos is 1.2.840.48018.1.2.2, the Kerberos OID Windows sends
// first (its historical mis-encoding of the real one).
func OIDMSKerberos() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}
}

// ErrMechListMIC marks a SPNEGO exchange whose mechListMIC is missing
// where it is required, or does not verify.
var ErrMechListMIC = errors.New("ntlm: SPNEGO mechListMIC missing or invalid")

// NegState is the negState of a NegTokenResp (RFC 4178 4.2.2).
type NegState int

// The negStates; NegStateAbsent means the field is not present.
const (
	NegStateAbsent           NegState = -1
	NegStateAcceptCompleted  NegState = 0
	NegStateAcceptIncomplete NegState = 1
	NegStateReject           NegState = 2
	NegStateRequestMIC       NegState = 3
)

// NegTokenInit is the initiator's first SPNEGO token (RFC 4178 4.2.1),
// also accepted in the NegTokenInit2 form of MS-SPNG 2.2.1 (negHints in
// [3], mechListMIC in [4]).
type NegTokenInit struct {
	MechTypes []asn1.ObjectIdentifier
	// RawMechTypes is the DER encoding of the MechTypeList exactly as
	// received (ParseNegTokenInit) or sent (Marshal): what the
	// mechListMIC is computed over.
	RawMechTypes []byte
	MechToken    []byte
	MechListMIC  []byte
}

const spnegoMaxMechs = 32

// ParseNegTokenInit decodes a GSS-API InitialContextToken carrying a
// NegTokenInit (tag 0x60), or a bare NegotiationToken of the negTokenInit
// choice (tag 0xa0).
func ParseNegTokenInit(b []byte) (*NegTokenInit, error) {
	const what = "SPNEGO NegTokenInit"
	if len(b) > 0 && b[0] == 0x60 {
		app, err := readOnly(what, b, 0x60)
		if err != nil {
			return nil, err
		}
		oid, rest, err := readTLV(what, app.body)
		if err != nil {
			return nil, err
		}
		if oid.tag != 0x06 {
			return nil, malformed(what, "no mechanism OID in the initial token")
		}
		o, err := parseOID(what, oid.full)
		if err != nil {
			return nil, err
		}
		if !o.Equal(OIDSPNEGO()) {
			return nil, malformed(what, "initial token for mechanism %v, not SPNEGO", o)
		}
		b = rest
	}
	choice, err := readOnly(what, b, 0xa0)
	if err != nil {
		return nil, err
	}
	seq, err := readOnly(what, choice.body, 0x30)
	if err != nil {
		return nil, err
	}
	m := &NegTokenInit{}
	last := -1
	for rest := seq.body; len(rest) > 0; {
		var f tlv
		if f, rest, err = readTLV(what, rest); err != nil {
			return nil, err
		}
		n := int(f.tag) - 0xa0
		if n < 0 || n > 4 || n <= last {
			return nil, malformed(what, "unexpected or repeated field tag 0x%02x", f.tag)
		}
		last = n
		switch n {
		case 0:
			list, err := readOnly(what, f.body, 0x30)
			if err != nil {
				return nil, err
			}
			m.RawMechTypes = list.full
			for r := list.body; len(r) > 0; {
				var o tlv
				if o, r, err = readTLV(what, r); err != nil {
					return nil, err
				}
				if o.tag != 0x06 {
					return nil, malformed(what, "mechTypes holds tag 0x%02x", o.tag)
				}
				if len(m.MechTypes) == spnegoMaxMechs {
					return nil, malformed(what, "more than %d mechTypes", spnegoMaxMechs)
				}
				oid, err := parseOID(what, o.full)
				if err != nil {
					return nil, err
				}
				m.MechTypes = append(m.MechTypes, oid)
			}
		case 1: // reqFlags: ignored, as MS-SPNG allows
		case 2:
			tok, err := readOnly(what, f.body, 0x04)
			if err != nil {
				return nil, err
			}
			m.MechToken = tok.body
		case 3, 4:
			inner, _, err := readTLV(what, f.body)
			if err != nil {
				return nil, err
			}
			if inner.tag == 0x30 && n == 3 { // NegTokenInit2 negHints: ignored
				continue
			}
			tok, err := readOnly(what, f.body, 0x04)
			if err != nil {
				return nil, err
			}
			m.MechListMIC = tok.body
		}
	}
	if m.RawMechTypes == nil {
		return nil, malformed(what, "no mechTypes")
	}
	return m, nil
}

// Marshal encodes m as an InitialContextToken; it sets RawMechTypes.
func (m *NegTokenInit) Marshal() []byte {
	var oids []byte
	for _, o := range m.MechTypes {
		oids = append(oids, marshalOID(o)...)
	}
	m.RawMechTypes = tlvBytes(0x30, oids)
	fields := tlvBytes(0xa0, m.RawMechTypes)
	if m.MechToken != nil {
		fields = appendTLV(fields, 0xa2, tlvBytes(0x04, m.MechToken))
	}
	if m.MechListMIC != nil {
		fields = appendTLV(fields, 0xa3, tlvBytes(0x04, m.MechListMIC))
	}
	return tlvBytes(0x60, marshalOID(OIDSPNEGO()), tlvBytes(0xa0, tlvBytes(0x30, fields)))
}

// NegTokenResp is every SPNEGO token after the first (RFC 4178 4.2.2).
type NegTokenResp struct {
	NegState      NegState
	SupportedMech asn1.ObjectIdentifier
	ResponseToken []byte
	MechListMIC   []byte
}

// ParseNegTokenResp decodes a NegotiationToken of the negTokenResp choice
// (tag 0xa1).
func ParseNegTokenResp(b []byte) (*NegTokenResp, error) {
	const what = "SPNEGO NegTokenResp"
	choice, err := readOnly(what, b, 0xa1)
	if err != nil {
		return nil, err
	}
	seq, err := readOnly(what, choice.body, 0x30)
	if err != nil {
		return nil, err
	}
	m := &NegTokenResp{NegState: NegStateAbsent}
	last := -1
	for rest := seq.body; len(rest) > 0; {
		var f tlv
		if f, rest, err = readTLV(what, rest); err != nil {
			return nil, err
		}
		n := int(f.tag) - 0xa0
		if n < 0 || n > 3 || n <= last {
			return nil, malformed(what, "unexpected or repeated field tag 0x%02x", f.tag)
		}
		last = n
		switch n {
		case 0:
			e, err := readOnly(what, f.body, 0x0a)
			if err != nil {
				return nil, err
			}
			if len(e.body) != 1 || e.body[0] > 3 {
				return nil, malformed(what, "negState % x", e.body)
			}
			m.NegState = NegState(e.body[0])
		case 1:
			if _, err := readOnly(what, f.body, 0x06); err != nil {
				return nil, err
			}
			if m.SupportedMech, err = parseOID(what, f.body); err != nil {
				return nil, err
			}
		case 2, 3:
			tok, err := readOnly(what, f.body, 0x04)
			if err != nil {
				return nil, err
			}
			if n == 2 {
				m.ResponseToken = tok.body
			} else {
				m.MechListMIC = tok.body
			}
		}
	}
	return m, nil
}

// Marshal encodes m.
func (m *NegTokenResp) Marshal() []byte {
	var fields []byte
	if m.NegState != NegStateAbsent {
		fields = appendTLV(fields, 0xa0, []byte{0x0a, 0x01, byte(m.NegState)})
	}
	if m.SupportedMech != nil {
		fields = appendTLV(fields, 0xa1, marshalOID(m.SupportedMech))
	}
	if m.ResponseToken != nil {
		fields = appendTLV(fields, 0xa2, tlvBytes(0x04, m.ResponseToken))
	}
	if m.MechListMIC != nil {
		fields = appendTLV(fields, 0xa3, tlvBytes(0x04, m.MechListMIC))
	}
	return tlvBytes(0xa1, tlvBytes(0x30, fields))
}

func rejectToken() []byte { return (&NegTokenResp{NegState: NegStateReject}).Marshal() }

type spnegoState int

const (
	spnegoInitial spnegoState = iota
	spnegoWantNegotiate
	spnegoWantAuthenticate
	spnegoWantFinal
	spnegoDone
	spnegoFailed
)

// NewSPNEGOContext starts an acceptor exchange wrapped in SPNEGO (RFC 4178,
// MS-SPNG), for DCE/RPC auth type 9 and SMB2 session setup. Only NTLMSSP is
// ever selected.
func (s *Server) NewSPNEGOContext(source string) *SPNEGOServerContext {
	c := &SPNEGOServerContext{ntlm: s.NewContext(source)}
	c.spnegoGate = spnegoGate{state: &c.state, sec: c.ntlm}
	return c
}

// SPNEGOServerContext is an NTLM acceptor exchange inside SPNEGO.
//
// The initiator's mechTypes may list Kerberos (or anything else) first,
// with or without an optimistic token for it: the acceptor then answers
// with NTLMSSP as supportedMech and no token, the initiator restarts with
// an NTLM NEGOTIATE, and the mechListMIC becomes mandatory (RFC 4178 5).
// It is mandatory as well whenever the NTLM AUTHENTICATE carried a MIC.
// After the mechListMIC exchange both RC4 streams restart from their keys
// while the sequence numbers run on (MS-SPNG 3.3.5.1), so the first signed
// application message is processed as the peer expects.
type SPNEGOServerContext struct {
	spnegoGate  // Sign, Verify, SealWithin, UnsealWithin
	ntlm        *ServerContext
	state       spnegoState
	rawMechs    []byte
	micRequired bool
}

// Step consumes the initiator's next SPNEGO token. On a refusal, out may
// hold a reject token for the caller to send along with its error status.
func (c *SPNEGOServerContext) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	before := c.state
	out, done, err = c.spnegoGate.step(ctx, in, c.step)
	if err != nil && before != spnegoFailed && c.state == spnegoFailed {
		return rejectToken(), false, err // this leg failed
	}
	return out, done, err
}

func (c *SPNEGOServerContext) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch c.state {
	case spnegoInitial:
		init, err := ParseNegTokenInit(in)
		if err != nil {
			return nil, false, err
		}
		idx := -1
		for i, o := range init.MechTypes {
			if o.Equal(OIDNTLMSSP()) {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, false, fmt.Errorf("%w: initiator offers no NTLMSSP (mechTypes %v)", ErrUnsupported, init.MechTypes)
		}
		c.rawMechs = init.RawMechTypes
		c.micRequired = idx != 0
		resp := &NegTokenResp{NegState: NegStateAcceptIncomplete, SupportedMech: OIDNTLMSSP()}
		if idx == 0 && init.MechToken != nil {
			chal, _, err := c.ntlm.Step(ctx, init.MechToken)
			if err != nil {
				return nil, false, err
			}
			resp.ResponseToken = chal
			c.state = spnegoWantAuthenticate
		} else {
			// An optimistic token for another mechanism is dropped; the
			// initiator sends an NTLM NEGOTIATE next.
			c.state = spnegoWantNegotiate
		}
		return resp.Marshal(), false, nil
	case spnegoWantNegotiate:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, err
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: no NTLM NEGOTIATE in the NegTokenResp", ErrState)
		}
		chal, _, err := c.ntlm.Step(ctx, resp.ResponseToken)
		if err != nil {
			return nil, false, err
		}
		c.state = spnegoWantAuthenticate
		return (&NegTokenResp{NegState: NegStateAcceptIncomplete, ResponseToken: chal}).Marshal(), false, nil
	case spnegoWantAuthenticate:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, err
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: no NTLM AUTHENTICATE in the NegTokenResp", ErrState)
		}
		if _, _, err := c.ntlm.Step(ctx, resp.ResponseToken); err != nil {
			return nil, false, err
		}
		final := &NegTokenResp{NegState: NegStateAcceptCompleted}
		sec := c.ntlm.sec
		required := c.micRequired || c.ntlm.hadMIC
		switch {
		case sec != nil && resp.MechListMIC != nil:
			if err := sec.Verify(c.rawMechs, resp.MechListMIC); err != nil {
				return nil, false, fmt.Errorf("%w: %v", ErrMechListMIC, err)
			}
			mic, err := sec.Sign(c.rawMechs)
			if err != nil {
				return nil, false, err
			}
			final.MechListMIC = mic
			sec.ResetRC4()
		case sec != nil && required:
			return nil, false, fmt.Errorf("%w: required but absent", ErrMechListMIC)
		}
		c.state = spnegoDone
		return final.Marshal(), true, nil
	default:
		return nil, false, fmt.Errorf("%w: SPNEGO exchange already finished", ErrState)
	}
}

// NTLM returns the wrapped NTLM context.
func (c *SPNEGOServerContext) NTLM() *ServerContext { return c.ntlm }

// Done reports whether the exchange completed successfully.
func (c *SPNEGOServerContext) Done() bool { return c.state == spnegoDone }

// Logon returns the logon result once Done.
func (c *SPNEGOServerContext) Logon() (Logon, bool) {
	if !c.Done() {
		return Logon{}, false
	}
	return c.ntlm.Logon()
}

// Caller returns the caller identity once Done.
func (c *SPNEGOServerContext) Caller() session.Caller {
	if !c.Done() {
		return session.Caller{}
	}
	return c.ntlm.Caller()
}

// SessionKey returns the exported session key once Done.
func (c *SPNEGOServerContext) SessionKey() []byte {
	if !c.Done() {
		return nil
	}
	return c.ntlm.SessionKey()
}

// Flags returns the negotiated NTLM flags once Done.
func (c *SPNEGOServerContext) Flags() NegotiateFlags { return c.ntlm.Flags() }

// NewSPNEGOContext starts an initiator exchange wrapped in SPNEGO, offering
// NTLMSSP only.
func (c *Client) NewSPNEGOContext() *SPNEGOClientContext {
	sc := &SPNEGOClientContext{ntlm: c.NewContext()}
	sc.spnegoGate = spnegoGate{state: &sc.state, sec: sc.ntlm}
	return sc
}

// SPNEGOClientContext is an NTLM initiator exchange inside SPNEGO. It takes
// three legs: NegTokenInit out, the acceptor's challenge in and
// AUTHENTICATE plus mechListMIC out, the acceptor's final token in (done).
type SPNEGOClientContext struct {
	spnegoGate // Sign, Verify, SealWithin, UnsealWithin
	ntlm       *ClientContext
	state      spnegoState
	rawMechs   []byte
	sentMIC    bool
}

// Step produces the next SPNEGO token; see SPNEGOClientContext.
func (c *SPNEGOClientContext) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	return c.spnegoGate.step(ctx, in, c.step)
}

func (c *SPNEGOClientContext) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch c.state {
	case spnegoInitial:
		neg, _, err := c.ntlm.Step(ctx, in)
		if err != nil {
			return nil, false, err
		}
		init := &NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDNTLMSSP()}, MechToken: neg}
		out := init.Marshal()
		c.rawMechs = init.RawMechTypes
		c.state = spnegoWantAuthenticate
		return out, false, nil
	case spnegoWantAuthenticate:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, err
		}
		if resp.NegState == NegStateReject {
			return nil, false, fmt.Errorf("%w: acceptor rejected the negotiation", ErrLogonFailure)
		}
		if resp.SupportedMech != nil && !resp.SupportedMech.Equal(OIDNTLMSSP()) {
			return nil, false, fmt.Errorf("%w: acceptor selected %v", ErrUnsupported, resp.SupportedMech)
		}
		if resp.ResponseToken == nil {
			return nil, false, fmt.Errorf("%w: no NTLM CHALLENGE in the NegTokenResp", ErrState)
		}
		auth, _, err := c.ntlm.Step(ctx, resp.ResponseToken)
		if err != nil {
			return nil, false, err
		}
		out := &NegTokenResp{NegState: NegStateAbsent, ResponseToken: auth}
		if c.ntlm.sec.Flags()&flagsSignOrSeal != 0 {
			if out.MechListMIC, err = c.ntlm.sec.Sign(c.rawMechs); err != nil {
				return nil, false, err
			}
			c.sentMIC = true
		}
		c.state = spnegoWantFinal
		return out.Marshal(), false, nil
	case spnegoWantFinal:
		resp, err := ParseNegTokenResp(in)
		if err != nil {
			return nil, false, err
		}
		if resp.NegState != NegStateAcceptCompleted {
			return nil, false, fmt.Errorf("%w: acceptor answered negState %d", ErrLogonFailure, resp.NegState)
		}
		if resp.MechListMIC != nil {
			if !c.sentMIC {
				return nil, false, fmt.Errorf("%w: unexpected mechListMIC", ErrMechListMIC)
			}
			if err := c.ntlm.sec.Verify(c.rawMechs, resp.MechListMIC); err != nil {
				return nil, false, fmt.Errorf("%w: %v", ErrMechListMIC, err)
			}
		}
		if c.sentMIC {
			c.ntlm.sec.ResetRC4()
		}
		c.state = spnegoDone
		return nil, true, nil
	default:
		return nil, false, fmt.Errorf("%w: SPNEGO exchange already finished", ErrState)
	}
}

// NTLM returns the wrapped NTLM context.
func (c *SPNEGOClientContext) NTLM() *ClientContext { return c.ntlm }

// Done reports whether the exchange completed.
func (c *SPNEGOClientContext) Done() bool { return c.state == spnegoDone }

// SessionKey returns the exported session key once Done.
func (c *SPNEGOClientContext) SessionKey() []byte {
	if !c.Done() {
		return nil
	}
	return c.ntlm.SessionKey()
}

// Flags returns the negotiated NTLM flags once the AUTHENTICATE was made.
func (c *SPNEGOClientContext) Flags() NegotiateFlags { return c.ntlm.Flags() }

// AcceptorHint returns the SPNEGO token an SMB2 server puts in its
// NEGOTIATE response: a NegTokenInit2 (MS-SPNG 2.2.1) offering NTLMSSP, with
// the conventional negHints hintName "not_defined_in_RFC4178@please_ignore".
func AcceptorHint() []byte {
	const hint = "not_defined_in_RFC4178@please_ignore"
	mechs := tlvBytes(0xa0, tlvBytes(0x30, marshalOID(OIDNTLMSSP())))
	hints := tlvBytes(0xa3, tlvBytes(0x30, tlvBytes(0xa0, tlvBytes(0x1b, []byte(hint)))))
	return tlvBytes(0x60, marshalOID(OIDSPNEGO()), tlvBytes(0xa0, tlvBytes(0x30, mechs, hints)))
}

// pduSecurity is the message protection both NTLM contexts offer once their
// logon is done.
type pduSecurity interface {
	Sign(msg []byte) ([]byte, error)
	Verify(msg, sig []byte) error
	SealWithin(msg []byte, lo, hi int) ([]byte, error)
	UnsealWithin(msg []byte, lo, hi int, sig []byte) error
}

// spnegoGate gives an SPNEGO context the message protection of the NTLM
// context it wraps, but only once the whole SPNEGO exchange (mechListMIC
// included) is complete.
type spnegoGate struct {
	state *spnegoState
	sec   pduSecurity
}

// step runs one leg of either side: nothing on a cancelled context or a
// finished exchange (a stray token neither revives nor spoils it), and a
// failed leg fails the exchange.
func (g spnegoGate) step(ctx context.Context, in []byte, leg func(context.Context, []byte) ([]byte, bool, error)) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if *g.state == spnegoDone || *g.state == spnegoFailed {
		return nil, false, fmt.Errorf("%w: SPNEGO exchange already finished", ErrState)
	}
	out, done, err := leg(ctx, in)
	if err != nil {
		*g.state = spnegoFailed
	}
	return out, done, err
}

func (g spnegoGate) ready() error {
	if *g.state != spnegoDone {
		return fmt.Errorf("%w: context not complete", ErrState)
	}
	return nil
}

// Sign signs msg with the NTLM session security (MS-NLMP 3.4.4).
func (g spnegoGate) Sign(msg []byte) ([]byte, error) {
	if err := g.ready(); err != nil {
		return nil, err
	}
	return g.sec.Sign(msg)
}

// Verify checks a signature made by the peer.
func (g spnegoGate) Verify(msg, sig []byte) error {
	if err := g.ready(); err != nil {
		return err
	}
	return g.sec.Verify(msg, sig)
}

// SealWithin encrypts msg[lo:hi] in place and signs the whole of msg.
func (g spnegoGate) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	if err := g.ready(); err != nil {
		return nil, err
	}
	return g.sec.SealWithin(msg, lo, hi)
}

// UnsealWithin decrypts msg[lo:hi] in place and verifies sig over msg.
func (g spnegoGate) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	if err := g.ready(); err != nil {
		return err
	}
	return g.sec.UnsealWithin(msg, lo, hi, sig)
}
