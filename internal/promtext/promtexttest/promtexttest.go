// Package promtexttest reads metrics in the Prometheus text format with
// the Prometheus project's own parser, for tests: a test compares what an
// endpoint serves with what it must say, and the exposition is checked by
// a reader that is not ours on the way.
package promtexttest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series parses text and returns every series as
// name{label=value,...} -> value, with the labels in the order written
// and no braces when there are none; a histogram gives name_count and
// name_sum (with its labels after them). A text the parser refuses fails
// the test.
func Series(tb testing.TB, text []byte) map[string]float64 {
	tb.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		tb.Fatalf("Prometheus text parser: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			labels := ""
			if len(ls) > 0 {
				labels = "{" + strings.Join(ls, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			case dto.MetricType_COUNTER:
				out[name+labels] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+labels] = m.GetGauge().GetValue()
			default:
				out[name+labels] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// Scrape gets url and returns the Series of its body; an answer other
// than 200 fails the test.
func Scrape(tb testing.TB, url string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return Series(tb, b)
}
