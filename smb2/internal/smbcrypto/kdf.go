package smbcrypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// KDF is the SP800-108 key derivation function in counter mode with
// HMAC-SHA256 as the PRF, r = 32, as SMB 3.x uses it: the output is the
// first bits/8 bytes of HMAC(key, i || label || 0x00 || context || L), i
// counting from 1, L = bits, both big-endian 32-bit. SMB asks for 128 or
// 256 bits, one or two blocks... one block suffices for up to 256.
func KDF(key, label, context []byte, bits int) []byte {
	out := make([]byte, 0, bits/8+sha256.Size)
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(bits))
	for i := uint32(1); len(out) < bits/8; i++ {
		h := hmac.New(sha256.New, key)
		var ib [4]byte
		binary.BigEndian.PutUint32(ib[:], i)
		h.Write(ib[:])
		h.Write(label)
		h.Write([]byte{0})
		h.Write(context)
		h.Write(l[:])
		out = h.Sum(out)
	}
	return out[:bits/8]
}

// Labels and contexts of the SMB 3.0 and 3.0.2 keys (MS-SMB2 3.2.5.3.1,
// 3.3.5.5.3). Each includes its terminating NUL.
var (
	label30Signing = []byte("SMB2AESCMAC\x00")
	ctx30Signing   = []byte("SmbSign\x00")
	label30App     = []byte("SMB2APP\x00")
	ctx30App       = []byte("SmbRpc\x00")
	label30Enc     = []byte("SMB2AESCCM\x00")
	ctx30C2S       = []byte("ServerIn \x00")
	ctx30S2C       = []byte("ServerOut\x00")

	label311Signing = []byte("SMBSigningKey\x00")
	label311App     = []byte("SMBAppKey\x00")
	label311C2S     = []byte("SMBC2SCipherKey\x00")
	label311S2C     = []byte("SMBS2CCipherKey\x00")
)

// Keys are the keys of one session.
type Keys struct {
	Signing     []byte
	Application []byte
	// ClientToServer and ServerToClient are the encryption keys (the
	// server decrypts with the first and encrypts with the second).
	ClientToServer, ServerToClient []byte
}

// SessionKey16 returns MS-SMB2's Session.SessionKey of an
// authentication's full session key: its first 16 bytes, right-padded with
// zeros when it is shorter.
func SessionKey16(full []byte) []byte {
	k := make([]byte, 16)
	copy(k, full)
	return k
}

// DeriveKeys derives a session's keys from the authentication's session
// key (the first 16 bytes of it, right-padded with zeros). Dialects 2.0.2 and 2.1 sign with the
// session key itself and have no other keys; 3.0 and 3.0.2 use fixed
// contexts; 3.1.1 uses the session's pre-authentication hash as context.
func DeriveKeys(dialect uint16, sessionKey []byte, preauth []byte) Keys {
	k := SessionKey16(sessionKey)
	switch {
	case dialect < wire.Dialect300:
		return Keys{Signing: append([]byte(nil), k...)}
	case dialect == wire.Dialect311:
		return Keys{
			Signing:        KDF(k, label311Signing, preauth, 128),
			Application:    KDF(k, label311App, preauth, 128),
			ClientToServer: KDF(k, label311C2S, preauth, 128),
			ServerToClient: KDF(k, label311S2C, preauth, 128),
		}
	default:
		return Keys{
			Signing:        KDF(k, label30Signing, ctx30Signing, 128),
			Application:    KDF(k, label30App, ctx30App, 128),
			ClientToServer: KDF(k, label30Enc, ctx30C2S, 128),
			ServerToClient: KDF(k, label30Enc, ctx30S2C, 128),
		}
	}
}

// PreauthSize is the size of a SHA-512 pre-authentication hash value.
const PreauthSize = sha512.Size

// PreauthUpdate returns SHA-512(prev || msg): one step of the SMB 3.1.1
// pre-authentication integrity chain (MS-SMB2 3.3.5.4, 3.3.5.5). The
// chain starts from 64 zero bytes.
func PreauthUpdate(prev [PreauthSize]byte, msg []byte) [PreauthSize]byte {
	h := sha512.New()
	h.Write(prev[:])
	h.Write(msg)
	var out [PreauthSize]byte
	h.Sum(out[:0])
	return out
}
