// Package authtest is test support for the security mechanisms: checks
// that two established contexts protect messages for each other. It is
// not meant for use outside tests.
package authtest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/netsession/netsession/auth"
)

// ProtectRoundTrips exchanges signed and, with seal, sealed messages
// between a and b in both directions, interleaved: every signature must
// verify on the other side, sealing must encrypt exactly the sealed range
// and unsealing restore it. Then a message tampered with after signing
// must fail Verify with an error matching badSig, and that direction must
// stay unusable.
func ProtectRoundTrips(t testing.TB, a, b auth.Protector, seal bool, badSig error) {
	t.Helper()
	for i := range 5 {
		for _, dir := range []struct{ from, to auth.Protector }{{a, b}, {b, a}} {
			msg := bytes.Repeat([]byte{byte(i), 0xa5}, 20+i)
			sig, err := dir.from.Sign(msg)
			if err != nil {
				t.Fatalf("sign %d: %v", i, err)
			}
			if err := dir.to.Verify(msg, sig); err != nil {
				t.Fatalf("verify %d: %v", i, err)
			}
			if !seal {
				continue
			}
			plain := append([]byte("header--"), msg...)
			sealed := bytes.Clone(plain)
			if sig, err = dir.from.SealWithin(sealed, 8, len(sealed)); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(sealed[8:], plain[8:]) || !bytes.Equal(sealed[:8], plain[:8]) {
				t.Fatalf("seal %d did not encrypt exactly the range", i)
			}
			if err := dir.to.UnsealWithin(sealed, 8, len(sealed), sig); err != nil {
				t.Fatalf("unseal %d: %v", i, err)
			}
			if !bytes.Equal(sealed, plain) {
				t.Fatalf("unsealed %d differs", i)
			}
		}
	}
	msg := []byte("tampered message")
	sig, err := a.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	msg[0] ^= 1
	if err := b.Verify(msg, sig); !errors.Is(err, badSig) {
		t.Fatalf("tampered message verified: %v", err)
	}
	if err := b.Verify([]byte("anything"), sig); !errors.Is(err, badSig) {
		t.Fatalf("direction still usable after a failure: %v", err)
	}
}
