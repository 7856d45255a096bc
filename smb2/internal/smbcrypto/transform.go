package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// Cipher identifiers of SMB2_ENCRYPTION_CAPABILITIES (MS-SMB2 2.2.3.1.2).
const (
	CipherAES128CCM uint16 = 0x0001
	CipherAES128GCM uint16 = 0x0002
	CipherAES256CCM uint16 = 0x0003
	CipherAES256GCM uint16 = 0x0004
)

// CipherName names a cipher identifier for logs.
func CipherName(id uint16) string {
	switch id {
	case CipherAES128CCM:
		return "AES-128-CCM"
	case CipherAES128GCM:
		return "AES-128-GCM"
	case CipherAES256CCM:
		return "AES-256-CCM"
	case CipherAES256GCM:
		return "AES-256-GCM"
	}
	return fmt.Sprintf("cipher-%#04x", id)
}

// CipherKeyBits is the key size of a cipher in bits, 0 for an unknown
// identifier.
func CipherKeyBits(id uint16) int {
	switch id {
	case CipherAES128CCM, CipherAES128GCM:
		return 128
	case CipherAES256CCM, CipherAES256GCM:
		return 256
	}
	return 0
}

// NewCipher returns the AEAD of a cipher identifier with SMB's
// parameters: a 16-byte tag, and an 11-byte nonce for CCM or a 12-byte one
// for GCM.
func NewCipher(id uint16, key []byte) (cipher.AEAD, error) {
	bits := CipherKeyBits(id)
	if bits == 0 {
		return nil, fmt.Errorf("smbcrypto: unknown cipher %#04x", id)
	}
	if len(key)*8 != bits {
		return nil, fmt.Errorf("smbcrypto: %s needs a %d-bit key, not %d", CipherName(id), bits, len(key)*8)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if id == CipherAES128GCM || id == CipherAES256GCM {
		return cipher.NewGCM(b)
	}
	return NewCCM(b, 11, 16)
}

// CipherKeys derives a session's encryption keys for a cipher: the key
// the client encrypts with (the server decrypts with it) and the key the
// server encrypts with. 3.0 and 3.0.2 use the labels "SMB2AESCCM" with
// contexts "ServerIn " and "ServerOut"; 3.1.1 uses "SMBC2SCipherKey" and
// "SMBS2CCipherKey" over the pre-authentication hash. AES-256 keys are
// 256-bit KDF outputs keyed by the whole session key; the others are keyed
// by its first 16 bytes (right-padded with zeros when it is shorter).
func CipherKeys(dialect uint16, sessionKey, preauth []byte, id uint16) (c2s, s2c []byte, err error) {
	bits := CipherKeyBits(id)
	if bits == 0 || dialect < wire.Dialect300 {
		return nil, nil, fmt.Errorf("smbcrypto: no %s keys for dialect %#04x", CipherName(id), dialect)
	}
	k := sessionKey // AES-256: the full session key
	if bits == 128 {
		k = SessionKey16(sessionKey)
	}
	if dialect == wire.Dialect311 {
		return KDF(k, label311C2S, preauth, bits), KDF(k, label311S2C, preauth, bits), nil
	}
	return KDF(k, label30Enc, ctx30C2S, bits), KDF(k, label30Enc, ctx30S2C, bits), nil
}

// ProtocolTransform starts an SMB2 TRANSFORM_HEADER.
const ProtocolTransform = "\xfdSMB"

// TransformHeaderSize is the size of an SMB2 TRANSFORM_HEADER.
const TransformHeaderSize = 52

// transformFlagEncrypted is the Flags (EncryptionAlgorithm in 3.0) value
// of an encrypted message.
const transformFlagEncrypted uint16 = 0x0001

// ErrTransform reports a malformed or unauthentic encrypted message.
var ErrTransform = errors.New("smbcrypto: bad encrypted message")

// TransformHeader is the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41) that
// precedes an encrypted message.
type TransformHeader struct {
	Signature    [16]byte // the AEAD tag
	Nonce        [16]byte // 11 (CCM) or 12 (GCM) bytes used, the rest zero
	OriginalSize uint32   // size of the plaintext message
	Flags        uint16   // 0x0001: encrypted
	SessionID    uint64
}

// ParseTransformHeader decodes the header of an encrypted message b and
// checks it against b's length: the ciphertext after the header must be
// exactly OriginalSize bytes, and the message must say it is encrypted.
func ParseTransformHeader(b []byte) (TransformHeader, error) {
	var h TransformHeader
	if len(b) < TransformHeaderSize || string(b[:4]) != ProtocolTransform {
		return h, fmt.Errorf("%w: %d bytes, no transform header", ErrTransform, len(b))
	}
	copy(h.Signature[:], b[4:20])
	copy(h.Nonce[:], b[20:36])
	h.OriginalSize = binary.LittleEndian.Uint32(b[36:])
	h.Flags = binary.LittleEndian.Uint16(b[42:])
	h.SessionID = binary.LittleEndian.Uint64(b[44:])
	if h.Flags != transformFlagEncrypted {
		return h, fmt.Errorf("%w: flags %#04x", ErrTransform, h.Flags)
	}
	if uint64(h.OriginalSize) != uint64(len(b)-TransformHeaderSize) {
		return h, fmt.Errorf("%w: original size %d with %d bytes of ciphertext", ErrTransform, h.OriginalSize, len(b)-TransformHeaderSize)
	}
	return h, nil
}

// Append appends the encoded header to b.
func (h *TransformHeader) Append(b []byte) []byte {
	b = append(b, ProtocolTransform...)
	b = append(b, h.Signature[:]...)
	b = append(b, h.Nonce[:]...)
	b = binary.LittleEndian.AppendUint32(b, h.OriginalSize)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, h.Flags)
	return binary.LittleEndian.AppendUint64(b, h.SessionID)
}

// Seal encrypts msg (one SMB2 message or a compound) for sessionID with
// aead and nonce (aead.NonceSize() bytes, which must never repeat under
// the key) and appends the transform header and ciphertext to dst. The
// authenticated data is the header from Nonce on (32 bytes); the tag goes
// in Signature.
func Seal(dst []byte, aead cipher.AEAD, nonce []byte, sessionID uint64, msg []byte) []byte {
	h := TransformHeader{OriginalSize: uint32(len(msg)), Flags: transformFlagEncrypted, SessionID: sessionID}
	copy(h.Nonce[:], nonce)
	start := len(dst)
	dst = h.Append(dst)
	aad := dst[start+20 : start+TransformHeaderSize]
	dst = aead.Seal(dst, nonce, msg, aad)
	// Move the tag from the end into Signature.
	tagAt := len(dst) - aead.Overhead()
	copy(dst[start+4:start+20], dst[tagAt:])
	return dst[:tagAt]
}

// Open authenticates and decrypts an encrypted message b whose header h
// was returned by ParseTransformHeader, with the AEAD of h.SessionID.
func Open(aead cipher.AEAD, h TransformHeader, b []byte) ([]byte, error) {
	if aead.Overhead() != len(h.Signature) || len(b) < TransformHeaderSize {
		return nil, ErrTransform
	}
	ct := make([]byte, 0, len(b)-TransformHeaderSize+len(h.Signature))
	ct = append(ct, b[TransformHeaderSize:]...)
	ct = append(ct, h.Signature[:]...)
	pt, err := aead.Open(ct[:0], h.Nonce[:aead.NonceSize()], ct, b[20:TransformHeaderSize])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTransform, err)
	}
	return pt, nil
}
