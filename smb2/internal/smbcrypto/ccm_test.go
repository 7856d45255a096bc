package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"testing"
)

// TestCCMVectors checks CCM against published examples: RFC 3610 packet
// vectors and NIST SP 800-38C appendix C.
func TestCCMVectors(t *testing.T) {
	tests := []struct {
		name                     string
		key, nonce, aad, pt, out string // out = ciphertext || tag
		tagLen                   int
	}{
		{
			name:   "RFC3610 packet vector 1",
			key:    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
			nonce:  "00000003020100a0a1a2a3a4a5",
			aad:    "0001020304050607",
			pt:     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
			out:    "588c979a61c663d2f066d0c2c0f989806d5f6b61dac384" + "17e8d12cfdf926e0",
			tagLen: 8,
		},
		{
			name:   "SP800-38C example 1",
			key:    "404142434445464748494a4b4c4d4e4f",
			nonce:  "10111213141516",
			aad:    "0001020304050607",
			pt:     "20212223",
			out:    "7162015b" + "4dac255d",
			tagLen: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := aes.NewCipher(unhex(t, tt.key))
			if err != nil {
				t.Fatal(err)
			}
			nonce := unhex(t, tt.nonce)
			a, err := NewCCM(b, len(nonce), tt.tagLen)
			if err != nil {
				t.Fatal(err)
			}
			pt, aad, want := unhex(t, tt.pt), unhex(t, tt.aad), unhex(t, tt.out)
			got := a.Seal(nil, nonce, pt, aad)
			if !bytes.Equal(got, want) {
				t.Fatalf("Seal = %x, want %x", got, want)
			}
			back, err := a.Open(nil, nonce, want, aad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("Open = %x, %v; want %x", back, err, pt)
			}
			for i := range want {
				bad := bytes.Clone(want)
				bad[i] ^= 0x01
				if _, err := a.Open(nil, nonce, bad, aad); err == nil {
					t.Fatalf("Open accepted a message with byte %d flipped", i)
				}
			}
			if _, err := a.Open(nil, nonce, want, append(bytes.Clone(aad), 0)); err == nil {
				t.Fatal("Open accepted different associated data")
			}
		})
	}
}

// TestCCMRoundTrip seals and opens messages of every length around the
// block boundaries, with and without associated data, SMB's shape.
func TestCCMRoundTrip(t *testing.T) {
	b, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 16))
	a, err := NewCCM(b, 11, 16)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{9}, 11)
	for n := 0; n <= 70; n++ {
		for _, aad := range [][]byte{nil, bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 300)} {
			pt := bytes.Repeat([]byte{byte(n)}, n)
			ct := a.Seal([]byte("prefix"), nonce, pt, aad)
			if string(ct[:6]) != "prefix" || len(ct) != 6+n+16 {
				t.Fatalf("n=%d: Seal output of %d bytes", n, len(ct))
			}
			if n > 0 && bytes.Contains(ct[6:], pt) && n > 4 {
				t.Fatalf("n=%d: plaintext visible in ciphertext", n)
			}
			back, err := a.Open(nil, nonce, ct[6:], aad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("n=%d: Open = %x, %v", n, back, err)
			}
		}
	}
	if _, err := a.Open(nil, nonce, make([]byte, 15), nil); err == nil {
		t.Fatal("Open accepted a message shorter than the tag")
	}
}

func TestNewCCMRejects(t *testing.T) {
	b, _ := aes.NewCipher(make([]byte, 16))
	for _, p := range [][2]int{{6, 16}, {14, 16}, {11, 3}, {11, 18}, {11, 5}} {
		if _, err := NewCCM(b, p[0], p[1]); err == nil {
			t.Errorf("NewCCM(nonce %d, tag %d) succeeded", p[0], p[1])
		}
	}
}
