package srvs

import (
	"fmt"
	"testing"
)

func manySessions(n int) []SessionInfo {
	e := make([]SessionInfo, n)
	for i := range e {
		e[i] = SessionInfo{
			ClientName: fmt.Sprintf(`\\10.%d.%d.%d`, i>>16&255, i>>8&255, i&255),
			UserName:   fmt.Sprintf("user%06d", i),
			NumOpens:   uint32(i % 7),
			Time:       uint32(i),
			IdleTime:   uint32(i / 2),
			UserFlags:  uint32(i & 1),
			ClientType: "",
			Transport:  `\Device\NetbiosSmb`,
		}
	}
	return e
}

// TestEncodeAllocations: however many entries, encoding allocates once
// (the output buffer), and not at all into a buffer that is big enough.
func TestEncodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	resume := uint32(0)
	p := SessionEnumResponse{Level: 502, Entries: manySessions(1000), TotalEntries: 1000, ResumeHandle: &resume}
	if n := testing.AllocsPerRun(5, func() {
		if _, err := p.MarshalNDR(); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("MarshalNDR: %v allocations, want 1", n)
	}
	buf := make([]byte, 0, p.Size())
	if n := testing.AllocsPerRun(5, func() {
		if _, err := p.AppendNDR(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendNDR into a sized buffer: %v allocations, want 0", n)
	}
}

func BenchmarkEncodeResponse502(b *testing.B) {
	const n = 100_000
	resume := uint32(0)
	p := SessionEnumResponse{Level: 502, Entries: manySessions(n), TotalEntries: n, ResumeHandle: &resume}
	b.ReportAllocs()
	b.SetBytes(int64(p.Size()))
	for b.Loop() {
		if _, err := p.MarshalNDR(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

func BenchmarkDecodeResponse502(b *testing.B) {
	const n = 100_000
	p := SessionEnumResponse{Level: 502, Entries: manySessions(n), TotalEntries: n}
	stub, err := p.MarshalNDR()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stub)))
	for b.Loop() {
		var d SessionEnumResponse
		if err := d.UnmarshalNDR(stub); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

func BenchmarkDecodeRequest(b *testing.B) {
	for _, name := range []string{"level1-request", "level1-filtered-request", "rpcclient-level0-request"} {
		stub := readHex(b, "samba-4.17/"+name+".hex")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(stub)))
			for b.Loop() {
				var q SessionEnumRequest
				if err := q.UnmarshalNDR(stub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
