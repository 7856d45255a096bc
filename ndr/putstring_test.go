package ndr

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf16"
)

// refString is the obvious encoding of a conformant-varying string with
// its padding to 4: header, utf16.Encode of the runes, NUL, zeros.
func refString(s string) []byte {
	u := utf16.Encode([]rune(s))
	n := uint32(len(u) + 1)
	b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	b = append(b, 0, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestPutString: PutString writes what the obvious encoding does, padding
// zeroed over whatever the buffer held, for ASCII strings of every length
// around the 4- and 8-character blocks, non-ASCII in every position,
// surrogate pairs and invalid UTF-8; and Writer.String agrees.
func TestPutString(t *testing.T) {
	var cases []string
	for n := range 20 {
		a := strings.Repeat("x", n)
		cases = append(cases, a)
		for i := 0; i <= n; i++ {
			cases = append(cases, a[:i]+"é"+a[i:], a[:i]+"\U0001F600"+a[i:], a[:i]+"\xff"+a[i:], a[:i]+"\x7f"+a[i:])
		}
	}
	for _, s := range cases {
		want := refString(s)
		if got := StringSize(s); got != len(want) {
			t.Fatalf("StringSize(%q) = %d, want %d", s, got, len(want))
		}
		b := bytes.Repeat([]byte{0xAA}, len(want)+8)
		if n := PutString(b, s); n != len(want) || !bytes.Equal(b[:n], want) {
			t.Fatalf("PutString(%q) = %d, % x\nwant %d, % x", s, n, b[:n], len(want), want)
		}
		// Into exactly the room it needs.
		b = bytes.Repeat([]byte{0xAA}, len(want))
		if n := PutString(b, s); n != len(want) || !bytes.Equal(b, want) {
			t.Fatalf("PutString(%q) into %d octets: % x", s, len(want), b)
		}
		w := NewWriter(nil)
		w.String(s)
		w.Uint32(0)
		if got := w.Bytes()[:len(want)]; !bytes.Equal(got, want) {
			t.Fatalf("Writer.String(%q) = % x, want % x", s, got, want)
		}
	}
}

func BenchmarkPutString(b *testing.B) {
	s := `\Device\NetbiosSmb`
	buf := make([]byte, StringSize(s))
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		PutString(buf, s)
	}
}

// FuzzPutString: for any string, PutString writes the obvious encoding
// and StringSize octets, into exactly that room.
func FuzzPutString(f *testing.F) {
	for _, s := range []string{"", "a", `\Device\NetbiosSmb`, "jürgen", "\U0001F600x", "\xff\xfe", "abcdefgh\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := refString(s)
		b := bytes.Repeat([]byte{0x55}, len(want))
		if n := PutString(b, s); n != len(want) || !bytes.Equal(b, want) {
			t.Fatalf("PutString(%q) = %d % x, want % x", s, n, b, want)
		}
	})
}
