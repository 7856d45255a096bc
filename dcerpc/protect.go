package dcerpc

import (
	"fmt"

	"github.com/netsession/netsession/auth"
)

// protectedRanges returns the MS-RPCE byte ranges of a request or response
// fragment that carries a verifier: msg (everything but the auth_value),
// the stub-plus-padding bounds lo:hi within it, and the auth_value.
func protectedRanges(raw []byte, p PDU) (msg []byte, lo, hi int, sig []byte) {
	h := p.Hdr()
	sigOff := int(h.FragLength) - int(h.AuthLength)
	return raw[:sigOff], HeaderLen + fixedBody(p), sigOff - authTrailerLen, raw[sigOff:h.FragLength]
}

// gssWrapSize reports whether pp protects the GSS-API way
// (auth.GSSStyle) and the size of its sealing signature.
func gssWrapSize(pp PDUProtector) (int, bool) {
	if s, ok := pp.(auth.GSSStyle); ok {
		return s.GSSWrapSize()
	}
	return 0, false
}

// sigSize is the size of the verifier pp makes at level: a GSS-API
// context's wrap token is larger than its MIC token.
func sigSize(pp PDUProtector, level AuthLevel) int {
	if level == AuthLevelPrivacy {
		if n, ok := gssWrapSize(pp); ok {
			return n
		}
	}
	return pp.SignatureSize()
}

// coveredRanges narrows the ranges of protectedRanges to the stub and its
// padding for a GSS-API context without header signing (MS-RPCE
// 3.3.1.5.2.2); NTLMSSP covers the whole PDU either way.
func coveredRanges(pp PDUProtector, hdrSign bool, raw []byte, p PDU) (msg []byte, lo, hi int, sig []byte) {
	msg, lo, hi, sig = protectedRanges(raw, p)
	if _, gss := gssWrapSize(pp); gss && !hdrSign {
		msg, lo, hi = msg[lo:hi], 0, hi-lo
	}
	return msg, lo, hi, sig
}

// protect signs or seals an encoded fragment in place; hdrSign is whether
// header signing was negotiated.
func protect(pp PDUProtector, level AuthLevel, hdrSign bool, raw []byte, p PDU) error {
	msg, lo, hi, sig := coveredRanges(pp, hdrSign, raw, p)
	var s []byte
	var err error
	if level == AuthLevelPrivacy {
		s, err = pp.SealWithin(msg, lo, hi)
	} else {
		s, err = pp.Sign(msg)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if len(s) != len(sig) {
		return fmt.Errorf("%w: signature of %d octets, announced %d", ErrAuth, len(s), len(sig))
	}
	copy(sig, s)
	return nil
}

// unprotect verifies or unseals a received fragment in place.
func unprotect(pp PDUProtector, level AuthLevel, hdrSign bool, raw []byte, p PDU) error {
	msg, lo, hi, sig := coveredRanges(pp, hdrSign, raw, p)
	var err error
	if level == AuthLevelPrivacy {
		err = pp.UnsealWithin(msg, lo, hi, sig)
	} else {
		err = pp.Verify(msg, sig)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return nil
}
