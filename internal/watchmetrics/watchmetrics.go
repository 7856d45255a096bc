// Package watchmetrics holds the metrics of netsess watch: what each
// round of repeated scans found, exposed in the Prometheus text format
// through internal/promtext (the exposition netsess serve uses too).
//
// Every name begins with netsess_watch_, so that no name is shared with
// netsess serve's families (netsess_sessions, netsess_smb_…,
// netsess_rpc_…, go_goroutines), even when one Prometheus scrapes both:
//
//	netsess_watch_rounds_total                      counter    rounds completed
//	netsess_watch_round_duration_seconds            histogram  duration of each round
//	netsess_watch_last_round_duration_seconds       gauge      duration of the latest round
//	netsess_watch_last_round_timestamp_seconds      gauge      end of the latest round, unix seconds
//	netsess_watch_host_duration_seconds             histogram  time spent on each host, every round
//	netsess_watch_hosts{outcome}                    gauge      hosts of the latest round by outcome
//	netsess_watch_host_results_total{outcome}       counter    host results by outcome, all rounds
//	netsess_watch_sessions{server}                  gauge      sessions at the latest successful collection
//	netsess_watch_last_success_timestamp_seconds{server}  gauge  when its answer came, unix seconds
//	netsess_watch_events_total{event}               counter    history events by kind
//	netsess_watch_store_errors_total                counter    failed writes to the history store
//
// An outcome is "collected" or a reason of the closed vocabulary of
// client.Reason (access_denied, timeout, …); every one of them is exposed
// from the start, at zero, so that an alert on a reason needs no absent()
// guard. An event is one of history's four kinds (session_start,
// session_end, host_failed, host_recovered), also exposed from the start.
//
// # Cardinality
//
// netsess_watch_sessions and netsess_watch_last_success_timestamp_seconds
// have one series per server, labelled with the target as given (the
// address for a target that came from a range): a watch of N targets
// exposes at most 2N per-server series, and a scrape grows with N (about
// 150 bytes per target). A server gets its series at its first successful
// collection and keeps them: a failure changes neither (unknown is not
// gone), so a server that fails shows its last known sessions and a last
// success that grows old; alert on time() minus the timestamp. Every
// other family has a fixed number of series: one, one per outcome (14,
// and 15 once an unknown reason was seen) or one per event kind (4).
package watchmetrics

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/scan"
)

// Outcome label values beside the reasons of client.Reasons.
const (
	// OutcomeCollected: the host's sessions were collected.
	OutcomeCollected = "collected"
	// OutcomeUnknown: a failure whose reason is outside client's
	// vocabulary (never expected; it keeps the label's values bounded).
	OutcomeUnknown = "unknown"
)

// Metrics records watch's rounds. Make it with New; it is safe for
// concurrent use.
type Metrics struct {
	// Exclude, when set before the first Observe, leaves the sessions it
	// returns true for out of netsess_watch_sessions (watch leaves out the
	// collector's own session, as its history does).
	Exclude func(r *scan.Result, s client.Session) bool

	reg *promtext.Registry

	rounds        *promtext.Counter
	roundDuration *promtext.Histogram
	lastDuration  *promtext.Gauge
	lastRound     *promtext.Gauge
	hostDuration  *promtext.Histogram
	hosts         *promtext.GaugeVec
	results       *promtext.CounterVec
	sessions      *promtext.GaugeVec
	lastSuccess   *promtext.GaugeVec
	events        *promtext.CounterVec
	storeErrors   *promtext.Counter

	mu      sync.Mutex
	current map[string]int // outcomes of the round in progress
}

// New returns the metrics with every counter at zero.
func New() *Metrics {
	// Bucket bounds in seconds: a round of a few hosts on a LAN takes well
	// under a second, one of tens of thousands minutes; one host takes
	// milliseconds up to the host timeout.
	roundBuckets := []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500}
	hostBuckets := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	r := promtext.NewRegistry()
	m := &Metrics{
		reg:           r,
		rounds:        r.NewCounter("netsess_watch_rounds_total", "Watch rounds completed."),
		roundDuration: r.NewHistogram("netsess_watch_round_duration_seconds", "Duration of each watch round, from its first target started to its last result.", roundBuckets),
		lastDuration:  r.NewGauge("netsess_watch_last_round_duration_seconds", "Duration of the latest watch round."),
		lastRound:     r.NewGauge("netsess_watch_last_round_timestamp_seconds", "End of the latest watch round, in unix seconds (0 before the first)."),
		hostDuration:  r.NewHistogram("netsess_watch_host_duration_seconds", "Time spent on each host, from its start to its result, every round.", hostBuckets),
		hosts:         r.NewGaugeVec("netsess_watch_hosts", "Hosts of the latest watch round by outcome: collected, or the reason they were not.", "outcome"),
		results:       r.NewCounterVec("netsess_watch_host_results_total", "Host results by outcome (collected, or the reason they were not), every round.", "outcome"),
		sessions:      r.NewGaugeVec("netsess_watch_sessions", "Sessions listed by a server at its latest successful collection.", "server"),
		lastSuccess:   r.NewGaugeVec("netsess_watch_last_success_timestamp_seconds", "When the answer of the latest successful collection of a server arrived, in unix seconds.", "server"),
		events:        r.NewCounterVec("netsess_watch_events_total", "History events by kind.", "event"),
		storeErrors:   r.NewCounter("netsess_watch_store_errors_total", "Writes to the history store that failed."),
		current:       make(map[string]int),
	}
	for _, o := range Outcomes() {
		m.hosts.With(o)
		m.results.With(o)
	}
	for _, k := range []history.EventKind{history.SessionStart, history.SessionEnd, history.HostFailed, history.HostRecovered} {
		m.events.With(string(k))
	}
	return m
}

// Outcomes returns the outcome label values exposed from the start:
// "collected", then every reason of client.Reasons. OutcomeUnknown is
// exposed only once it occurs.
func Outcomes() []string {
	out := []string{OutcomeCollected}
	for _, r := range client.Reasons() {
		out = append(out, string(r))
	}
	return out
}

// outcome is the outcome label value of r.
func outcome(r *scan.Result) string {
	if r.Collected {
		return OutcomeCollected
	}
	if slices.Contains(client.Reasons(), r.Failure.Reason) {
		return string(r.Failure.Reason)
	}
	return OutcomeUnknown
}

// Observe records one host's result of the round in progress: its
// duration and outcome, and for a collected host its session count and
// the time of its answer (r.ObservedAt plus r.Duration, the observation
// time the history keeps).
func (m *Metrics) Observe(r *scan.Result) {
	o := outcome(r)
	m.hostDuration.Observe(r.Duration.Seconds())
	m.results.With(o).Inc()
	if r.Collected {
		n := len(r.Sessions)
		if m.Exclude != nil {
			for _, s := range r.Sessions {
				if m.Exclude(r, s) {
					n--
				}
			}
		}
		m.sessions.With(r.Target).Set(float64(n))
		m.lastSuccess.With(r.Target).Set(unixSeconds(r.ObservedAt.Add(r.Duration)))
	}
	m.mu.Lock()
	m.current[o]++
	m.mu.Unlock()
}

// EndRound closes the round in progress: it took d and ended at end. The
// hosts by outcome become those observed since the previous EndRound.
func (m *Metrics) EndRound(end time.Time, d time.Duration) {
	m.mu.Lock()
	cur := m.current
	m.current = make(map[string]int)
	// Under the lock, so that two rounds ending at once cannot mix.
	for _, o := range Outcomes() {
		m.hosts.With(o).Set(float64(cur[o]))
	}
	if n, ok := cur[OutcomeUnknown]; ok {
		m.hosts.With(OutcomeUnknown).Set(float64(n))
	} else {
		m.hosts.Delete(OutcomeUnknown)
	}
	m.mu.Unlock()
	m.roundDuration.Observe(d.Seconds())
	m.lastDuration.Set(d.Seconds())
	m.lastRound.Set(unixSeconds(end))
	m.rounds.Inc()
}

// Round records a whole round: Observe for each result, then EndRound.
func (m *Metrics) Round(results []*scan.Result, end time.Time, d time.Duration) {
	for _, r := range results {
		m.Observe(r)
	}
	m.EndRound(end, d)
}

// Events counts history events by kind.
func (m *Metrics) Events(evs []history.Event) {
	for _, e := range evs {
		if e.Kind.Valid() {
			m.events.With(string(e.Kind)).Inc()
		}
	}
}

// StoreError counts one failed write to the history store.
func (m *Metrics) StoreError() { m.storeErrors.Inc() }

// Gather returns the families to expose.
func (m *Metrics) Gather() []promtext.Family { return m.reg.Gather() }

// Handler serves the metrics at /metrics (GET and HEAD); other paths are
// not found. Errors (none are expected) go to log; nil discards.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promtext.Handler(m, log))
	return mux
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// Store wraps st so that each failed write (Apply, RecordRun, Prune)
// counts in netsess_watch_store_errors_total; reads and Close pass
// through. The errors are returned unchanged.
func (m *Metrics) Store(st history.Store) history.Store {
	return &countingStore{Store: st, m: m}
}

type countingStore struct {
	history.Store
	m *Metrics
}

func (s *countingStore) count(err error) error {
	if err != nil {
		s.m.StoreError()
	}
	return err
}

func (s *countingStore) Apply(ctx context.Context, obs []history.Observation) ([]history.Event, error) {
	evs, err := s.Store.Apply(ctx, obs)
	return evs, s.count(err)
}

func (s *countingStore) RecordRun(ctx context.Context, run history.Run) error {
	return s.count(s.Store.RecordRun(ctx, run))
}

func (s *countingStore) Prune(ctx context.Context, cutoff time.Time) (history.Pruned, error) {
	p, err := s.Store.Prune(ctx, cutoff)
	return p, s.count(err)
}
