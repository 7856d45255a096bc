package promtext

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ContentType is the Content-Type of text format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is the TYPE of a family.
type Type string

// The types a family can have.
const (
	TypeCounter   Type = "counter"
	TypeGauge     Type = "gauge"
	TypeUntyped   Type = "untyped"
	TypeHistogram Type = "histogram"
)

// Label is one name="value" pair of a series.
type Label struct {
	Name, Value string
}

// Bucket is one bucket of a histogram: the observations less than or
// equal to UpperBound, counted cumulatively.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// HistogramValue is the state of one histogram series. Buckets are in
// ascending order of UpperBound, with cumulative counts; the +Inf bucket
// is implied (it is Count) and may be omitted.
type HistogramValue struct {
	Buckets []Bucket
	Count   uint64
	Sum     float64
}

// Metric is one series of a family: its labels and its value (Histogram
// for a histogram family, Value otherwise).
type Metric struct {
	Labels    []Label
	Value     float64
	Histogram *HistogramValue
}

// Family is a metric family: a name, a help text, a type and its series.
// A family without series is not written.
type Family struct {
	Name    string
	Help    string
	Type    Type
	Metrics []Metric
}

// ErrInvalid is wrapped by every error Append and Write return: a name
// that is not a valid metric or label name, a family named twice, a
// series listed twice, an unknown type or a histogram without its value.
var ErrInvalid = errors.New("promtext: invalid metric family")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ValidMetricName reports whether s is a valid metric name:
// [a-zA-Z_:][a-zA-Z0-9_:]*.
func ValidMetricName(s string) bool { return validName(s, true) }

// ValidLabelName reports whether s is a valid label name:
// [a-zA-Z_][a-zA-Z0-9_]*, not beginning with "__" (reserved).
func ValidLabelName(s string) bool {
	return validName(s, false) && !strings.HasPrefix(s, "__")
}

func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			i > 0 && c >= '0' && c <= '9' || colon && c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// Write writes fams to w in text format 0.0.4 (see Append). Nothing is
// written when fams are invalid.
func Write(w io.Writer, fams []Family) error {
	b, err := Append(nil, fams)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Append appends fams in text format 0.0.4 to b: for each family with at
// least one series, in order of name, a HELP line, a TYPE line and its
// series in order of their labels (compared pair by pair, name then
// value), without timestamps. A histogram series is written as its
// cumulative _bucket series with an "le" label (the +Inf bucket last),
// then _sum and _count. fams are not modified. When fams are invalid
// (ErrInvalid), b is returned unchanged with the error.
func Append(b []byte, fams []Family) ([]byte, error) {
	order, err := check(fams)
	if err != nil {
		return b, err
	}
	start := len(b)
	for _, i := range order {
		f := &fams[i]
		ms := slices.Clone(f.Metrics)
		slices.SortFunc(ms, func(x, y Metric) int { return compareLabels(x.Labels, y.Labels) })
		for j := 1; j < len(ms); j++ {
			if compareLabels(ms[j-1].Labels, ms[j].Labels) == 0 {
				return b[:start], invalid("%s: series %s listed twice", f.Name, labelString(ms[j].Labels))
			}
		}
		b = append(b, "# HELP "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = appendHelp(b, f.Help)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = append(b, f.Type...)
		b = append(b, '\n')
		for _, m := range ms {
			if f.Type != TypeHistogram {
				b = appendSample(b, f.Name, "", m.Labels, nil, m.Value)
				continue
			}
			h := m.Histogram
			inf := false
			for _, bk := range h.Buckets {
				le := Label{Name: "le", Value: string(AppendFloat(nil, bk.UpperBound))}
				b = appendSample(b, f.Name, "_bucket", m.Labels, &le, float64(bk.Count))
				inf = inf || math.IsInf(bk.UpperBound, 1)
			}
			if !inf {
				b = appendSample(b, f.Name, "_bucket", m.Labels, &Label{Name: "le", Value: "+Inf"}, float64(h.Count))
			}
			b = appendSample(b, f.Name, "_sum", m.Labels, nil, h.Sum)
			b = appendSample(b, f.Name, "_count", m.Labels, nil, float64(h.Count))
		}
	}
	return b, nil
}

// check validates fams and returns the indexes of the families to write,
// in order of name.
func check(fams []Family) ([]int, error) {
	// Every name a sample line will carry, so that a histogram's _sum
	// cannot collide with another family.
	names := make(map[string]string)
	claim := func(name, family string) error {
		if other, ok := names[name]; ok {
			return invalid("%s: name %s is also used by %s", family, name, other)
		}
		names[name] = family
		return nil
	}
	var order []int
	for i := range fams {
		f := &fams[i]
		if !ValidMetricName(f.Name) {
			return nil, invalid("metric name %q", f.Name)
		}
		suffixes := []string{""}
		switch f.Type {
		case TypeCounter, TypeGauge, TypeUntyped:
		case TypeHistogram:
			suffixes = []string{"", "_bucket", "_sum", "_count"}
		default:
			return nil, invalid("%s: type %q", f.Name, f.Type)
		}
		for _, s := range suffixes {
			if err := claim(f.Name+s, f.Name); err != nil {
				return nil, err
			}
		}
		for _, m := range f.Metrics {
			if err := checkMetric(f, &m); err != nil {
				return nil, err
			}
		}
		if len(f.Metrics) > 0 {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(x, y int) int { return strings.Compare(fams[x].Name, fams[y].Name) })
	return order, nil
}

func checkMetric(f *Family, m *Metric) error {
	for i, l := range m.Labels {
		if !ValidLabelName(l.Name) {
			return invalid("%s: label name %q", f.Name, l.Name)
		}
		if f.Type == TypeHistogram && l.Name == "le" {
			return invalid("%s: a histogram cannot have a label named le", f.Name)
		}
		for _, o := range m.Labels[:i] {
			if o.Name == l.Name {
				return invalid("%s: label %s given twice", f.Name, l.Name)
			}
		}
	}
	if f.Type != TypeHistogram {
		return nil
	}
	h := m.Histogram
	if h == nil {
		return invalid("%s: histogram series without a histogram value", f.Name)
	}
	for i, bk := range h.Buckets {
		if math.IsNaN(bk.UpperBound) {
			return invalid("%s: bucket bound NaN", f.Name)
		}
		if i > 0 && (bk.UpperBound <= h.Buckets[i-1].UpperBound || bk.Count < h.Buckets[i-1].Count) {
			return invalid("%s: buckets not ascending or not cumulative", f.Name)
		}
		if bk.Count > h.Count || math.IsInf(bk.UpperBound, 1) && bk.Count != h.Count {
			return invalid("%s: bucket count beyond the histogram count", f.Name)
		}
	}
	return nil
}

func compareLabels(x, y []Label) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		if c := cmp.Or(strings.Compare(x[i].Name, y[i].Name), strings.Compare(x[i].Value, y[i].Value)); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(x), len(y))
}

func labelString(ls []Label) string {
	return string(appendLabels(nil, ls, nil))
}

func appendSample(b []byte, name, suffix string, ls []Label, extra *Label, v float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	b = appendLabels(b, ls, extra)
	b = append(b, ' ')
	b = AppendFloat(b, v)
	return append(b, '\n')
}

func appendLabels(b []byte, ls []Label, extra *Label) []byte {
	if len(ls) == 0 && extra == nil {
		return b
	}
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, l)
	}
	if extra != nil {
		if len(ls) > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, *extra)
	}
	return append(b, '}')
}

func appendLabel(b []byte, l Label) []byte {
	b = append(b, l.Name...)
	b = append(b, `="`...)
	b = AppendLabelValue(b, l.Value)
	return append(b, '"')
}

// AppendLabelValue appends s escaped for a label value (without the
// quotes): backslash, double quote and newline become \\, \" and \n, and
// each byte of invalid UTF-8 becomes U+FFFD.
func AppendLabelValue(b []byte, s string) []byte {
	return appendEscaped(b, s, true)
}

// appendHelp appends s escaped for a HELP line: backslash and newline
// become \\ and \n.
func appendHelp(b []byte, s string) []byte {
	return appendEscaped(b, s, false)
}

func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return b
}

// AppendFloat appends v as the format spells a value: +Inf, -Inf, NaN;
// an integer below 2^53 in magnitude in decimal digits (so that counters
// read as integers); anything else in the shortest form that reads back
// as the same float64.
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
