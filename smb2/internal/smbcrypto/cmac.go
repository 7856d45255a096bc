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

// scratchSize is how many bytes of CBC output one CryptBlocks call writes;
// the MAC only needs the last block of it.
const scratchSize = 512

// CMAC computes AES-CMAC (RFC 4493) with a 128, 192 or 256-bit AES key.
// A CMAC is not safe for concurrent use.
//
// All blocks but the last are a plain CBC encryption with a zero IV, so they
// go through one cipher.BlockMode, reused across messages, in runs of whole
// blocks taken straight from the caller's slices; only the last (possibly
// partial) block is copied and handled by hand.
type CMAC struct {
	block   cipher.Block
	cbc     cipher.BlockMode
	k1, k2  [16]byte
	x       [16]byte // CBC chaining value after the blocks processed so far
	scratch [scratchSize]byte
	// pending and tag are Sum's working blocks: as locals they would be
	// allocated on every message, being handed to the cipher interfaces.
	pending, tag [16]byte
}

// ivSetter is implemented by the standard library's CBC encrypters; with it
// the encrypter is rewound for each message instead of made anew.
type ivSetter interface{ SetIV([]byte) }

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
	c.cbc = cipher.NewCBCEncrypter(b, c.x[:])
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

// reset rewinds the CBC chain to the zero IV.
func (c *CMAC) reset() {
	c.x = [16]byte{}
	if s, ok := c.cbc.(ivSetter); ok {
		s.SetIV(c.x[:])
	} else {
		c.cbc = cipher.NewCBCEncrypter(c.block, c.x[:])
	}
}

// blocks chains p, a whole number of blocks, into c.x.
func (c *CMAC) blocks(p []byte) {
	for len(p) > 0 {
		k := min(len(p), scratchSize)
		c.cbc.CryptBlocks(c.scratch[:k], p[:k])
		copy(c.x[:], c.scratch[k-16:k])
		p = p[k:]
	}
}

// Sum returns the 16-byte tag of the concatenation of parts.
func (c *CMAC) Sum(parts ...[]byte) [16]byte {
	c.reset()
	// The last block must be treated specially, so one pending block (1 to
	// 16 bytes once anything was seen) is always held back.
	pending := &c.pending
	n := 0 // bytes in pending
	for _, p := range parts {
		if n > 0 && n < 16 {
			k := copy(pending[n:], p)
			n += k
			p = p[k:]
		}
		if len(p) == 0 {
			continue
		}
		// More data follows, so a full pending block is not the last one.
		if n == 16 {
			c.blocks(pending[:])
		}
		// Keep back the final 1 to 16 bytes of p.
		full := (len(p) - 1) &^ 15
		c.blocks(p[:full])
		n = copy(pending[:], p[full:])
	}
	if n == 16 {
		subtle.XORBytes(pending[:], pending[:], c.k1[:])
	} else {
		pending[n] = 0x80
		clear(pending[n+1:])
		subtle.XORBytes(pending[:], pending[:], c.k2[:])
	}
	t := &c.tag
	subtle.XORBytes(t[:], c.x[:], pending[:])
	c.block.Encrypt(t[:], t[:])
	return *t
}
