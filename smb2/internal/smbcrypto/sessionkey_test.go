package smbcrypto

import (
	"bytes"
	"testing"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// TestSessionKeySizes: a key longer than 16 bytes signs with its first 16
// and encrypts with all of it under AES-256; a shorter one is right-padded
// with zeros (MS-SMB2 3.2.5.3.1), so it derives what its padded form does.
func TestSessionKeySizes(t *testing.T) {
	full := bytes.Repeat([]byte{0xab}, 32)
	preauth := make([]byte, 64)
	if got := SessionKey16(full); !bytes.Equal(got, full[:16]) {
		t.Fatalf("SessionKey16 of 32 bytes = %x", got)
	}
	if got := SessionKey16([]byte{1, 2, 3}); !bytes.Equal(got, append([]byte{1, 2, 3}, make([]byte, 13)...)) {
		t.Fatalf("SessionKey16 of 3 bytes = %x", got)
	}
	for _, d := range []uint16{wire.Dialect210, wire.Dialect300, wire.Dialect311} {
		if a, b := DeriveKeys(d, full, preauth), DeriveKeys(d, full[:16], preauth); !bytes.Equal(a.Signing, b.Signing) {
			t.Errorf("dialect %#x: a 32-byte key signs differently from its first 16 bytes", d)
		}
		short := []byte{9, 8, 7, 6, 5}
		if a, b := DeriveKeys(d, short, preauth), DeriveKeys(d, SessionKey16(short), preauth); !bytes.Equal(a.Signing, b.Signing) || len(a.Signing) != 16 {
			t.Errorf("dialect %#x: a short key is not padded (%x / %x)", d, a.Signing, b.Signing)
		}
	}
	c256, _, err := CipherKeys(wire.Dialect311, full, preauth, CipherAES256GCM)
	if err != nil {
		t.Fatal(err)
	}
	c256short, _, _ := CipherKeys(wire.Dialect311, full[:16], preauth, CipherAES256GCM)
	if len(c256) != 32 || bytes.Equal(c256, c256short) {
		t.Fatal("AES-256 keys do not depend on the whole session key")
	}
	c128, _, _ := CipherKeys(wire.Dialect311, full, preauth, CipherAES128GCM)
	c128short, _, _ := CipherKeys(wire.Dialect311, full[:16], preauth, CipherAES128GCM)
	if len(c128) != 16 || !bytes.Equal(c128, c128short) {
		t.Fatal("AES-128 keys depend on more than the first 16 bytes")
	}
}
