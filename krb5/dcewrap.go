package krb5

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
)

// Token identifiers (RFC 4121 section 4.2.6) and the layout of a
// DCE-style wrap token; key usages and flags are those of wrap.go.
const (
	tokMIC  uint16 = 0x0404
	tokWrap uint16 = 0x0504

	tokenHeaderLen = wrapHeaderLen
	// dceRRC is the right rotation count of a DCE-style wrap token: the
	// encrypted token header and the checksum move in front of the
	// data, which stays in place (MS-KILE 3.4.5.4.1).
	dceRRC = tokenHeaderLen + 12
	// dceEC is the filler a DCE-style wrap token carries, one cipher
	// block, as Windows and Heimdal send it.
	dceEC = 16
)

// dceProtector signs and seals DCE/RPC PDUs with RFC 4121 tokens the DCE
// way: MIC tokens for integrity, wrap tokens with the data encrypted in
// place for privacy, both with the acceptor's subkey. It implements
// auth.Protector and auth.GSSStyle. Only the AES-SHA1 encryption types
// (17 and 18) are supported.
type dceProtector struct {
	et        etype.EType
	initiator bool
	sendSeq   uint64
	recvSeq   uint64

	signKey, verifyKey []byte // checksum keys (Kc) of our and the peer's sign usage
	sealKe, sealKi     []byte // encryption and integrity keys of our seal usage
	openKe, openKi     []byte // the same for the peer's
}

// newDCEProtector derives the per-message keys of the acceptor subkey key.
// sendSeq and recvSeq are the initial sequence numbers of this side and
// the peer (the initiator's from its authenticator, the acceptor's from
// its AP-REP).
func newDCEProtector(keyType int32, key []byte, initiator bool, sendSeq, recvSeq uint64) (*dceProtector, error) {
	if keyType != ETypeAES128 && keyType != ETypeAES256 {
		return nil, fmt.Errorf("%w: DCE/RPC integrity and privacy need an AES session key, not type %d", ErrCredential, keyType)
	}
	et, err := crypto.GetEtype(keyType)
	if err != nil {
		return nil, err
	}
	if len(key) != et.GetKeyByteSize() {
		return nil, fmt.Errorf("%w: key of %d bytes for type %d", ErrNoSubkey, len(key), keyType)
	}
	p := &dceProtector{et: et, initiator: initiator, sendSeq: sendSeq, recvSeq: recvSeq}
	sign, verify, seal, open := uint32(usageAcceptorSign), uint32(usageInitiatorSign), uint32(usageAcceptorSeal), uint32(usageInitiatorSeal)
	if initiator {
		sign, verify, seal, open = verify, sign, open, seal
	}
	derive := func(usage []byte) []byte {
		if err != nil {
			return nil
		}
		var k []byte
		k, err = et.DeriveKey(key, usage)
		return k
	}
	p.signKey = derive(common.GetUsageKc(sign))
	p.verifyKey = derive(common.GetUsageKc(verify))
	p.sealKe, p.sealKi = derive(common.GetUsageKe(seal)), derive(common.GetUsageKi(seal))
	p.openKe, p.openKi = derive(common.GetUsageKe(open)), derive(common.GetUsageKi(open))
	if err != nil {
		return nil, fmt.Errorf("krb5: deriving per-message keys: %w", err)
	}
	return p, nil
}

func (p *dceProtector) cksumLen() int { return p.et.GetHMACBitLength() / 8 }

// ourFlags are the token flags of what this side sends.
func (p *dceProtector) ourFlags() byte {
	f := byte(wrapAcceptorSubkey)
	if !p.initiator {
		f |= wrapSentByAcceptor
	}
	return f
}

// checkFlags checks the flags of a token the peer sent: its direction and
// the acceptor subkey, the only key a DCE-style context protects with.
func (p *dceProtector) checkFlags(f byte) error {
	if (f&wrapSentByAcceptor != 0) != p.initiator {
		return fmt.Errorf("%w: token sent in the wrong direction", ErrIntegrity)
	}
	if f&wrapAcceptorSubkey == 0 {
		return fmt.Errorf("%w: token not protected with the acceptor subkey", ErrIntegrity)
	}
	return nil
}

// nextRecv checks the sequence number of the peer's token.
func (p *dceProtector) nextRecv(seq uint64) error {
	if seq != p.recvSeq {
		return fmt.Errorf("%w: sequence number %d, expected %d", ErrSequence, seq, p.recvSeq)
	}
	p.recvSeq++
	return nil
}

func (p *dceProtector) hmac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(p.et.GetHashFunc(), key)
	for _, b := range parts {
		m.Write(b)
	}
	return m.Sum(nil)[:p.cksumLen()]
}

// SignatureSize is the size of a MIC token: 16 octets of header and the
// checksum.
func (p *dceProtector) SignatureSize() int { return tokenHeaderLen + p.cksumLen() }

// GSSWrapSize is the size of the wrap token's part in the verifier: the
// header, the filler, the encrypted header copy, the checksum and the
// confounder.
func (p *dceProtector) GSSWrapSize() (int, bool) {
	return tokenHeaderLen + dceEC + tokenHeaderLen + p.cksumLen() + p.et.GetConfounderByteSize(), true
}

// Sign returns a MIC token over msg.
func (p *dceProtector) Sign(msg []byte) ([]byte, error) {
	tok := make([]byte, tokenHeaderLen, p.SignatureSize())
	binary.BigEndian.PutUint16(tok, tokMIC)
	tok[2] = p.ourFlags()
	for i := 3; i < 8; i++ {
		tok[i] = 0xff
	}
	binary.BigEndian.PutUint64(tok[8:], p.sendSeq)
	p.sendSeq++
	return append(tok, p.hmac(p.signKey, msg, tok[:tokenHeaderLen])...), nil
}

// Verify checks the peer's MIC token over msg.
func (p *dceProtector) Verify(msg, sig []byte) error {
	if len(sig) != p.SignatureSize() {
		return fmt.Errorf("%w: MIC token of %d octets", ErrMalformed, len(sig))
	}
	if binary.BigEndian.Uint16(sig) != tokMIC || subtle.ConstantTimeCompare(sig[3:8], []byte{0xff, 0xff, 0xff, 0xff, 0xff}) != 1 {
		return fmt.Errorf("%w: not a MIC token", ErrMalformed)
	}
	if err := p.checkFlags(sig[2]); err != nil {
		return err
	}
	if !hmac.Equal(sig[tokenHeaderLen:], p.hmac(p.verifyKey, msg, sig[:tokenHeaderLen])) {
		return fmt.Errorf("%w: MIC token does not verify", ErrIntegrity)
	}
	return p.nextRecv(binary.BigEndian.Uint64(sig[8:]))
}

// SealWithin encrypts msg[lo:hi] in place with a DCE-style wrap token and
// returns the token without the data: header, encrypted filler and header
// copy, checksum, encrypted confounder. The checksum covers msg[:lo] and
// msg[hi:] too (the PDU header and sec_trailer under header signing).
func (p *dceProtector) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	return p.seal(msg, lo, hi, dceEC)
}

// seal is SealWithin with ec octets of filler.
func (p *dceProtector) seal(msg []byte, lo, hi, ec int) ([]byte, error) {
	if lo < 0 || lo > hi || hi > len(msg) {
		return nil, fmt.Errorf("krb5: seal range %d:%d of %d octets", lo, hi, len(msg))
	}
	conf := p.et.GetConfounderByteSize()
	hdr := make([]byte, tokenHeaderLen)
	binary.BigEndian.PutUint16(hdr, tokWrap)
	hdr[2] = p.ourFlags() | wrapSealed
	hdr[3] = 0xff
	binary.BigEndian.PutUint16(hdr[4:], uint16(ec))
	binary.BigEndian.PutUint64(hdr[8:], p.sendSeq) // RRC is 0 while encrypting

	data := msg[lo:hi]
	n := len(data)
	plain := make([]byte, conf+n+ec+tokenHeaderLen)
	if _, err := rand.Read(plain[:conf]); err != nil {
		return nil, err
	}
	copy(plain[conf:], data)
	for i := conf + n; i < conf+n+ec; i++ {
		plain[i] = 0xff
	}
	copy(plain[conf+n+ec:], hdr)
	mac := p.hmac(p.sealKi, plain[:conf], msg[:lo], data, msg[hi:], plain[conf+n:])
	_, ct, err := p.et.EncryptData(p.sealKe, plain)
	if err != nil {
		return nil, fmt.Errorf("krb5: wrap: %w", err)
	}
	p.sendSeq++
	binary.BigEndian.PutUint16(hdr[6:], dceRRC)
	copy(data, ct[conf:conf+n])
	tok := make([]byte, 0, tokenHeaderLen+ec+tokenHeaderLen+len(mac)+conf)
	tok = append(tok, hdr...)
	tok = append(tok, ct[conf+n:]...) // filler and header copy
	tok = append(tok, mac...)
	return append(tok, ct[:conf]...), nil
}

// UnsealWithin checks the peer's DCE-style wrap token sig and decrypts
// msg[lo:hi] in place. The token's filler may be of any length (EC):
// Windows and Heimdal send 16 octets, MIT none, impacket what pads the
// data to a block.
func (p *dceProtector) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	if lo < 0 || lo > hi || hi > len(msg) {
		return fmt.Errorf("krb5: unseal range %d:%d of %d octets", lo, hi, len(msg))
	}
	if len(sig) < tokenHeaderLen {
		return fmt.Errorf("%w: wrap token of %d octets", ErrMalformed, len(sig))
	}
	hdr := sig[:tokenHeaderLen]
	if binary.BigEndian.Uint16(hdr) != tokWrap || hdr[3] != 0xff {
		return fmt.Errorf("%w: not a wrap token", ErrMalformed)
	}
	if hdr[2]&wrapSealed == 0 {
		return fmt.Errorf("%w: wrap token without confidentiality at privacy level", ErrIntegrity)
	}
	if err := p.checkFlags(hdr[2]); err != nil {
		return err
	}
	conf, ck := p.et.GetConfounderByteSize(), p.cksumLen()
	ec := int(binary.BigEndian.Uint16(hdr[4:]))
	rrc := int(binary.BigEndian.Uint16(hdr[6:]))
	// Rotated, the token is: header | filler | header copy | checksum |
	// confounder, then the data in place.
	if rrc != tokenHeaderLen+ck || len(sig) != tokenHeaderLen+ec+tokenHeaderLen+ck+conf {
		return fmt.Errorf("%w: wrap token of %d octets with EC %d and RRC %d", ErrMalformed, len(sig), ec, rrc)
	}
	data := msg[lo:hi]
	n := len(data)
	tail := sig[tokenHeaderLen : tokenHeaderLen+ec+tokenHeaderLen]
	mac := sig[tokenHeaderLen+ec+tokenHeaderLen : tokenHeaderLen+ec+tokenHeaderLen+ck]
	ct := make([]byte, 0, conf+n+len(tail))
	ct = append(ct, sig[len(sig)-conf:]...)
	ct = append(ct, data...)
	ct = append(ct, tail...)
	plain, err := p.et.DecryptData(p.openKe, ct)
	if err != nil || len(plain) != len(ct) {
		return fmt.Errorf("%w: wrap token does not decrypt", ErrIntegrity)
	}
	inner := plain[conf+n+ec:]
	if !hmac.Equal(mac, p.hmac(p.openKi, plain[:conf], msg[:lo], plain[conf:conf+n], msg[hi:], plain[conf+n:])) {
		return fmt.Errorf("%w: wrap token does not verify", ErrIntegrity)
	}
	if binary.BigEndian.Uint16(inner) != tokWrap || inner[2] != hdr[2] || inner[3] != hdr[3] ||
		binary.BigEndian.Uint16(inner[4:]) != uint16(ec) || !hmac.Equal(inner[8:], hdr[8:]) {
		return fmt.Errorf("%w: wrap token header differs from its encrypted copy", ErrIntegrity)
	}
	if err := p.nextRecv(binary.BigEndian.Uint64(hdr[8:])); err != nil {
		return err
	}
	copy(data, plain[conf:conf+n])
	return nil
}
