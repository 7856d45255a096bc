package dcerpc

import "fmt"

// protectedRanges returns the MS-RPCE byte ranges of a request or response
// fragment that carries a verifier: msg (everything but the auth_value),
// the stub-plus-padding bounds lo:hi within it, and the auth_value.
func protectedRanges(raw []byte, p PDU) (msg []byte, lo, hi int, sig []byte) {
	h := p.Hdr()
	sigOff := int(h.FragLength) - int(h.AuthLength)
	return raw[:sigOff], HeaderLen + fixedBody(p), sigOff - authTrailerLen, raw[sigOff:h.FragLength]
}

// protect signs or seals an encoded fragment in place.
func protect(pp PDUProtector, level AuthLevel, raw []byte, p PDU) error {
	msg, lo, hi, sig := protectedRanges(raw, p)
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
func unprotect(pp PDUProtector, level AuthLevel, raw []byte, p PDU) error {
	msg, lo, hi, sig := protectedRanges(raw, p)
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
