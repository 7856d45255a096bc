package krb5

import (
	"bytes"
	"errors"
	"testing"
)

// A GSS token from RFC 1964's layout: 0x60, length, OID, TOK_ID, message.
var gssVector = []byte{0x60, 0x0e, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
	0x01, 0x00, 0xab}

func TestWrapTokenVector(t *testing.T) {
	if got := WrapToken(TokenAPReq, []byte{0xab}); !bytes.Equal(got, gssVector) {
		t.Fatalf("got % x, want % x", got, gssVector)
	}
	id, msg, err := UnwrapToken(gssVector)
	if err != nil || id != TokenAPReq || !bytes.Equal(msg, []byte{0xab}) {
		t.Fatalf("unwrap: %#x % x %v", id, msg, err)
	}
	// The Microsoft OID is accepted with the same framing.
	ms := bytes.Clone(gssVector)
	ms[7] = 0x82
	if _, _, err := UnwrapToken(ms); err != nil {
		t.Errorf("Microsoft OID: %v", err)
	}
}

// TestWrapTokenLengths round-trips messages whose lengths need one to
// four length bytes.
func TestWrapTokenLengths(t *testing.T) {
	for _, n := range []int{0, 1, 100, 114, 115, 127, 128, 255, 256, 1000, 65535, 65536, 200000} {
		msg := bytes.Repeat([]byte{0x5a}, n)
		tok := WrapToken(TokenAPRep, msg)
		id, got, err := UnwrapToken(tok)
		if err != nil || id != TokenAPRep || !bytes.Equal(got, msg) {
			t.Fatalf("length %d: %#x %d bytes %v", n, id, len(got), err)
		}
	}
}

func TestUnwrapTokenMalformed(t *testing.T) {
	bad := map[string][]byte{
		"empty":          {},
		"not 0x60":       {0x61, 0x00},
		"length short":   append([]byte{0x60, 0x0f}, gssVector[2:]...),
		"length long":    append([]byte{0x60, 0x0d}, gssVector[2:]...),
		"indefinite":     append([]byte{0x60, 0x80}, gssVector[2:]...),
		"non-minimal":    append([]byte{0x60, 0x81, 0x0e}, gssVector[2:]...),
		"other OID":      {0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0x01, 0x00},
		"no OID tag":     {0x60, 0x03, 0x05, 0x00, 0x01},
		"OID overruns":   {0x60, 0x04, 0x06, 0x09, 0x2a, 0x86},
		"no token ID":    gssVector[:13:13],
		"five len bytes": {0x60, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00},
	}
	bad["no token ID"] = append([]byte{0x60, 0x0b}, gssVector[2:13]...)
	for name, b := range bad {
		if _, _, err := UnwrapToken(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzUnwrapToken: no panic; what unwraps re-wraps to the same bytes when
// the OID is the standard one.
func FuzzUnwrapToken(f *testing.F) {
	f.Add(gssVector)
	f.Add(WrapToken(TokenAPRep, bytes.Repeat([]byte{1}, 300)))
	f.Add([]byte{0x60, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, msg, err := UnwrapToken(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		// Lengths are minimal, so only the OID may differ.
		oid := len(b) - len(msg) - 2 - len(oidKRB5)
		if bytes.Equal(b[oid:oid+len(oidKRB5)], oidKRB5) {
			if again := WrapToken(id, msg); !bytes.Equal(again, b) {
				t.Fatalf("re-wrap differs:\n% x\n% x", again, b)
			}
		}
	})
}
