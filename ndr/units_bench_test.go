package ndr

import (
	"strings"
	"testing"
)

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
