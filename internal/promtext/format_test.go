package promtext

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sampleFamilies covers every type, labels that need escaping, the
// special values and families given out of order.
func sampleFamilies() []Family {
	return []Family{
		{Name: "z_requests_total", Help: "Requests by path.", Type: TypeCounter, Metrics: []Metric{
			{Labels: []Label{{"path", `C:\share`}}, Value: 3},
			{Labels: []Label{{"path", "a \"quoted\"\nline"}}, Value: 1},
			{Labels: []Label{{"path", "bad\xffutf8"}}, Value: 0},
		}},
		{Name: "a_temperature", Help: "Back\\slash and\nnewline in help.", Type: TypeGauge, Metrics: []Metric{
			{Value: -1.5},
		}},
		{Name: "m_specials", Help: "Special values.", Type: TypeUntyped, Metrics: []Metric{
			{Labels: []Label{{"v", "inf"}}, Value: math.Inf(1)},
			{Labels: []Label{{"v", "-inf"}}, Value: math.Inf(-1)},
			{Labels: []Label{{"v", "nan"}}, Value: math.NaN()},
			{Labels: []Label{{"v", "big"}}, Value: 1e300},
			{Labels: []Label{{"v", "int"}}, Value: 1234567890123},
		}},
		{Name: "empty_family", Help: "Not written.", Type: TypeGauge},
		{Name: "d_duration_seconds", Help: "Durations.", Type: TypeHistogram, Metrics: []Metric{
			{Labels: []Label{{"op", "scan"}}, Histogram: &HistogramValue{
				Buckets: []Bucket{{0.5, 1}, {1, 3}, {2.5, 3}}, Count: 4, Sum: 7.25,
			}},
			{Labels: []Label{{"op", "bind"}}, Histogram: &HistogramValue{
				Buckets: []Bucket{{0.5, 0}, {math.Inf(1), 0}},
			}},
		}},
	}
}

const sampleText = `# HELP a_temperature Back\\slash and\nnewline in help.
# TYPE a_temperature gauge
a_temperature -1.5
# HELP d_duration_seconds Durations.
# TYPE d_duration_seconds histogram
d_duration_seconds_bucket{op="bind",le="0.5"} 0
d_duration_seconds_bucket{op="bind",le="+Inf"} 0
d_duration_seconds_sum{op="bind"} 0
d_duration_seconds_count{op="bind"} 0
d_duration_seconds_bucket{op="scan",le="0.5"} 1
d_duration_seconds_bucket{op="scan",le="1"} 3
d_duration_seconds_bucket{op="scan",le="2.5"} 3
d_duration_seconds_bucket{op="scan",le="+Inf"} 4
d_duration_seconds_sum{op="scan"} 7.25
d_duration_seconds_count{op="scan"} 4
# HELP m_specials Special values.
# TYPE m_specials untyped
m_specials{v="-inf"} -Inf
m_specials{v="big"} 1e+300
m_specials{v="inf"} +Inf
m_specials{v="int"} 1234567890123
m_specials{v="nan"} NaN
# HELP z_requests_total Requests by path.
# TYPE z_requests_total counter
z_requests_total{path="C:\\share"} 3
z_requests_total{path="a \"quoted\"\nline"} 1
z_requests_total{path="bad\ufffdutf8"} 0
`

// The exact bytes: sorted families and series, escapes, the +Inf bucket
// added where missing and not repeated where given, special values, no
// empty family.
func TestAppendGolden(t *testing.T) {
	got, err := Append(nil, sampleFamilies())
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(sampleText, `\ufffd`, "\uFFFD")
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// The order of the input does not change the output.
func TestAppendStable(t *testing.T) {
	want, err := Append(nil, sampleFamilies())
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		fams := sampleFamilies()
		r.Shuffle(len(fams), func(i, j int) { fams[i], fams[j] = fams[j], fams[i] })
		for _, f := range fams {
			r.Shuffle(len(f.Metrics), func(i, j int) { f.Metrics[i], f.Metrics[j] = f.Metrics[j], f.Metrics[i] })
		}
		got, err := Append([]byte("prefix\n"), fams)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("prefix\n"), want...)) {
			t.Fatalf("shuffled input gives:\n%s", got)
		}
	}
}

// parse reads text with the Prometheus project's own parser.
func parse(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("reference parser: %v\n%s", err, text)
	}
	return fams
}

// The reference parser reads back every name, help, type, label and
// value.
func TestAppendReferenceParser(t *testing.T) {
	in := sampleFamilies()
	text, err := Append(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	got := parse(t, text)
	if len(got) != len(in)-1 {
		t.Errorf("%d families parsed, want %d", len(got), len(in)-1)
	}
	types := map[Type]dto.MetricType{TypeCounter: dto.MetricType_COUNTER, TypeGauge: dto.MetricType_GAUGE,
		TypeUntyped: dto.MetricType_UNTYPED, TypeHistogram: dto.MetricType_HISTOGRAM}
	for _, f := range in {
		if len(f.Metrics) == 0 {
			continue
		}
		pf := got[f.Name]
		if pf == nil {
			t.Errorf("%s not parsed", f.Name)
			continue
		}
		if pf.GetHelp() != f.Help || pf.GetType() != types[f.Type] || len(pf.Metric) != len(f.Metrics) {
			t.Errorf("%s: parsed help %q type %v, %d series", f.Name, pf.GetHelp(), pf.GetType(), len(pf.Metric))
		}
		for _, m := range f.Metrics {
			pm := findSeries(pf, m.Labels)
			if pm == nil {
				t.Errorf("%s%s not parsed", f.Name, labelString(m.Labels))
				continue
			}
			switch f.Type {
			case TypeHistogram:
				h := pm.GetHistogram()
				if h.GetSampleCount() != m.Histogram.Count || h.GetSampleSum() != m.Histogram.Sum {
					t.Errorf("%s: count %d sum %v", f.Name, h.GetSampleCount(), h.GetSampleSum())
				}
				var want []Bucket
				for _, b := range m.Histogram.Buckets {
					if !math.IsInf(b.UpperBound, 1) {
						want = append(want, b)
					}
				}
				var have []Bucket
				for _, b := range h.GetBucket() {
					if !math.IsInf(b.GetUpperBound(), 1) {
						have = append(have, Bucket{b.GetUpperBound(), b.GetCumulativeCount()})
					}
				}
				if !slices.Equal(have, want) {
					t.Errorf("%s: buckets %v, want %v", f.Name, have, want)
				}
			default:
				v := pm.GetCounter().GetValue() + pm.GetGauge().GetValue() + pm.GetUntyped().GetValue()
				if v != m.Value && !(math.IsNaN(v) && math.IsNaN(m.Value)) {
					t.Errorf("%s%s = %v, want %v", f.Name, labelString(m.Labels), v, m.Value)
				}
			}
		}
	}
}

// findSeries returns the parsed series with the labels given (their
// values made valid UTF-8 as Append does).
func findSeries(f *dto.MetricFamily, ls []Label) *dto.Metric {
	for _, m := range f.Metric {
		if len(m.Label) != len(ls) {
			continue
		}
		ok := true
		for i, l := range m.Label {
			ok = ok && l.GetName() == ls[i].Name && l.GetValue() == validUTF8(ls[i].Value)
		}
		if ok {
			return m
		}
	}
	return nil
}

// validUTF8 replaces each byte of invalid UTF-8 in s by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // range yields U+FFFD per invalid byte
	}
	return b.String()
}

func TestAppendInvalid(t *testing.T) {
	g := func(name string, ls ...Label) Family {
		return Family{Name: name, Help: "h", Type: TypeGauge, Metrics: []Metric{{Labels: ls}}}
	}
	hist := func(h *HistogramValue, ls ...Label) Family {
		return Family{Name: "h", Help: "h", Type: TypeHistogram, Metrics: []Metric{{Labels: ls, Histogram: h}}}
	}
	for name, fams := range map[string][]Family{
		"empty name":         {g("")},
		"name with dash":     {g("a-b")},
		"name with digit":    {g("1a")},
		"name with space":    {g("a b")},
		"label with colon":   {g("a", Label{"x:y", "v"})},
		"reserved label":     {g("a", Label{"__name__", "v"})},
		"empty label":        {g("a", Label{"", "v"})},
		"label twice":        {g("a", Label{"x", "1"}, Label{"x", "2"})},
		"family twice":       {g("a"), g("a")},
		"family twice empty": {g("a"), {Name: "a", Type: TypeGauge}},
		"series twice": {{Name: "a", Type: TypeGauge, Metrics: []Metric{
			{Labels: []Label{{"x", "1"}}}, {Labels: []Label{{"x", "1"}}, Value: 2}}}},
		"unknown type":           {{Name: "a", Type: "summary", Metrics: []Metric{{}}}},
		"histogram without":      {hist(nil)},
		"histogram le label":     {hist(&HistogramValue{}, Label{"le", "1"})},
		"histogram sum collides": {hist(&HistogramValue{}), g("h_sum")},
		"buckets descending":     {hist(&HistogramValue{Buckets: []Bucket{{2, 0}, {1, 0}}})},
		"buckets not cumulative": {hist(&HistogramValue{Buckets: []Bucket{{1, 2}, {2, 1}}, Count: 2})},
		"bucket over count":      {hist(&HistogramValue{Buckets: []Bucket{{1, 3}}, Count: 2})},
		"inf bucket not count":   {hist(&HistogramValue{Buckets: []Bucket{{math.Inf(1), 1}}, Count: 2})},
		"NaN bound":              {hist(&HistogramValue{Buckets: []Bucket{{math.NaN(), 0}}})},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Append([]byte("kept"), fams)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			if string(b) != "kept" {
				t.Errorf("b = %q after an error", b)
			}
			var w bytes.Buffer
			if err := Write(&w, fams); !errors.Is(err, ErrInvalid) || w.Len() != 0 {
				t.Errorf("Write: %v, %d bytes", err, w.Len())
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct {
		s             string
		metric, label bool
	}{
		{"a", true, true}, {"_a1", true, true}, {"a:b", true, false}, {":a", true, false},
		{"__x", true, false}, {"1a", false, false}, {"", false, false}, {"a.b", false, false},
		{"é", false, false}, {"A_Z_09", true, true},
	} {
		if ValidMetricName(c.s) != c.metric || ValidLabelName(c.s) != c.label {
			t.Errorf("%q: metric %v label %v, want %v %v", c.s, ValidMetricName(c.s), ValidLabelName(c.s), c.metric, c.label)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1: "1", -3: "-3", 0.25: "0.25", 1e15: "1000000000000000", 1 << 53: "9.007199254740992e+15",
		1e-9: "1e-09", math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.MaxFloat64: "1.7976931348623157e+308",
	} {
		if got := string(AppendFloat(nil, v)); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
	if got := string(AppendFloat(nil, math.NaN())); got != "NaN" {
		t.Errorf("NaN: %q", got)
	}
}

// checkStrict is a strict reading of the format, beside the reference
// parser (which tolerates some of what it checks): every line is a HELP,
// a TYPE or a sample; each family is HELP, TYPE, then its samples, once;
// families are in order of name.
func checkStrict(t testing.TB, text []byte) {
	t.Helper()
	if len(text) > 0 && text[len(text)-1] != '\n' {
		t.Fatalf("no final newline")
	}
	seen := map[string]bool{}
	var family, last string
	state := 0 // 0: expect HELP, 1: expect TYPE, 2: samples or next HELP
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSuffix(line, "\n")
		if !utf8.ValidString(line) {
			t.Fatalf("invalid UTF-8: %q", line)
		}
		switch {
		case strings.HasPrefix(line, "# HELP "):
			if state == 1 {
				t.Fatalf("HELP after HELP: %q", line)
			}
			name, _, _ := strings.Cut(line[len("# HELP "):], " ")
			if seen[name] || name < last {
				t.Fatalf("family %s repeated or out of order", name)
			}
			seen[name], family, last, state = true, name, name, 1
		case strings.HasPrefix(line, "# TYPE "):
			name, _, _ := strings.Cut(line[len("# TYPE "):], " ")
			if state != 1 || name != family {
				t.Fatalf("TYPE out of place: %q", line)
			}
			state = 2
		default:
			if state != 2 || !strings.HasPrefix(line, family) {
				t.Fatalf("sample out of place: %q (family %s)", line, family)
			}
		}
	}
}

func TestAppendStrict(t *testing.T) {
	text, err := Append(nil, sampleFamilies())
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, text)
}

// Any label value and help text survive the trip through Append and the
// reference parser (invalid UTF-8 made valid, help read as the parser
// reads it: without leading blanks).
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", `\`, `"`, "\n", `\n`, `\\"`, "a\"b\\c\nd", "\xff", "é\x00\t\r", "}", "{x=\"y\"}", "# HELP"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, value, help string) {
		fams := []Family{{Name: "f", Help: help, Type: TypeGauge, Metrics: []Metric{
			{Labels: []Label{{"l", value}, {"m", "x"}}, Value: 1},
			{Labels: []Label{{"l", "fixed"}}, Value: 2},
		}}}
		text, err := Append(nil, fams)
		if err != nil {
			t.Fatal(err)
		}
		checkStrict(t, text)
		if n := bytes.Count(text, []byte("\n")); n != 4 {
			t.Fatalf("%d lines:\n%s", n, text)
		}
		got := parse(t, text)["f"]
		if got == nil || len(got.Metric) != 2 {
			t.Fatalf("parsed %v", got)
		}
		if want := strings.TrimLeft(validUTF8(help), " \t"); got.GetHelp() != want {
			t.Errorf("help %q, want %q", got.GetHelp(), want)
		}
		if m := findSeries(got, fams[0].Metrics[0].Labels); m == nil || m.GetGauge().GetValue() != 1 {
			t.Errorf("series with l=%q not read back: %v", value, got)
		}
	})
}
