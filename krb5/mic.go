package krb5

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// This file is the MIC tokens of RFC 4121 section 4.2.6.1 (what SPNEGO's
// mechListMIC is made of), for the contexts that have Wrap tokens: the
// same keys, flags and sequence numbers.

// micHeaderLen is the length of a MIC token's header: TOK_ID (04 04),
// flags, five filler bytes (FF) and the 64-bit sequence number.
const micHeaderLen = 16

// ErrMIC: a MIC token does not decode, is not the peer's, carries another
// sequence number than the one due (then it is also ErrSequence), or its
// checksum does not verify.
var ErrMIC = errors.New("krb5: MIC token does not verify")

// micCapable reports whether contexts with a key of this type have RFC
// 4121 tokens here: AES-128 and AES-256. RC4-HMAC (RFC 4757) and DES keep
// the older token format, which this package does not make.
func micCapable(keyType int32) bool { return keyType == ETypeAES128 || keyType == ETypeAES256 }

// micHeader returns a MIC token header with room for the checksum.
func (w *Wrapper) micHeader(fromAcceptor bool, seq uint64) []byte {
	h := make([]byte, micHeaderLen, micHeaderLen+w.et.GetHMACBitLength()/8)
	h[0], h[1] = 0x04, 0x04
	if fromAcceptor {
		h[2] |= wrapSentByAcceptor
	}
	if w.subkey {
		h[2] |= wrapAcceptorSubkey
	}
	copy(h[3:8], []byte{0xff, 0xff, 0xff, 0xff, 0xff})
	binary.BigEndian.PutUint64(h[8:], seq)
	return h
}

// MIC returns this side's next MIC token over msg: the keyed checksum of
// msg followed by the token's header. It takes a sequence number, as Wrap
// does.
func (w *Wrapper) MIC(msg []byte) ([]byte, error) {
	w.smu.Lock()
	defer w.smu.Unlock()
	h := w.micHeader(!w.initiator, w.sendSeq)
	sum, err := w.et.GetChecksumHash(w.key, append(append(make([]byte, 0, len(msg)+micHeaderLen), msg...), h...), w.usage(false, true))
	if err != nil {
		return nil, fmt.Errorf("krb5: MIC: %w", err)
	}
	w.sendSeq++
	return append(h, sum...), nil
}

// VerifyMIC checks the peer's next MIC token over msg: the peer's flag,
// the key's (acceptor subkey or not), the sequence number due and the
// checksum. A failed token does not advance the sequence.
func (w *Wrapper) VerifyMIC(msg, tok []byte) error {
	flags, seq, sum, err := parseMICToken(tok)
	if err != nil {
		return err
	}
	if want := w.micHeader(w.initiator, seq)[2]; flags != want {
		return fmt.Errorf("%w: flags %#02x, want %#02x", ErrMIC, flags, want)
	}
	want, err := w.et.GetChecksumHash(w.key, append(append(make([]byte, 0, len(msg)+micHeaderLen), msg...), tok[:micHeaderLen]...), w.usage(false, false))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMIC, err)
	}
	if subtle.ConstantTimeCompare(want, sum) != 1 {
		return fmt.Errorf("%w: checksum", ErrMIC)
	}
	w.rmu.Lock()
	defer w.rmu.Unlock()
	if seq != w.recvSeq {
		return fmt.Errorf("%w: %w: sequence number %d, want %d", ErrMIC, ErrSequence, seq, w.recvSeq)
	}
	w.recvSeq++
	return nil
}

// parseMICToken decodes an RFC 4121 MIC token into its flags, sequence
// number and checksum (which aliases tok).
func parseMICToken(tok []byte) (flags byte, seq uint64, sum []byte, err error) {
	if len(tok) <= micHeaderLen || len(tok) > micHeaderLen+64 {
		return 0, 0, nil, fmt.Errorf("%w: MIC token of %d bytes", ErrMIC, len(tok))
	}
	if tok[0] != 0x04 || tok[1] != 0x04 {
		return 0, 0, nil, fmt.Errorf("%w: token id %#02x%02x, want 0404", ErrMIC, tok[0], tok[1])
	}
	for _, b := range tok[3:8] {
		if b != 0xff {
			return 0, 0, nil, fmt.Errorf("%w: filler % x", ErrMIC, tok[3:8])
		}
	}
	if tok[2]&^(wrapSentByAcceptor|wrapAcceptorSubkey) != 0 {
		return 0, 0, nil, fmt.Errorf("%w: flags %#02x", ErrMIC, tok[2])
	}
	return tok[2], binary.BigEndian.Uint64(tok[8:16]), tok[micHeaderLen:], nil
}
