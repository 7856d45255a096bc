package watchmetrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/scan"
)

// BenchmarkScrape measures one scrape of a watch of 10,000 targets (two
// series each) and reports its size.
func BenchmarkScrape(b *testing.B) {
	m := New()
	at := time.Unix(1_770_000_000, 0)
	results := make([]*scan.Result, 10_000)
	for i := range results {
		results[i] = ok(fmt.Sprintf("host-%05d.corp.example", i), at, i%7)
		if i%10 == 0 {
			results[i] = failed(results[i].Target, at, client.ReasonAccessDenied)
		}
	}
	m.Round(results, at, time.Minute)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = promtext.Append(buf[:0], m.Gather()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/scrape")
}

// BenchmarkRound measures recording a round of 10,000 results.
func BenchmarkRound(b *testing.B) {
	m := New()
	at := time.Unix(1_770_000_000, 0)
	results := make([]*scan.Result, 10_000)
	for i := range results {
		results[i] = ok(fmt.Sprintf("host-%05d.corp.example", i), at, i%7)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Round(results, at, time.Minute)
	}
}
