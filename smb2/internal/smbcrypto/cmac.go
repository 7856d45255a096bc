// Package smbcrypto holds the cryptography SMB 2 and 3 sign with and derive
// keys by: AES-CMAC (RFC 4493), the SP800-108 counter-mode KDF with
// HMAC-SHA256, the three signing algorithms and the SMB 3.1.1
// pre-authentication integrity hash.
package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// CMAC computes AES-CMAC (RFC 4493) with a 128, 192 or 256-bit AES key.
// A CMAC is not safe for concurrent use.
type CMAC struct {
	block  cipher.Block
	k1, k2 [16]byte
	x, y   [16]byte
}

// NewCMAC prepares the subkeys for key.
func NewCMAC(key []byte) (*CMAC, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	c := &CMAC{block: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	double(&c.k1, &l)
	double(&c.k2, &c.k1)
	return c, nil
}

// double is multiplication by x in GF(2^128) with the polynomial of RFC 4493
// (the constant 0x87).
func double(dst, src *[16]byte) {
	carry := src[0] >> 7
	for i := 0; i < 15; i++ {
		dst[i] = src[i]<<1 | src[i+1]>>7
	}
	dst[15] = src[15] << 1
	dst[15] ^= 0x87 & -carry
}

// Sum returns the 16-byte tag of the concatenation of parts.
func (c *CMAC) Sum(parts ...[]byte) [16]byte {
	// Collect the blocks lazily: the last block must be treated specially,
	// so one pending block is always held back.
	c.x = [16]byte{}
	var pending [16]byte
	n := 0 // bytes in pending
	for _, p := range parts {
		for len(p) > 0 {
			if n == 16 {
				subtle.XORBytes(c.x[:], c.x[:], pending[:])
				c.block.Encrypt(c.x[:], c.x[:])
				n = 0
			}
			k := copy(pending[n:], p)
			n += k
			p = p[k:]
		}
	}
	if n == 16 {
		subtle.XORBytes(pending[:], pending[:], c.k1[:])
	} else {
		pending[n] = 0x80
		clear(pending[n+1:])
		subtle.XORBytes(pending[:], pending[:], c.k2[:])
	}
	subtle.XORBytes(c.y[:], c.x[:], pending[:])
	var t [16]byte
	c.block.Encrypt(t[:], c.y[:])
	return t
}
