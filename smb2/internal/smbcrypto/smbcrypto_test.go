package smbcrypto

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/netsession/netsession/smb2/internal/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 4493 section 4: AES-128 key and the four example messages.
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	m := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"+
		"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	c, err := NewCMAC(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(c.k1[:]); got != "fbeed618357133667c85e08f7236a8de" {
		t.Errorf("K1 = %s", got)
	}
	if got := hex.EncodeToString(c.k2[:]); got != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("K2 = %s", got)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		got := c.Sum(m[:tc.n])
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("len %d: %x, want %s", tc.n, got, tc.want)
		}
		// The same message in arbitrary pieces gives the same tag.
		if tc.n > 7 {
			split := c.Sum(m[:3], m[3:7], nil, m[7:tc.n])
			if split != got {
				t.Errorf("len %d split: %x", tc.n, split)
			}
		}
	}
}

// Keys for session key 00 01 .. 0f, cross-checked with an independent
// SP800-108 implementation (impacket's KDF_CounterMode).
func TestKDFAndDeriveKeys(t *testing.T) {
	k := unhex(t, "000102030405060708090a0b0c0d0e0f")
	k30 := DeriveKeys(wire.Dialect300, k, nil)
	if got := hex.EncodeToString(k30.Signing); got != "6234814cbb8ea9227440ebfeb5eacbe1" {
		t.Errorf("3.0 signing key %s", got)
	}
	if got := hex.EncodeToString(k30.Application); got != "2061e31cbe99e5c6493e3fbbd4faf495" {
		t.Errorf("3.0 application key %s", got)
	}
	if k302 := DeriveKeys(wire.Dialect302, k, nil); !bytes.Equal(k302.Signing, k30.Signing) {
		t.Error("3.0.2 keys differ from 3.0")
	}
	var zero [PreauthSize]byte
	pre := PreauthUpdate(zero, []byte("negotiate"))
	if got := hex.EncodeToString(pre[:]); got != "f2cf3aaa1c57462ca62fd8f861d2e9bf85d2f6bac7dc6efd6abaac0197258a2d09771d2f70c0211eda7a87642df4c37d11089764cccc248158d8ee4c69aa5f29" {
		t.Errorf("preauth %s", got)
	}
	k311 := DeriveKeys(wire.Dialect311, k, pre[:])
	if got := hex.EncodeToString(k311.Signing); got != "57f86e0807d408753f4417ce3c8f5b78" {
		t.Errorf("3.1.1 signing key %s", got)
	}
	if got := hex.EncodeToString(KDF(k, label311C2S, pre[:], 256)); got != "8d01a0f83146691379051a197a5e12010e91d53403145c06e5415718230d1bde" {
		t.Errorf("256-bit key %s", got)
	}
	k21 := DeriveKeys(wire.Dialect210, append(k, 1, 2, 3), nil)
	if !bytes.Equal(k21.Signing, k) || k21.Application != nil {
		t.Errorf("2.1 keys %x", k21)
	}
}

// The pre-authentication chain: each step hashes the previous value and
// the next message, so the order of messages matters.
func TestPreauthChain(t *testing.T) {
	var h [PreauthSize]byte
	a := PreauthUpdate(PreauthUpdate(h, []byte("req")), []byte("resp"))
	b := PreauthUpdate(PreauthUpdate(h, []byte("resp")), []byte("req"))
	if a == b {
		t.Fatal("chain does not depend on order")
	}
	c := PreauthUpdate(PreauthUpdate(h, []byte("req")), []byte("resp"))
	if a != c {
		t.Fatal("chain not deterministic")
	}
}

// A signed server message: header with SMB2_FLAGS_SERVER_TO_REDIR,
// MessageId 0x0807060504030201, body "hello"; expected tags computed with
// an independent implementation (pycryptodome, Python hmac).
func TestSigners(t *testing.T) {
	k := unhex(t, "000102030405060708090a0b0c0d0e0f")
	msg := func() []byte {
		h := make([]byte, 64)
		copy(h, "\xfeSMB")
		binary.LittleEndian.PutUint16(h[4:], 64)
		binary.LittleEndian.PutUint16(h[12:], 11)
		binary.LittleEndian.PutUint32(h[16:], 1)
		binary.LittleEndian.PutUint64(h[24:], 0x0807060504030201)
		return append(h, "hello"...)
	}
	for _, tc := range []struct {
		alg  uint16
		want string
	}{
		{AlgHMACSHA256, "ae5ac194a92594361d7cb2b63177ff18"},
		{AlgAESCMAC, "d855ba8b2954d75d85f0b85e5c2a4b5c"},
		{AlgAESGMAC, "eb083879d0ebcaa96df7024ca632aa78"},
	} {
		s, err := NewSigner(tc.alg, k)
		if err != nil {
			t.Fatal(err)
		}
		m := msg()
		if err := s.Sign(m); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(m[48:64]); got != tc.want {
			t.Errorf("alg %d: %s, want %s", tc.alg, got, tc.want)
		}
		if err := s.Verify(m); err != nil {
			t.Errorf("alg %d: verify: %v", tc.alg, err)
		}
		m[66] ^= 1
		if err := s.Verify(m); !errors.Is(err, ErrSignature) {
			t.Errorf("alg %d: tampered message verified: %v", tc.alg, err)
		}
	}
	if _, err := NewSigner(9, k); err == nil {
		t.Error("unknown algorithm accepted")
	}
	s, _ := NewSigner(AlgAESCMAC, k)
	if err := s.Verify(make([]byte, 10)); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
}

// Signing and verifying a message allocates nothing, whatever the
// algorithm: every signed answer of a busy server pays for what it does.
func TestSignersAllocateNothing(t *testing.T) {
	k := make([]byte, 16)
	m := make([]byte, 4096)
	copy(m, "\xfeSMB")
	for _, alg := range []uint16{AlgHMACSHA256, AlgAESCMAC, AlgAESGMAC} {
		s, err := NewSigner(alg, k)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(50, func() {
			if err := s.Sign(m); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(m); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("alg %d: %v allocations per Sign and Verify", alg, n)
		}
	}
}

func BenchmarkCMAC1K(b *testing.B) {
	c, _ := NewCMAC(make([]byte, 16))
	m := make([]byte, 1024)
	b.SetBytes(1024)
	for b.Loop() {
		c.Sum(m)
	}
}

// refCMAC is RFC 4493 section 2.4 written out block by block, with nothing
// shared with CMAC.Sum but the subkeys, which TestCMACRFC4493 checks.
func refCMAC(t *testing.T, c *CMAC, m []byte) [16]byte {
	t.Helper()
	nb := (len(m) + 15) / 16
	last := make([]byte, 16)
	if nb > 0 && len(m)%16 == 0 {
		subtle.XORBytes(last, m[(nb-1)*16:], c.k1[:])
	} else {
		if nb == 0 {
			nb = 1
		}
		rest := m[(nb-1)*16:]
		copy(last, rest)
		last[len(rest)] = 0x80
		subtle.XORBytes(last, last, c.k2[:])
	}
	x := make([]byte, 16)
	for i := 0; i < nb-1; i++ {
		subtle.XORBytes(x, x, m[i*16:(i+1)*16])
		c.block.Encrypt(x, x)
	}
	subtle.XORBytes(x, x, last)
	c.block.Encrypt(x, x)
	return [16]byte(x)
}

// Every length around the block and scratch boundaries, whole and cut into
// pieces at every pair of points, on one reused CMAC, matches the reference.
func TestCMACMatchesReference(t *testing.T) {
	c, err := NewCMAC(unhex(t, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"))
	if err != nil {
		t.Fatal(err)
	}
	m := make([]byte, 2*scratchSize+40)
	for i := range m {
		m[i] = byte(i*7 + 3)
	}
	lengths := []int{}
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, base := range []int{scratchSize, 2 * scratchSize} {
		for d := -17; d <= 17; d++ {
			lengths = append(lengths, base+d)
		}
	}
	for _, n := range lengths {
		want := refCMAC(t, c, m[:n])
		if got := c.Sum(m[:n]); got != want {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
		if n > 70 {
			continue
		}
		for i := 0; i <= n; i++ {
			for j := i; j <= n; j++ {
				if got := c.Sum(m[:i], m[i:j], m[j:n]); got != want {
					t.Fatalf("len %d cut at %d,%d: %x, want %x", n, i, j, got, want)
				}
			}
		}
	}
}
