package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// Inputs of the SMB-shaped vectors: counting bytes.
const (
	smbKey128 = "000102030405060708090a0b0c0d0e0f"
	smbNonce  = "202122232425262728292a"
	smbAAD    = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	smbPlain  = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3"
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
		{
			name:   "SP800-38C example 3",
			key:    "404142434445464748494a4b4c4d4e4f",
			nonce:  "101112131415161718191a1b",
			aad:    "000102030405060708090a0b0c0d0e0f10111213",
			pt:     "202122232425262728292a2b2c2d2e2f3031323334353637",
			out:    "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5" + "484392fbc1b09951",
			tagLen: 8,
		},
		// SMB's shape (11-byte nonce, 32 bytes of associated data like a
		// transform header's, 16-byte tag, 100 bytes of message) for
		// AES-128 and AES-256, as computed by pycryptodome's AES-CCM.
		{
			name:   "SMB shape AES-128",
			key:    smbKey128,
			nonce:  smbNonce,
			aad:    smbAAD,
			pt:     smbPlain,
			out:    "5872ad638c835a018f3fab578c9d35362557b42e766bf5113a7f9a795bb887429521363f869e3d9f77d00c5c8f18729e75241ee862d01323e225de24aa3a87b5d066b024adcc65dfd573f14e1525eb2870d6aafba6dd32817d460a156b1d193224795a44b51e3db48c9309c0d08ba30b0dc41058",
			tagLen: 16,
		},
		{
			name:   "SMB shape AES-256",
			key:    smbKey128 + "101112131415161718191a1b1c1d1e1f",
			nonce:  smbNonce,
			aad:    smbAAD,
			pt:     smbPlain,
			out:    "1fc5e02c999bfd9f253234e84d0b83a48124530871c37495793e33aee104732f157ef26cc4b0fa0e481797fac1e508a05a603166c8418d05e5d5168bebf935b9765f85591578108f24482985bbee89288d4667612f0d359c6e2e31eda5081d0d74870064d467cb33068b98cedffdd994f3c5f2fe",
			tagLen: 16,
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

// TestCCMLong covers the long forms: associated data over 0xFF00 bytes
// (the 6-byte length encoding) and a message spanning several of the MAC's
// bulk chunks. The expected SHA-256 of ciphertext||tag was computed with
// pycryptodome's AES-CCM on the same inputs.
func TestCCMLong(t *testing.T) {
	aad := make([]byte, 70000)
	for i := range aad {
		aad[i] = byte(i % 251)
	}
	pt := make([]byte, 2000)
	for i := range pt {
		pt[i] = byte(i % 253)
	}
	b, _ := aes.NewCipher(unhex(t, smbKey128))
	a, err := NewCCM(b, 11, 16)
	if err != nil {
		t.Fatal(err)
	}
	nonce := unhex(t, smbNonce)
	out := a.Seal(nil, nonce, pt, aad)
	if got := sha256.Sum256(out); hex.EncodeToString(got[:]) != "f5a8ef0f71408f9d29a4d3d6058ef44acd3521cc2162c13685c18f3a0658d49d" {
		t.Fatalf("SHA-256(ciphertext||tag) = %x", got)
	}
	if back, err := a.Open(nil, nonce, out, aad); err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("Open: %v", err)
	}
}
