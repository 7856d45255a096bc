package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
)

// Signing algorithm identifiers (SMB2_SIGNING_CAPABILITIES, MS-SMB2
// 2.2.3.1.7).
const (
	AlgHMACSHA256 uint16 = 0x0000
	AlgAESCMAC    uint16 = 0x0001
	AlgAESGMAC    uint16 = 0x0002
)

// Offsets in the SMB2 header that signing needs.
const (
	offFlags     = 16
	offMessageID = 24
	offSignature = 48
	headerSize   = 64

	flagServerToRedir = 0x00000001
	flagSigned        = 0x00000008
	cmdCancel         = 0x000C
	offCommand        = 12
)

// ErrSignature is returned by Verify for a message whose signature does not
// match.
var ErrSignature = errors.New("smb2: bad message signature")

// ErrShort is returned for a message shorter than an SMB2 header.
var ErrShort = errors.New("smb2: message shorter than its header")

// Signer signs and verifies SMB2 messages with one key and algorithm. It is
// safe for concurrent use.
type Signer struct {
	alg uint16
	mu  sync.Mutex
	mac hash.Hash // HMAC-SHA256
	cm  *CMAC
	gcm cipher.AEAD
	// scratch holds the MAC's output and the GMAC nonce under mu: slices
	// of locals handed to the hash and AEAD interfaces would be allocated
	// on every message.
	scratch [32 + 12]byte
}

// NewSigner returns a signer for alg over key (16 bytes).
func NewSigner(alg uint16, key []byte) (*Signer, error) {
	s := &Signer{alg: alg}
	switch alg {
	case AlgHMACSHA256:
		s.mac = hmac.New(sha256.New, key)
	case AlgAESCMAC:
		c, err := NewCMAC(key)
		if err != nil {
			return nil, err
		}
		s.cm = c
	case AlgAESGMAC:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		s.gcm = g
	default:
		return nil, errors.New("smb2: unknown signing algorithm")
	}
	return s, nil
}

// Algorithm returns the signing algorithm.
func (s *Signer) Algorithm() uint16 { return s.alg }

// compute returns the signature of msg, whose signature field must be zero.
func (s *Signer) compute(msg []byte) [16]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sig [16]byte
	switch s.alg {
	case AlgHMACSHA256:
		s.mac.Reset()
		s.mac.Write(msg)
		copy(sig[:], s.mac.Sum(s.scratch[:0]))
	case AlgAESCMAC:
		sig = s.cm.Sum(msg)
	case AlgAESGMAC:
		nonce := s.scratch[32:]
		copy(nonce[:8], msg[offMessageID:offMessageID+8])
		var role uint32
		if binary.LittleEndian.Uint32(msg[offFlags:])&flagServerToRedir != 0 {
			role |= 1
		}
		if binary.LittleEndian.Uint16(msg[offCommand:]) == cmdCancel && role == 0 {
			role |= 2
		}
		binary.LittleEndian.PutUint32(nonce[8:], role)
		copy(sig[:], s.gcm.Seal(s.scratch[:0], nonce, nil, msg))
	}
	return sig
}

// Sign sets SMB2_FLAGS_SIGNED and writes the signature into msg's header.
func (s *Signer) Sign(msg []byte) error {
	if len(msg) < headerSize {
		return ErrShort
	}
	flags := binary.LittleEndian.Uint32(msg[offFlags:])
	binary.LittleEndian.PutUint32(msg[offFlags:], flags|flagSigned)
	clear(msg[offSignature : offSignature+16])
	sig := s.compute(msg)
	copy(msg[offSignature:], sig[:])
	return nil
}

// Verify checks the signature in msg's header. msg is restored afterwards.
func (s *Signer) Verify(msg []byte) error {
	if len(msg) < headerSize {
		return ErrShort
	}
	var got [16]byte
	copy(got[:], msg[offSignature:])
	clear(msg[offSignature : offSignature+16])
	want := s.compute(msg)
	copy(msg[offSignature:], got[:])
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ErrSignature
	}
	return nil
}
