package krb5

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

// RFC 4121 section 4.2.6.1: the MIC token's header and flags, and the key
// usages of its checksum (section 2).
const (
	micHeaderLen = 16

	micFlagSentByAcceptor = 0x01 // (0x02, Sealed, is for Wrap tokens only)
	micFlagAcceptorSubkey = 0x04

	usageAcceptorSign  = 23 // KG-USAGE-ACCEPTOR-SIGN
	usageInitiatorSign = 25 // KG-USAGE-INITIATOR-SIGN
)

// ErrMIC: a MIC token does not decode, is not the peer's, carries another
// sequence number than the one due, or its checksum does not verify.
var ErrMIC = errors.New("krb5: MIC token does not verify")

// micState is what an established context needs for RFC 4121 MIC tokens
// (SPNEGO's mechListMIC): the context key, whether it is the acceptor's
// subkey (the AcceptorSubkey flag), this side's role and the sequence
// numbers each side starts from (the authenticator's and the AP-REP's).
type micState struct {
	key            types.EncryptionKey
	acceptorSubkey bool
	acceptor       bool
	sendSeq        uint64
	recvSeq        uint64
}

// micCapable reports whether key's type has RFC 4121 tokens: the AES
// types. RC4-HMAC (RFC 4757) and DES keep the older token format, which
// this package does not make.
func micCapable(keyType int32) bool {
	switch keyType {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192:
		return true
	}
	return false
}

func (m *micState) flags(fromAcceptor bool) byte {
	var f byte
	if fromAcceptor {
		f |= micFlagSentByAcceptor
	}
	if m.acceptorSubkey {
		f |= micFlagAcceptorSubkey
	}
	return f
}

func usageOf(fromAcceptor bool) uint32 {
	if fromAcceptor {
		return usageAcceptorSign
	}
	return usageInitiatorSign
}

// micHeader is the token's first 16 bytes: TOK_ID 04 04, the flags, five
// filler bytes 0xFF and the 64-bit sequence number.
func micHeader(flags byte, seq uint64) []byte {
	h := make([]byte, micHeaderLen, micHeaderLen+24)
	h[0], h[1], h[2] = 0x04, 0x04, flags
	copy(h[3:8], []byte{0xff, 0xff, 0xff, 0xff, 0xff})
	binary.BigEndian.PutUint64(h[8:], seq)
	return h
}

// micChecksum is the keyed checksum over msg followed by the header.
func micChecksum(key types.EncryptionKey, usage uint32, msg, header []byte) ([]byte, error) {
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("%w: key type %d", ErrMIC, key.KeyType)
	}
	data := make([]byte, 0, len(msg)+len(header))
	data = append(append(data, msg...), header...)
	return et.GetChecksumHash(key.KeyValue, data, usage)
}

// getMIC returns this side's next MIC token over msg.
func (m *micState) getMIC(msg []byte) ([]byte, error) {
	if !micCapable(m.key.KeyType) {
		return nil, fmt.Errorf("%w: no MIC tokens for key type %d", ErrMIC, m.key.KeyType)
	}
	h := micHeader(m.flags(m.acceptor), m.sendSeq)
	sum, err := micChecksum(m.key, usageOf(m.acceptor), msg, h)
	if err != nil {
		return nil, err
	}
	m.sendSeq++
	return append(h, sum...), nil
}

// verifyMIC checks the peer's next MIC token over msg.
func (m *micState) verifyMIC(msg, tok []byte) error {
	fromAcceptor := !m.acceptor
	f, seq, sum, err := parseMICToken(tok)
	if err != nil {
		return err
	}
	if !micCapable(m.key.KeyType) {
		return fmt.Errorf("%w: no MIC tokens for key type %d", ErrMIC, m.key.KeyType)
	}
	if want := m.flags(fromAcceptor); f != want {
		return fmt.Errorf("%w: flags %#02x, want %#02x", ErrMIC, f, want)
	}
	if seq != m.recvSeq {
		return fmt.Errorf("%w: sequence number %d, want %d", ErrMIC, seq, m.recvSeq)
	}
	want, err := micChecksum(m.key, usageOf(fromAcceptor), msg, tok[:micHeaderLen])
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, sum) != 1 {
		return fmt.Errorf("%w: checksum", ErrMIC)
	}
	m.recvSeq++
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
	if tok[2]&^(micFlagSentByAcceptor|micFlagAcceptorSubkey) != 0 {
		return 0, 0, nil, fmt.Errorf("%w: flags %#02x", ErrMIC, tok[2])
	}
	return tok[2], binary.BigEndian.Uint64(tok[8:16]), tok[micHeaderLen:], nil
}
