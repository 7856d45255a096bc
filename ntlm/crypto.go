package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"strings"

	//lint:ignore SA1019 NTLM is defined over MD4 (the NT hash); there is no choice.
	"golang.org/x/crypto/md4"
)

// NTHash returns NTOWFv1 of password: MD4 over its UTF-16LE encoding
// (MS-NLMP 3.3.1). It is what the accounts file's nt_hash holds.
func NTHash(password string) [16]byte {
	h := md4.New()
	h.Write(encodeUTF16(password))
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// NTOWFv2 returns the NTLMv2 response key for a user and domain exactly as
// given: HMAC-MD5 keyed with the NT hash over UTF-16LE(upper(user) +
// domain) (MS-NLMP 3.3.2). Only the user name is upper-cased.
func NTOWFv2(ntHash [16]byte, user, domain string) [16]byte {
	var out [16]byte
	hmacMD5(out[:0], ntHash[:], encodeUTF16(strings.ToUpper(user)), encodeUTF16(domain))
	return out
}

func hmacMD5(dst, key []byte, parts ...[]byte) []byte {
	h := hmac.New(md5.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(dst)
}

// rc4K encrypts (or decrypts) src with a fresh RC4 keyed by key.
func rc4K(key, src []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		// Only a key of length 0 or > 256 fails; ours are 16 bytes.
		panic("ntlm: rc4 key: " + err.Error())
	}
	out := make([]byte, len(src))
	c.XORKeyStream(out, src)
	return out
}

// The constants of SIGNKEY and SEALKEY (MS-NLMP 3.4.5.2, 3.4.5.3), with
// their terminating NUL.
const (
	clientSignMagic = "session key to client-to-server signing key magic constant\x00"
	serverSignMagic = "session key to server-to-client signing key magic constant\x00"
	clientSealMagic = "session key to client-to-server sealing key magic constant\x00"
	serverSealMagic = "session key to server-to-client sealing key magic constant\x00"
)

// signKey is SIGNKEY with extended session security.
func signKey(exported []byte, client bool) []byte {
	if client {
		return magicKey(exported, clientSignMagic)
	}
	return magicKey(exported, serverSignMagic)
}

// magicKey is MD5(key || magic), the last step of SIGNKEY and SEALKEY.
func magicKey(key []byte, magic string) []byte {
	h := md5.New()
	h.Write(key)
	h.Write([]byte(magic))
	return h.Sum(nil)
}

// sealKey is SEALKEY with extended session security: the exported key cut
// to 5, 7 or 16 bytes by the negotiated strength, then MD5 with the magic.
func sealKey(flags NegotiateFlags, exported []byte, client bool) []byte {
	k := exported
	switch {
	case flags.Has(Flag128):
	case flags.Has(Flag56):
		k = k[:7]
	default:
		k = k[:5]
	}
	if client {
		return magicKey(k, clientSealMagic)
	}
	return magicKey(k, serverSealMagic)
}
