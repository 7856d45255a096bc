package srvs

import "testing"

// BenchmarkEncodeResponse502Into encodes into a buffer of the right size
// kept between calls: the encoder's own cost, apart from allocating and
// first touching 17 MB (which BenchmarkEncodeResponse502 includes).
func BenchmarkEncodeResponse502Into(b *testing.B) {
	const n = 100_000
	resume := uint32(0)
	p := SessionEnumResponse{Level: 502, Entries: manySessions(n), TotalEntries: n, ResumeHandle: &resume}
	buf := make([]byte, 0, p.Size())
	b.ReportAllocs()
	b.SetBytes(int64(p.Size()))
	for b.Loop() {
		if _, err := p.AppendNDR(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}
