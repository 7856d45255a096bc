package session

import (
	"fmt"
	"runtime"
	"testing"
)

func BenchmarkOpenClose(b *testing.B) {
	tb := New(Options{})
	spec := Spec{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`}
	b.ReportAllocs()
	for b.Loop() {
		s, err := tb.Open(spec)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func BenchmarkTouch(b *testing.B) {
	tb := New(Options{})
	s, _ := tb.Open(Spec{Client: "10.0.0.5", User: "alice"})
	b.ReportAllocs()
	for b.Loop() {
		s.Touch()
	}
}

func BenchmarkTouchParallel(b *testing.B) {
	tb := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s, _ := tb.Open(Spec{Client: "10.0.0.5", User: "alice"})
		for pb.Next() {
			s.Touch()
		}
	})
}

// BenchmarkMemoryPerSession reports the heap bytes one session costs,
// strings included, at 100,000 sessions.
func BenchmarkMemoryPerSession(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tb := New(Options{})
		for i := range n {
			if _, err := tb.Open(Spec{Client: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), User: fmt.Sprint("user", i%1000), Transport: `\Device\NetbiosSmb`}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/session")
		runtime.KeepAlive(tb)
	}
}
