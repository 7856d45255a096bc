// Package promtext exposes metrics in the Prometheus text exposition
// format, version 0.0.4: the one way the module's commands serve their
// counters (netsess serve's /metrics and netsess watch --metrics alike).
//
// It has three parts:
//
//   - the format: [Family] values (counter, gauge, untyped, histogram)
//     encoded by [Append] or [Write] with HELP and TYPE lines, label values
//     escaped (backslash, double quote, newline; invalid UTF-8 replaced by
//     U+FFFD), families sorted by name and series by labels so that the same
//     values always give the same bytes, and +Inf, -Inf and NaN spelled as
//     the format wants them. Names are checked: an invalid metric or label
//     name, a family named twice or a series listed twice is an error, never
//     malformed output.
//   - live metrics that a program updates: a [Registry] of [Counter],
//     [CounterVec], [Gauge], [GaugeVec] and [Histogram] values, and
//     collector functions for values that are read when scraped.
//   - serving: [Handler] answers a scrape from any [Gatherer], and [Server]
//     serves it on a listener with a connection cap and a per-address cap
//     (the limiter every listener of the module uses), header and idle
//     timeouts and a graceful stop.
//
// # Why not the Prometheus client library
//
// The client library (github.com/prometheus/client_golang) is allowed, but
// this module needs only the text format, which is small and fully
// specified; the library brings a dozen modules (protocol buffers, the
// data model, procfs, ...) into a program that otherwise prefers the
// standard library, and its convenient default registry is process-wide
// state, which the module avoids (a process may run several servers).
// Writing the format is a few hundred lines, tested against the
// reference parser of the Prometheus project (in tests only) and fuzzed
// for escaping.
//
// There is no protocol-buffer or OpenMetrics negotiation: every scrape
// gets text format 0.0.4, which every Prometheus-compatible scraper reads.
package promtext
