package ndr

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

// refUTF16 is the obvious decoding: the units up to the first NUL through
// utf16.Decode, which also turns an unpaired surrogate into U+FFFD.
func refUTF16(b []byte) string {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return string(utf16.Decode(units))
}

func le16(units ...uint16) []byte {
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// appendUTF16 narrows ASCII four units at a time: the groups around the
// NUL, a non-ASCII unit or a surrogate in each position of a group decode
// as the obvious decoder does.
func TestAppendUTF16Groups(t *testing.T) {
	var cases [][]byte
	for n := range 13 {
		ascii := []uint16(nil)
		for i := range n {
			ascii = append(ascii, uint16('a'+i))
		}
		cases = append(cases, le16(ascii...))
		for at := 0; at <= n; at++ {
			for _, odd := range []uint16{0, 0x7F, 0x80, 0xE9, 0x100, 0x20AC, 0xD83D, 0xDE00, 0xFFFF} {
				u := append(append(append([]uint16(nil), ascii[:at]...), odd), ascii[at:]...)
				cases = append(cases, le16(u...))
			}
			// A surrogate pair split at every place.
			u := append(append(append([]uint16(nil), ascii[:at]...), 0xD83D, 0xDE00), ascii[at:]...)
			cases = append(cases, le16(u...))
		}
	}
	for _, b := range cases {
		if got, want := string(appendUTF16([]byte("x"), b))[1:], refUTF16(b); got != want {
			t.Errorf("% x: %q, want %q", b, got, want)
		}
	}
	if got := decodeUTF16(le16([]uint16(utf16.Encode([]rune(strings.Repeat("server", 40))))...)); got != strings.Repeat("server", 40) {
		t.Errorf("long name: %q", got)
	}
}

func FuzzAppendUTF16(f *testing.F) {
	f.Add(le16('a', 'b', 'c', 'd', 'e'))
	f.Add(le16('a', 'b', 0, 'd', 'e', 'f', 'g', 'h'))
	f.Add(le16('a', 0xD83D, 0xDE00, 'd', 0xDE00, 'f', 0xD83D))
	f.Add(le16(0xE9, 'a', 'b', 'c', 'd'))
	f.Fuzz(func(t *testing.T, b []byte) {
		b = b[:len(b)&^1]
		if got, want := string(appendUTF16(nil, b)), refUTF16(b); got != want {
			t.Fatalf("% x: %q, want %q", b, got, want)
		}
	})
}
