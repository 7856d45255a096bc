package promtext

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Gatherer gives the families to expose, read at each scrape.
type Gatherer interface {
	Gather() []Family
}

// GathererFunc is a function as a Gatherer.
type GathererFunc func() []Family

// Gather returns f().
func (f GathererFunc) Gather() []Family { return f() }

// Registry holds the live metrics of one program part and gathers them.
// Its zero value is not usable: use NewRegistry. It is safe for
// concurrent use; so are the metrics it makes.
//
// The New… methods panic when a name is not valid or already taken, or a
// histogram's bounds are not ascending: names and bounds are constants of
// the program (as a regular expression given to regexp.MustCompile is),
// and the panic shows the mistake in the first test that makes them.
type Registry struct {
	mu         sync.Mutex
	names      map[string]bool
	collectors []func() []Family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{names: make(map[string]bool)}
}

func (r *Registry) register(name string, labels []string, collect func() []Family) {
	if !ValidMetricName(name) {
		panic(fmt.Sprintf("promtext: invalid metric name %q", name))
	}
	for i, l := range labels {
		if !ValidLabelName(l) || slices.Contains(labels[:i], l) {
			panic(fmt.Sprintf("promtext: %s: invalid or repeated label name %q", name, l))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic(fmt.Sprintf("promtext: metric %s registered twice", name))
	}
	r.names[name] = true
	r.collectors = append(r.collectors, collect)
}

// Collect adds a function called at each scrape whose families are
// exposed with the registry's own (for values read from elsewhere when
// scraped). A name it gives that another family has makes the scrape fail
// with ErrInvalid.
func (r *Registry) Collect(f func() []Family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, f)
}

// Gather returns the current value of every metric (their order is of no
// consequence: Append sorts).
func (r *Registry) Gather() []Family {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var fams []Family
	for _, c := range cs {
		fams = append(fams, c()...)
	}
	return fams
}

// floatValue is a float64 updated atomically.
type floatValue struct{ bits atomic.Uint64 }

func (v *floatValue) load() float64   { return math.Float64frombits(v.bits.Load()) }
func (v *floatValue) store(f float64) { v.bits.Store(math.Float64bits(f)) }
func (v *floatValue) add(d float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Counter is a value that only goes up.
type Counter struct{ v floatValue }

// Inc adds one.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d; a negative or NaN d is ignored (a counter never goes down).
func (c *Counter) Add(d float64) {
	if d > 0 {
		c.v.add(d)
	}
}

// Value returns the count.
func (c *Counter) Value() float64 { return c.v.load() }

// Gauge is a value that goes up and down.
type Gauge struct{ v floatValue }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.v.store(v) }

// Add adds d (negative to subtract).
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Value returns the value.
func (g *Gauge) Value() float64 { return g.v.load() }

// NewCounter registers a counter without labels.
func (r *Registry) NewCounter(name, help string) *Counter {
	c := new(Counter)
	r.register(name, nil, func() []Family {
		return []Family{{Name: name, Help: help, Type: TypeCounter, Metrics: []Metric{{Value: c.Value()}}}}
	})
	return c
}

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	g := new(Gauge)
	r.register(name, nil, func() []Family {
		return []Family{{Name: name, Help: help, Type: TypeGauge, Metrics: []Metric{{Value: g.Value()}}}}
	})
	return g
}

// vec is a family of series of one type told apart by label values.
type vec[T any] struct {
	labels []string
	mu     sync.Mutex
	m      map[string]*vecEntry[T]
}

type vecEntry[T any] struct {
	values []string
	v      *T
}

// key joins label values with a byte that valid UTF-8 never has.
func vecKey(values []string) string { return strings.Join(values, "\xff") }

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("promtext: %d label values for %d labels", len(values), len(v.labels)))
	}
	k := vecKey(values)
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[k]; ok {
		return e.v
	}
	if v.m == nil {
		v.m = make(map[string]*vecEntry[T])
	}
	e := &vecEntry[T]{values: slices.Clone(values), v: new(T)}
	v.m[k] = e
	return e.v
}

func (v *vec[T]) delete(values []string) bool {
	k := vecKey(values)
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.m[k]
	delete(v.m, k)
	return ok
}

func (v *vec[T]) reset() {
	v.mu.Lock()
	clear(v.m)
	v.mu.Unlock()
}

func (v *vec[T]) collect(value func(*T) float64) []Metric {
	v.mu.Lock()
	defer v.mu.Unlock()
	ms := make([]Metric, 0, len(v.m))
	for _, e := range v.m {
		ls := make([]Label, len(v.labels))
		for i, n := range v.labels {
			ls[i] = Label{Name: n, Value: e.values[i]}
		}
		ms = append(ms, Metric{Labels: ls, Value: value(e.v)})
	}
	return ms
}

// CounterVec is a counter family with labels: one Counter per
// combination of label values.
type CounterVec struct{ vec vec[Counter] }

// With returns the counter of the label values (in the order of the
// label names given to NewCounterVec), made at zero on first use. It
// panics when the number of values is not the number of labels.
func (c *CounterVec) With(values ...string) *Counter { return c.vec.with(values) }

// Delete removes the series of the label values and reports whether
// there was one.
func (c *CounterVec) Delete(values ...string) bool { return c.vec.delete(values) }

// Reset removes every series.
func (c *CounterVec) Reset() { c.vec.reset() }

// NewCounterVec registers a counter family with the label names given.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{vec: vec[Counter]{labels: slices.Clone(labels)}}
	r.register(name, labels, func() []Family {
		return []Family{{Name: name, Help: help, Type: TypeCounter, Metrics: c.vec.collect((*Counter).Value)}}
	})
	return c
}

// GaugeVec is a gauge family with labels: one Gauge per combination of
// label values.
type GaugeVec struct{ vec vec[Gauge] }

// With returns the gauge of the label values (in the order of the label
// names given to NewGaugeVec), made at zero on first use. It panics when
// the number of values is not the number of labels.
func (g *GaugeVec) With(values ...string) *Gauge { return g.vec.with(values) }

// Delete removes the series of the label values and reports whether
// there was one.
func (g *GaugeVec) Delete(values ...string) bool { return g.vec.delete(values) }

// Reset removes every series.
func (g *GaugeVec) Reset() { g.vec.reset() }

// NewGaugeVec registers a gauge family with the label names given.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{vec: vec[Gauge]{labels: slices.Clone(labels)}}
	r.register(name, labels, func() []Family {
		return []Family{{Name: name, Help: help, Type: TypeGauge, Metrics: g.vec.collect((*Gauge).Value)}}
	})
	return g
}

// Histogram counts observations into buckets of upper bounds fixed when
// it is made, with their count and sum.
type Histogram struct {
	bounds []float64
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last one is +Inf
	count  uint64
	sum    float64
}

// Observe adds one observation; NaN is ignored.
func (h *Histogram) Observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	i, _ := slices.BinarySearch(h.bounds, v)
	h.mu.Lock()
	h.counts[i]++
	h.count++
	h.sum += v
	h.mu.Unlock()
}

// Value returns the histogram's state, with cumulative buckets.
func (h *Histogram) Value() HistogramValue {
	h.mu.Lock()
	defer h.mu.Unlock()
	hv := HistogramValue{Count: h.count, Sum: h.sum, Buckets: make([]Bucket, len(h.bounds))}
	var n uint64
	for i, b := range h.bounds {
		n += h.counts[i]
		hv.Buckets[i] = Bucket{UpperBound: b, Count: n}
	}
	return hv
}

// NewHistogram registers a histogram with the bucket upper bounds given
// (finite and ascending; the +Inf bucket is added).
func (r *Registry) NewHistogram(name, help string, bounds []float64) *Histogram {
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || i > 0 && b <= bounds[i-1] {
			panic(fmt.Sprintf("promtext: %s: bucket bounds %v not finite and ascending", name, bounds))
		}
	}
	h := &Histogram{bounds: slices.Clone(bounds), counts: make([]uint64, len(bounds)+1)}
	r.register(name, nil, func() []Family {
		v := h.Value()
		return []Family{{Name: name, Help: help, Type: TypeHistogram, Metrics: []Metric{{Histogram: &v}}}}
	})
	return h
}
