package smbcrypto

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// ccm is AES in CCM mode (counter with CBC-MAC, NIST SP 800-38C, RFC
// 3610) as a cipher.AEAD. The standard library has GCM but not CCM; SMB
// 3.0 and 3.0.2 encrypt with AES-128-CCM and 3.1.1 may negotiate it.
//
// With a nonce of n bytes the message length field has q = 15-n bytes
// (SMB's 11-byte nonce leaves 4, so messages up to 4 GiB - 1).
type ccm struct {
	b        cipher.Block
	nonceLen int
	tagLen   int
}

// errCCMOpen is the one answer to any forged or damaged message.
var errCCMOpen = errors.New("smbcrypto: CCM message authentication failed")

// NewCCM returns block (which must have a 16-byte block size) in CCM mode
// with the given nonce size (7 to 13 bytes) and tag size (an even number
// from 4 to 16).
func NewCCM(b cipher.Block, nonceLen, tagLen int) (cipher.AEAD, error) {
	if b.BlockSize() != 16 {
		return nil, errors.New("smbcrypto: CCM needs a 128-bit block cipher")
	}
	if nonceLen < 7 || nonceLen > 13 {
		return nil, errors.New("smbcrypto: CCM nonce must be 7 to 13 bytes")
	}
	if tagLen < 4 || tagLen > 16 || tagLen%2 != 0 {
		return nil, errors.New("smbcrypto: CCM tag must be 4, 6, ..., 16 bytes")
	}
	return &ccm{b: b, nonceLen: nonceLen, tagLen: tagLen}, nil
}

func (c *ccm) NonceSize() int { return c.nonceLen }
func (c *ccm) Overhead() int  { return c.tagLen }

// maxLen is the largest message the length field can express.
func (c *ccm) maxLen() uint64 {
	q := 15 - c.nonceLen
	if q >= 8 {
		return 1<<63 - 1
	}
	return 1<<(8*uint(q)) - 1
}

// mac computes the CBC-MAC of the formatted blocks B0, the encoded
// associated data and the plaintext (SP 800-38C A.2). After B0 it is CBC
// encryption with the running value as IV, so the standard library's
// CBC encrypter does the work in bulk.
func (c *ccm) mac(nonce, plain, aad []byte) [16]byte {
	q := 15 - c.nonceLen
	var x [16]byte
	x[0] = byte((c.tagLen-2)/2)<<3 | byte(q-1)
	if len(aad) > 0 {
		x[0] |= 0x40
	}
	copy(x[1:], nonce)
	n := uint64(len(plain))
	for i := 15; i > c.nonceLen; i-- {
		x[i] = byte(n)
		n >>= 8
	}
	c.b.Encrypt(x[:], x[:])
	cbc := cipher.NewCBCEncrypter(c.b, x[:])
	var scratch [512]byte
	// absorb feeds data zero-padded to whole blocks through the chain.
	absorb := func(data []byte) {
		for len(data) > 0 {
			n := min(len(data), len(scratch))
			copy(scratch[:], data[:n])
			data = data[n:]
			if r := n % 16; r != 0 {
				clear(scratch[n : n+16-r])
				n += 16 - r
			}
			cbc.CryptBlocks(scratch[:n], scratch[:n])
			copy(x[:], scratch[n-16:n])
		}
	}
	if len(aad) > 0 {
		var enc [10]byte
		a := uint64(len(aad))
		var head []byte
		switch {
		case a < 1<<16-1<<8:
			binary.BigEndian.PutUint16(enc[:], uint16(a))
			head = enc[:2]
		case a <= 1<<32-1:
			enc[0], enc[1] = 0xFF, 0xFE
			binary.BigEndian.PutUint32(enc[2:], uint32(a))
			head = enc[:6]
		default:
			enc[0], enc[1] = 0xFF, 0xFF
			binary.BigEndian.PutUint64(enc[2:], a)
			head = enc[:10]
		}
		// The length encoding and the data form one zero-padded field.
		first := min(16-len(head), len(aad))
		var blk [16]byte
		copy(blk[:], head)
		copy(blk[len(head):], aad[:first])
		absorb(blk[:])
		absorb(aad[first:])
	}
	absorb(plain)
	return x
}

// ctr xors src with the key stream of counter blocks 1, 2, ... into dst
// and returns the first counter block's encryption (which masks the tag).
// The counter field is the last q bytes of the block; a message never
// needs more than 2^(8q) blocks, so a whole-block big-endian increment
// (the standard library's CTR mode) is the same thing.
func (c *ccm) ctr(dst, src, nonce []byte) [16]byte {
	q := 15 - c.nonceLen
	var a, s0 [16]byte
	a[0] = byte(q - 1)
	copy(a[1:], nonce)
	c.b.Encrypt(s0[:], a[:])
	a[15] = 1
	cipher.NewCTR(c.b, a[:]).XORKeyStream(dst, src)
	return s0
}

func (c *ccm) Seal(dst, nonce, plaintext, aad []byte) []byte {
	if len(nonce) != c.nonceLen {
		panic("smbcrypto: CCM nonce of the wrong size")
	}
	if uint64(len(plaintext)) > c.maxLen() {
		panic("smbcrypto: CCM message too long")
	}
	tag := c.mac(nonce, plaintext, aad)
	ret, out := sliceForAppend(dst, len(plaintext)+c.tagLen)
	s0 := c.ctr(out[:len(plaintext)], plaintext, nonce)
	subtle.XORBytes(out[len(plaintext):], tag[:c.tagLen], s0[:c.tagLen])
	return ret
}

func (c *ccm) Open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != c.nonceLen {
		return nil, errors.New("smbcrypto: CCM nonce of the wrong size")
	}
	if len(ciphertext) < c.tagLen || uint64(len(ciphertext)-c.tagLen) > c.maxLen() {
		return nil, errCCMOpen
	}
	n := len(ciphertext) - c.tagLen
	ret, out := sliceForAppend(dst, n)
	s0 := c.ctr(out, ciphertext[:n], nonce)
	tag := c.mac(nonce, out, aad)
	var want [16]byte
	subtle.XORBytes(want[:c.tagLen], tag[:c.tagLen], s0[:c.tagLen])
	if subtle.ConstantTimeCompare(want[:c.tagLen], ciphertext[n:]) != 1 {
		clear(out)
		return nil, errCCMOpen
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, returning the whole slice and the
// new tail.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}
