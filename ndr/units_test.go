package ndr

import (
	"strings"
	"testing"
	"unicode/utf16"
)

// refUnits is the obvious count: a string converted to runes yields
// U+FFFD for each invalid UTF-8 byte, and utf16.Encode writes what goes on
// the wire.
func refUnits(s string) int { return len(utf16.Encode([]rune(s))) }

func TestStringUnitsAroundBlocks(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{`\\10.0.0.5`, 10},
		{"é", 1},
		{"日本", 2},
		{"\U0001F600", 2},
		{"\xff\xfe", 2},           // each invalid byte is one U+FFFD
		{"\xed\xa0\x80", 3},       // an encoded surrogate is three invalid bytes
		{"abcdefgh", 8},           // exactly one ASCII block
		{"abcdefghé", 9},          // non-ASCII just after the block
		{"abcdefgé", 8},           // non-ASCII in the block's last byte
		{"éabcdefghijklmnop", 17}, // non-ASCII first: no block is skipped
		{"abcdefgh\U0001F600ijklmnop", 18},
		{"abcdefgh\xffijklmnopqrstuvw", 24},
		{strings.Repeat("a", 1023), 1023},
	}
	for _, tc := range tests {
		if got := StringUnits(tc.s); got != tc.want {
			t.Errorf("StringUnits(%q) = %d, want %d", tc.s, got, tc.want)
		}
		if ref := refUnits(tc.s); ref != tc.want {
			t.Errorf("test table: %q encodes to %d units, not %d", tc.s, ref, tc.want)
		}
	}
	// Every position of a non-ASCII character around the 8-byte blocks.
	for _, c := range []string{"é", "日", "\U0001F600", "\xff"} {
		for i := range 20 {
			s := strings.Repeat("x", i) + c + strings.Repeat("y", 19-i)
			if got, want := StringUnits(s), refUnits(s); got != want {
				t.Errorf("StringUnits(%q) = %d, want %d", s, got, want)
			}
		}
	}
}

// FuzzStringUnits checks the count against utf16.Encode for any bytes.
func FuzzStringUnits(f *testing.F) {
	for _, s := range []string{"", `\\10.0.0.5`, "abcdefgh\U0001F600", "\xff\xfe", "abcdefgé", "Administrator"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := StringUnits(s), refUnits(s); got != want {
			t.Fatalf("StringUnits(%q) = %d, want %d", s, got, want)
		}
	})
}

func BenchmarkStringUnits(b *testing.B) {
	for _, in := range []struct{ name, s string }{
		{"short", `\\10.0.0.5`},
		{"ascii64", strings.Repeat("abcdefgh", 8)},
		{"mixed64", strings.Repeat("abcdéfg", 8)},
		{"astral", strings.Repeat("\U0001F600", 16)},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.s)))
			n := 0
			for b.Loop() {
				n += StringUnits(in.s)
			}
			if n == 0 && in.s != "" {
				b.Fatal("no units")
			}
		})
	}
}
