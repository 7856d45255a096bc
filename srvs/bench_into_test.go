package srvs

import (
	"fmt"
	"testing"
)

// BenchmarkEncodeResponse502Into encodes into a buffer of the right size
// kept between calls: the encoder's own cost, apart from allocating and
// first touching the buffer (which BenchmarkEncodeResponse502 includes).
// 1,000 entries is an answer of the size the load benchmarks ask for (177
// KB, in cache); 100,000 (17 MB) is one no cache holds with its entries.
func BenchmarkEncodeResponse502Into(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			resume := uint32(0)
			p := SessionEnumResponse{Level: 502, Entries: manySessions(n), TotalEntries: uint32(n), ResumeHandle: &resume}
			buf := make([]byte, 0, p.Size())
			b.ReportAllocs()
			b.SetBytes(int64(p.Size()))
			for b.Loop() {
				if _, err := p.AppendNDR(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
	}
}
