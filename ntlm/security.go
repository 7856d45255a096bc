package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"sync"
)

// SignatureSize is the size of an NTLMSSP_MESSAGE_SIGNATURE.
const SignatureSize = 16

// Role says which end of a context a Security serves.
type Role int

// The two roles.
const (
	RoleClient Role = iota // initiator: sends with the client-to-server keys
	RoleServer             // acceptor: sends with the server-to-client keys
)

// Security is NTLM session security with extended session security
// (MS-NLMP 3.4): HMAC-MD5 signatures with a sequence number per
// direction, and RC4 sealing with one continuous key stream per direction.
// The same RC4 stream encrypts sealed data and then the checksum of each
// signature when key exchange was negotiated.
//
// The send direction (Sign, Seal) and the receive direction (Verify,
// Unseal) each have their own lock, so one goroutine may send while
// another receives. A failed Verify or Unseal leaves the receive direction
// unusable (the RC4 stream and the peer's sequence numbers can no longer
// agree): every later receive call fails with ErrBadSignature.
type Security struct {
	flags NegotiateFlags
	key   []byte // exported session key

	send, recv direction
}

type direction struct {
	mu      sync.Mutex
	signKey []byte
	sealKey []byte
	rc4     *rc4.Cipher
	seq     uint32
	broken  bool
}

// NewSecurity returns session security for role over an exported session
// key and the negotiated flags. Extended session security must have been
// negotiated when signing or sealing was.
func NewSecurity(exportedKey []byte, flags NegotiateFlags, role Role) (*Security, error) {
	if len(exportedKey) != 16 {
		return nil, fmt.Errorf("%w: session key of %d bytes", ErrUnsupported, len(exportedKey))
	}
	if flags&flagsSignOrSeal != 0 && !flags.Has(FlagExtendedSessionSecurity) {
		return nil, fmt.Errorf("%w: signing without extended session security", ErrUnsupported)
	}
	s := &Security{flags: flags, key: append([]byte(nil), exportedKey...)}
	client := role == RoleClient
	s.send.signKey = signKey(exportedKey, client)
	s.recv.signKey = signKey(exportedKey, !client)
	s.send.sealKey = sealKey(flags, exportedKey, client)
	s.recv.sealKey = sealKey(flags, exportedKey, !client)
	s.ResetRC4()
	return s, nil
}

// SessionKey returns a copy of the exported session key.
func (s *Security) SessionKey() []byte { return append([]byte(nil), s.key...) }

// Flags returns the negotiated flags.
func (s *Security) Flags() NegotiateFlags { return s.flags }

// ResetRC4 restarts both RC4 key streams from the sealing keys and keeps
// the sequence numbers. SPNEGO does this after the mechListMIC exchange
// (MS-SPNG 3.3.5.1), so that the first message of the application is
// processed with the same RC4 state as the mechListMIC was.
func (s *Security) ResetRC4() {
	for _, d := range []*direction{&s.send, &s.recv} {
		d.mu.Lock()
		c, err := rc4.NewCipher(d.sealKey)
		if err != nil {
			panic("ntlm: rc4 key: " + err.Error()) // 16-byte key: cannot fail
		}
		d.rc4 = c
		d.mu.Unlock()
	}
}

// mac computes MAC() of MS-NLMP 3.4.4.2 over the concatenation of parts
// with sequence number seq, and advances d's RC4 stream by 8 bytes when
// key exchange was negotiated.
func (s *Security) mac(d *direction, seq uint32, parts ...[]byte) [SignatureSize]byte {
	var seqb [4]byte
	binary.LittleEndian.PutUint32(seqb[:], seq)
	h := hmac.New(md5.New, d.signKey)
	h.Write(seqb[:])
	for _, p := range parts {
		h.Write(p)
	}
	sum := h.Sum(nil)
	var sig [SignatureSize]byte
	binary.LittleEndian.PutUint32(sig[0:], 1)
	copy(sig[4:12], sum[:8])
	if s.flags.Has(FlagKeyExch) {
		d.rc4.XORKeyStream(sig[4:12], sig[4:12])
	}
	binary.LittleEndian.PutUint32(sig[12:], seq)
	return sig
}

func (s *Security) canSign() error {
	if s.flags&flagsSignOrSeal == 0 {
		return fmt.Errorf("%w: signing", ErrNotNegotiated)
	}
	return nil
}

// Sign returns the signature of msg with the next send sequence number.
func (s *Security) Sign(msg []byte) ([]byte, error) {
	if err := s.canSign(); err != nil {
		return nil, err
	}
	d := &s.send
	d.mu.Lock()
	defer d.mu.Unlock()
	sig := s.mac(d, d.seq, msg)
	d.seq++
	return sig[:], nil
}

// Verify checks sig against msg with the next receive sequence number.
func (s *Security) Verify(msg, sig []byte) error {
	if err := s.canSign(); err != nil {
		return err
	}
	return s.verifyRecv(msg, sig, nil)
}

// verifyRecv checks sig over msg with the next receive sequence number,
// after decrypt (if any) has run under the same lock; a failure breaks
// the receive direction for good.
func (s *Security) verifyRecv(msg, sig []byte, decrypt func(d *direction)) error {
	d := &s.recv
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken {
		return fmt.Errorf("%w: receive direction already failed", ErrBadSignature)
	}
	if decrypt != nil {
		decrypt(d)
	}
	want := s.mac(d, d.seq, msg)
	d.seq++
	if len(sig) != SignatureSize || subtle.ConstantTimeCompare(want[:], sig) != 1 {
		d.broken = true
		return ErrBadSignature
	}
	return nil
}

// Seal encrypts msg in place and returns its signature.
func (s *Security) Seal(msg []byte) ([]byte, error) { return s.SealWithin(msg, 0, len(msg)) }

// SealWithin signs all of msg and encrypts msg[lo:hi] in place: the form
// DCE/RPC packet privacy needs (MS-RPCE 2.2.2.11), where the signature
// covers the whole PDU up to the auth value and only the stub and its
// padding are encrypted. The signature is computed over the plaintext.
func (s *Security) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	if !s.flags.Has(FlagSeal) {
		return nil, fmt.Errorf("%w: sealing", ErrNotNegotiated)
	}
	if lo < 0 || hi < lo || hi > len(msg) {
		return nil, fmt.Errorf("ntlm: seal range [%d:%d] outside a %d-byte message", lo, hi, len(msg))
	}
	d := &s.send
	d.mu.Lock()
	defer d.mu.Unlock()
	// The checksum is over the plaintext, but RC4 encrypts the data
	// before the checksum: compute the HMAC first, then run the stream.
	var seqb [4]byte
	binary.LittleEndian.PutUint32(seqb[:], d.seq)
	h := hmac.New(md5.New, d.signKey)
	h.Write(seqb[:])
	h.Write(msg)
	sum := h.Sum(nil)
	d.rc4.XORKeyStream(msg[lo:hi], msg[lo:hi])
	sig := make([]byte, SignatureSize)
	binary.LittleEndian.PutUint32(sig[0:], 1)
	copy(sig[4:12], sum[:8])
	if s.flags.Has(FlagKeyExch) {
		d.rc4.XORKeyStream(sig[4:12], sig[4:12])
	}
	binary.LittleEndian.PutUint32(sig[12:], d.seq)
	d.seq++
	return sig, nil
}

// Unseal decrypts msg in place and checks its signature.
func (s *Security) Unseal(msg, sig []byte) error { return s.UnsealWithin(msg, 0, len(msg), sig) }

// UnsealWithin decrypts msg[lo:hi] in place and checks sig over all of msg,
// the inverse of SealWithin.
func (s *Security) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	if !s.flags.Has(FlagSeal) {
		return fmt.Errorf("%w: sealing", ErrNotNegotiated)
	}
	if lo < 0 || hi < lo || hi > len(msg) {
		return fmt.Errorf("ntlm: unseal range [%d:%d] outside a %d-byte message", lo, hi, len(msg))
	}
	return s.verifyRecv(msg, sig, func(d *direction) { d.rc4.XORKeyStream(msg[lo:hi], msg[lo:hi]) })
}
