package ntlm

import (
	"crypto/des"
	"crypto/md5"
	"crypto/subtle"

	//lint:ignore SA1019 NTLM is defined over MD4 (the NT hash); there is no choice.
	"golang.org/x/crypto/md4"
)

// NTLMv1 is refused unless Server.AllowNTLMv1 is set; LM-only responses
// are always refused. When allowed, both the plain NTLMv1 response and the
// NTLMv1 response with extended session security (MS-NLMP 3.3.1) are
// verified; the LM_KEY and non-NT-session-key variants are never offered.

// desl is DESL() of MS-NLMP 6: the 16-byte key padded to 21 bytes and cut
// into three DES keys, each encrypting data.
func desl(key [16]byte, data []byte) []byte {
	var k21 [21]byte
	copy(k21[:], key[:])
	out := make([]byte, 0, 24)
	for i := 0; i < 3; i++ {
		c, err := des.NewCipher(expandDESKey(k21[7*i : 7*i+7]))
		if err != nil {
			panic("ntlm: des key: " + err.Error()) // 8-byte key: cannot fail
		}
		var block [8]byte
		c.Encrypt(block[:], data[:8])
		out = append(out, block[:]...)
	}
	return out
}

// expandDESKey spreads 56 key bits over 8 bytes, 7 bits each in the high
// bits (DES ignores the parity bit).
func expandDESKey(k []byte) []byte {
	return []byte{
		k[0] & 0xfe,
		(k[0]<<7 | k[1]>>1) & 0xfe,
		(k[1]<<6 | k[2]>>2) & 0xfe,
		(k[2]<<5 | k[3]>>3) & 0xfe,
		(k[3]<<4 | k[4]>>4) & 0xfe,
		(k[4]<<3 | k[5]>>5) & 0xfe,
		(k[5]<<2 | k[6]>>6) & 0xfe,
		k[6] << 1,
	}
}

// verifyNTLMv1 checks a 24-byte NT response and returns the key exchange
// key, or nil when the response is wrong.
func verifyNTLMv1(hash [16]byte, flags NegotiateFlags, serverChallenge [8]byte, nt, lm []byte) []byte {
	challenge := serverChallenge[:]
	if flags.Has(FlagExtendedSessionSecurity) {
		if len(lm) != 24 {
			return nil
		}
		h := md5.Sum(append(append([]byte(nil), serverChallenge[:]...), lm[:8]...))
		challenge = h[:8]
	}
	if subtle.ConstantTimeCompare(desl(hash, challenge), nt) != 1 {
		return nil
	}
	m := md4.New()
	m.Write(hash[:])
	base := m.Sum(nil)
	if flags.Has(FlagExtendedSessionSecurity) {
		return hmacMD5(nil, base, serverChallenge[:], lm[:8])
	}
	return base
}
