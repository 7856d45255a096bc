package smbcrypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/netsession/netsession/smb2/internal/wire"
)

func TestTransformRoundTrip(t *testing.T) {
	msg := append([]byte("\xfeSMB@"), bytes.Repeat([]byte{0x5a}, 200)...)
	for _, id := range []uint16{CipherAES128CCM, CipherAES128GCM, CipherAES256CCM, CipherAES256GCM} {
		t.Run(CipherName(id), func(t *testing.T) {
			c2s, s2c, err := CipherKeys(wire.Dialect311, bytes.Repeat([]byte{1}, 16), make([]byte, 64), id)
			if err != nil {
				t.Fatal(err)
			}
			if len(c2s)*8 != CipherKeyBits(id) || bytes.Equal(c2s, s2c) {
				t.Fatalf("keys %x / %x", c2s, s2c)
			}
			a, err := NewCipher(id, s2c)
			if err != nil {
				t.Fatal(err)
			}
			wantNonce := 11
			if id == CipherAES128GCM || id == CipherAES256GCM {
				wantNonce = 12
			}
			if a.NonceSize() != wantNonce || a.Overhead() != 16 {
				t.Fatalf("nonce %d overhead %d", a.NonceSize(), a.Overhead())
			}
			nonce := bytes.Repeat([]byte{0xab}, a.NonceSize())
			enc := Seal([]byte{1, 2, 3, 4}, a, nonce, 0x1122334455667788, msg)
			enc = enc[4:]
			if len(enc) != TransformHeaderSize+len(msg) {
				t.Fatalf("%d bytes", len(enc))
			}
			h, err := ParseTransformHeader(enc)
			if err != nil {
				t.Fatal(err)
			}
			if h.SessionID != 0x1122334455667788 || h.OriginalSize != uint32(len(msg)) || !bytes.Equal(h.Nonce[:len(nonce)], nonce) {
				t.Fatalf("header %+v", h)
			}
			if bytes.Contains(enc, msg[5:40]) {
				t.Fatal("plaintext visible")
			}
			pt, err := Open(a, h, enc)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("Open = %x, %v", pt, err)
			}
			// Every byte after the protocol id is authenticated.
			for i := 4; i < len(enc); i++ {
				bad := bytes.Clone(enc)
				bad[i] ^= 0x80
				h, err := ParseTransformHeader(bad)
				if err != nil {
					continue
				}
				if _, err := Open(a, h, bad); !errors.Is(err, ErrTransform) {
					t.Fatalf("byte %d flipped: Open err = %v", i, err)
				}
			}
			// The other direction's key does not open it.
			other, _ := NewCipher(id, c2s)
			if _, err := Open(other, h, enc); err == nil {
				t.Fatal("opened with the wrong key")
			}
		})
	}
}

func TestParseTransformHeaderRejects(t *testing.T) {
	a, _ := NewCipher(CipherAES128GCM, make([]byte, 16))
	good := Seal(nil, a, make([]byte, 12), 5, []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	tests := map[string][]byte{
		"short":       good[:51],
		"protocol":    append([]byte("\xfeSMB"), good[4:]...),
		"flags":       func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint16(b[42:], 0); return b }(),
		"size large":  func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[36:], 1<<31); return b }(),
		"size small":  func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[36:], 3); return b }(),
		"truncated":   good[:len(good)-1],
		"header only": good[:TransformHeaderSize],
	}
	for name, b := range tests {
		if _, err := ParseTransformHeader(b); !errors.Is(err, ErrTransform) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := ParseTransformHeader(good); err != nil {
		t.Fatal(err)
	}
}

func TestNewCipherRejects(t *testing.T) {
	if _, err := NewCipher(CipherAES256GCM, make([]byte, 16)); err == nil {
		t.Error("AES-256 with a 128-bit key")
	}
	if _, err := NewCipher(9, make([]byte, 16)); err == nil {
		t.Error("unknown cipher")
	}
	if _, _, err := CipherKeys(wire.Dialect210, make([]byte, 16), nil, CipherAES128CCM); err == nil {
		t.Error("keys for 2.1")
	}
}

// TestCipherKeys30 checks that the 3.0 AES-128-CCM keys are the ones
// DeriveKeys has always produced for the dialect.
func TestCipherKeys30(t *testing.T) {
	sk := bytes.Repeat([]byte{0x42}, 16)
	c2s, s2c, err := CipherKeys(wire.Dialect300, sk, nil, CipherAES128CCM)
	if err != nil {
		t.Fatal(err)
	}
	k := DeriveKeys(wire.Dialect300, sk, nil)
	if !bytes.Equal(c2s, k.ClientToServer) || !bytes.Equal(s2c, k.ServerToClient) {
		t.Fatalf("CipherKeys %x %x, DeriveKeys %x %x", c2s, s2c, k.ClientToServer, k.ServerToClient)
	}
}

// TestParseRealTransformHeaders decodes encrypted messages captured from
// smbclient (GCM) and impacket (CCM).
func TestParseRealTransformHeaders(t *testing.T) {
	for _, tc := range []struct {
		file     string
		nonceLen int
	}{{"transform-smbclient-gcm.bin", 12}, {"transform-impacket-ccm.bin", 11}} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseTransformHeader(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if h.SessionID != 0x0000040000000001 || h.OriginalSize != 104 || h.Flags != 1 {
			t.Errorf("%s: %+v", tc.file, h)
		}
		if !bytes.Equal(h.Nonce[tc.nonceLen:], make([]byte, 16-tc.nonceLen)) || bytes.Equal(h.Nonce[:tc.nonceLen], make([]byte, tc.nonceLen)) {
			t.Errorf("%s: nonce %x, want %d bytes used", tc.file, h.Nonce, tc.nonceLen)
		}
		if got := h.Append(nil); !bytes.Equal(got, b[:TransformHeaderSize]) {
			t.Errorf("%s: re-encoded %x", tc.file, got)
		}
	}
}

func FuzzParseTransformHeader(f *testing.F) {
	for _, name := range []string{"transform-smbclient-gcm.bin", "transform-impacket-ccm.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	a, _ := NewCipher(CipherAES128CCM, make([]byte, 16))
	f.Add(Seal(nil, a, make([]byte, 11), 1, []byte("\xfeSMB@\x00\x01\x00")))
	f.Add([]byte(ProtocolTransform))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseTransformHeader(b)
		if err != nil {
			return
		}
		if int(h.OriginalSize) != len(b)-TransformHeaderSize {
			t.Fatalf("accepted size %d for %d bytes", h.OriginalSize, len(b))
		}
		if got := h.Append(nil); !bytes.Equal(got, b[:TransformHeaderSize]) && b[40] == 0 && b[41] == 0 {
			t.Fatalf("re-encoding differs: %x vs %x", got, b[:TransformHeaderSize])
		}
		if _, err := Open(a, h, b); err == nil && h.SessionID != 1 {
			t.Fatal("opened a forged message")
		}
	})
}

// BenchmarkSeal measures encrypting a 4 KiB message with each cipher.
func BenchmarkSeal(b *testing.B) {
	msg := make([]byte, 4096)
	for _, id := range []uint16{CipherAES128CCM, CipherAES128GCM, CipherAES256CCM, CipherAES256GCM} {
		b.Run(CipherName(id), func(b *testing.B) {
			a, err := NewCipher(id, make([]byte, CipherKeyBits(id)/8))
			if err != nil {
				b.Fatal(err)
			}
			nonce := make([]byte, a.NonceSize())
			buf := make([]byte, 0, TransformHeaderSize+len(msg)+16)
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				buf = Seal(buf[:0], a, nonce, 1, msg)
			}
		})
	}
}
