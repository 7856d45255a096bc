package spnego

import (
	"encoding/asn1"

	"github.com/netsession/netsession/auth"
)

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
		if auth.MechanismOf(o) != auth.MechSPNEGO {
			return nil, malformed(what, "initial token for mechanism %v, not SPNEGO", o)
		}
		b = rest
	}
	m := &NegTokenInit{}
	err := readFields(what, b, 0xa0, 4, func(n int, f tlv) error {
		switch n {
		case 0:
			list, err := readOnly(what, f.body, 0x30)
			if err != nil {
				return err
			}
			m.RawMechTypes = list.full
			for r := list.body; len(r) > 0; {
				var o tlv
				if o, r, err = readTLV(what, r); err != nil {
					return err
				}
				if o.tag != 0x06 {
					return malformed(what, "mechTypes holds tag 0x%02x", o.tag)
				}
				if len(m.MechTypes) == spnegoMaxMechs {
					return malformed(what, "more than %d mechTypes", spnegoMaxMechs)
				}
				oid, err := parseOID(what, o.full)
				if err != nil {
					return err
				}
				m.MechTypes = append(m.MechTypes, oid)
			}
		case 1: // reqFlags: ignored, as MS-SPNG allows
		case 2:
			tok, err := readOnly(what, f.body, 0x04)
			if err != nil {
				return err
			}
			m.MechToken = tok.body
		case 3, 4:
			inner, _, err := readTLV(what, f.body)
			if err != nil {
				return err
			}
			if inner.tag == 0x30 && n == 3 { // NegTokenInit2 negHints: ignored
				return nil
			}
			tok, err := readOnly(what, f.body, 0x04)
			if err != nil {
				return err
			}
			m.MechListMIC = tok.body
		}
		return nil
	})
	if err != nil {
		return nil, err
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
	return tlvBytes(0x60, []byte(oidSPNEGO), tlvBytes(0xa0, tlvBytes(0x30, fields)))
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
	m := &NegTokenResp{NegState: NegStateAbsent}
	err := readFields(what, b, 0xa1, 3, func(n int, f tlv) error {
		switch n {
		case 0:
			e, err := readOnly(what, f.body, 0x0a)
			if err != nil {
				return err
			}
			if len(e.body) != 1 || e.body[0] > 3 {
				return malformed(what, "negState % x", e.body)
			}
			m.NegState = NegState(e.body[0])
		case 1:
			if _, err := readOnly(what, f.body, 0x06); err != nil {
				return err
			}
			oid, err := parseOID(what, f.body)
			if err != nil {
				return err
			}
			m.SupportedMech = oid
		case 2, 3:
			tok, err := readOnly(what, f.body, 0x04)
			if err != nil {
				return err
			}
			if n == 2 {
				m.ResponseToken = tok.body
			} else {
				m.MechListMIC = tok.body
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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

// oidSPNEGO is the DER encoding of 1.3.6.1.5.5.2, which opens every
// InitialContextToken (a constant, so that no caller can modify it).
const oidSPNEGO = "\x06\x06\x2b\x06\x01\x05\x05\x02"
