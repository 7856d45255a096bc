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

// BenchmarkEnum502Paged pages through 100,000 sessions at level 502 with a
// 65,536-byte budget per call; one op is the whole enumeration.
func BenchmarkEnum502Paged(b *testing.B) {
	const n = 100_000
	tb := New(Options{})
	for i := range n {
		if _, err := tb.Open(Spec{Client: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), User: fmt.Sprint("user", i%1000), Transport: `\Device\NetbiosSmb`}); err != nil {
			b.Fatal(err)
		}
	}
	admin := Caller{User: "a", Groups: []string{GroupAdministrators}}
	b.ReportAllocs()
	for b.Loop() {
		q := EnumQuery{Level: Level502, PrefMaxLen: 65536}
		got, pages := 0, 0
		for {
			res, err := tb.Enum(admin, q)
			if err != nil {
				b.Fatal(err)
			}
			got += len(res.Entries)
			pages++
			if !res.More {
				break
			}
			q.Resume = res.Resume
		}
		if got != n {
			b.Fatalf("got %d entries", got)
		}
		b.ReportMetric(float64(pages), "pages")
	}
}
