// Package history turns repeated session snapshots into sessions with a
// lifetime, and defines the store that keeps them.
//
// # Model
//
// A collector observes a server (an [Observation]: the target as given, its
// address, when, whether the enumeration succeeded, the level that answered
// and the sessions listed). Successive observations of one server are
// reconciled into [Session] values by [Reconcile]:
//
//   - A session's identity is (server, client name, user name, estimated
//     start), where the estimated start is the observation time minus the
//     session's time field (seconds since it was set up). A time of
//     0xFFFFFFFF ([session.TimeUnknown]) means "just set up": the start is the
//     observation time.
//   - The estimate jitters (whole seconds on the wire, the moment of arrival,
//     collectors' clocks), so an observed session is the same as a known one
//     when server, client and user are equal and the starts lie within
//     [StartTolerance] of each other. When several known sessions of the same
//     (server, client, user) qualify, the one with the nearest start wins;
//     each known session matches at most one observed session.
//   - An observed session that matches nothing is new: a session_start event.
//     A reconnect (a start beyond the tolerance) is therefore a new session,
//     and the old one ends.
//   - A known open session that a later successful observation of its server
//     no longer lists has ended: EndedAt is that observation's time (the
//     session ended between LastSeen and EndedAt) and a session_end event is
//     emitted. A session younger than the tolerance at the observation
//     (start later than the observation time minus the tolerance) is not
//     ended by it: another collector's clock may be ahead, and the next
//     observation decides.
//   - A failed observation ends nothing: unknown is not gone. It changes the
//     host's state instead, with a host_failed event when the host was not
//     already failing, and host_recovered when a later observation succeeds.
//   - A failed observation without an address (the name did not resolve)
//     is charged to the address the target had at its latest observation,
//     if there was one, so that the server's own state says it failed.
//   - A host answering only level 0 lists client names alone (no user, no
//     time). Its sessions are kept as snapshots (Snapshot is true): they are
//     matched by client name, their start is the first observation that
//     listed them, and their lifetime is only as precise as the observations.
//   - Observations may arrive out of order (several collectors, or an import
//     of an older scan). An observation older than the server's latest one
//     updates FirstSeen and LastSeen of the sessions it lists but does not
//     change the host's state. A session that only such an older observation
//     lists is recorded as ended at the server's latest successful
//     observation, which did not list it.
//
// All times are UTC with microsecond precision, the precision the stores
// keep.
//
// # Stores
//
// A [Store] applies batches of observations in one transaction each and
// answers the queries of the history command. The engines live in
// subpackages, so that a program that only converts or reconciles
// observations (or embeds the session table) links no database driver:
//
//   - sqlitestore: an embedded SQLite file (pure Go, nothing to install), by
//     default at [DefaultPath], for one machine;
//   - pgstore: a PostgreSQL database shared by several collectors.
//
// Both reconcile inside the database transaction with [Reconcile], so that
// collectors that observe the same server agree, and both take their schema
// from one set of versioned migrations. A [Tracker] applies the same rules
// in memory, without a store.
package history
