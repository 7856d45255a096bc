package promtext

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func gatherText(t *testing.T, g Gatherer) string {
	t.Helper()
	b, err := Append(nil, g.Gather())
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, b)
	parse(t, b)
	return string(b)
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("t_events_total", "Events.")
	g := r.NewGauge("t_level", "Level.")
	cv := r.NewCounterVec("t_results_total", "Results by outcome.", "outcome")
	gv := r.NewGaugeVec("t_sessions", "Sessions by server.", "server", "site")
	h := r.NewHistogram("t_duration_seconds", "Durations.", []float64{0.1, 1, 10})
	r.Collect(func() []Family {
		return []Family{{Name: "t_read_at_scrape", Help: "Read when scraped.", Type: TypeGauge, Metrics: []Metric{{Value: 42}}}}
	})

	c.Inc()
	c.Add(2.5)
	c.Add(-7)         // ignored
	c.Add(math.NaN()) // ignored
	g.Set(10)
	g.Add(-12)
	cv.With("ok").Add(3)
	cv.With("timeout").Inc()
	cv.With("gone").Inc()
	if !cv.Delete("gone") || cv.Delete("gone") {
		t.Error("Delete did not report the series once")
	}
	gv.With("fs1", "paris").Set(4)
	gv.With("fs2", "paris").Set(0)
	gv.With(`fs"3`, "lyon").Set(1)
	for _, v := range []float64{0.05, 0.1, 0.5, 5, 50, math.NaN()} {
		h.Observe(v)
	}

	want := `# HELP t_duration_seconds Durations.
# TYPE t_duration_seconds histogram
t_duration_seconds_bucket{le="0.1"} 2
t_duration_seconds_bucket{le="1"} 3
t_duration_seconds_bucket{le="10"} 4
t_duration_seconds_bucket{le="+Inf"} 5
t_duration_seconds_sum 55.65
t_duration_seconds_count 5
# HELP t_events_total Events.
# TYPE t_events_total counter
t_events_total 3.5
# HELP t_level Level.
# TYPE t_level gauge
t_level -2
# HELP t_read_at_scrape Read when scraped.
# TYPE t_read_at_scrape gauge
t_read_at_scrape 42
# HELP t_results_total Results by outcome.
# TYPE t_results_total counter
t_results_total{outcome="ok"} 3
t_results_total{outcome="timeout"} 1
# HELP t_sessions Sessions by server.
# TYPE t_sessions gauge
t_sessions{server="fs\"3",site="lyon"} 1
t_sessions{server="fs1",site="paris"} 4
t_sessions{server="fs2",site="paris"} 0
`
	if got := gatherText(t, r); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	gv.Reset()
	if got := gatherText(t, r); strings.Contains(got, "t_sessions") {
		t.Errorf("after Reset:\n%s", got)
	}
}

// Updates from many goroutines are all counted (run with -race).
func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("c_total", "c")
	gv := r.NewGaugeVec("g", "g", "k")
	h := r.NewHistogram("h", "h", []float64{1})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc()
				gv.With(string(rune('a' + i))).Add(1)
				h.Observe(0.5)
				_ = r.Gather()
			}
		})
	}
	wg.Wait()
	if c.Value() != 8000 || gv.With("c").Value() != 1000 || h.Value().Count != 8000 || h.Value().Buckets[0].Count != 8000 {
		t.Errorf("counter %v gauge %v histogram %+v", c.Value(), gv.With("c").Value(), h.Value())
	}
}

func TestRegistryPanics(t *testing.T) {
	for name, f := range map[string]func(r *Registry){
		"bad name":        func(r *Registry) { r.NewCounter("a-b", "") },
		"twice":           func(r *Registry) { r.NewCounter("a", ""); r.NewGauge("a", "") },
		"bad label":       func(r *Registry) { r.NewGaugeVec("a", "", "__x") },
		"repeated label":  func(r *Registry) { r.NewGaugeVec("a", "", "x", "x") },
		"bounds unsorted": func(r *Registry) { r.NewHistogram("a", "", []float64{2, 1}) },
		"bounds inf":      func(r *Registry) { r.NewHistogram("a", "", []float64{1, math.Inf(1)}) },
		"value count":     func(r *Registry) { r.NewGaugeVec("a", "", "x", "y").With("1") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(NewRegistry())
		})
	}
}

// A collector that repeats a registered name makes the families invalid
// rather than the output malformed.
func TestRegistryCollectClash(t *testing.T) {
	r := NewRegistry()
	r.NewGauge("a", "a")
	r.Collect(func() []Family {
		return []Family{{Name: "a", Type: TypeGauge, Metrics: []Metric{{}}}}
	})
	if _, err := Append(nil, r.Gather()); !errors.Is(err, ErrInvalid) {
		t.Errorf("err %v", err)
	}
}
