package session_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// BenchmarkEnum502Paged pages through 100,000 sessions at level 502 with a
// 65,536-byte budget per call, spent in NDR bytes as the srvsvc handler
// does; one op is the whole enumeration.
func BenchmarkEnum502Paged(b *testing.B) {
	const n = 100_000
	tb := session.New(session.Options{})
	for i := range n {
		if _, err := tb.Open(session.Spec{Client: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), User: fmt.Sprint("user", i%1000), Transport: `\Device\NetbiosSmb`}); err != nil {
			b.Fatal(err)
		}
	}
	admin := session.Caller{User: "a", Groups: []string{session.GroupAdministrators}}
	b.ReportAllocs()
	for b.Loop() {
		q := session.EnumQuery{Level: session.Level502, PrefMaxLen: 65536, Size: srvs.EntrySize}
		got, pages := 0, 0
		for {
			res, err := tb.Enum(context.Background(), admin, q)
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
