// Package scan collects the sessions of many servers at once: the engine
// behind "netsess scan", usable without the command.
//
// # Targets
//
// ParseTargets reads arguments and ReadTargets a file (one per line, '#'
// comments): host names, IPv4 and IPv6 literals, HOST:PORT, [V6]:PORT and
// CIDR ranges of either family, at most ParseOptions.MaxRange addresses
// each (a larger range is an error that says so; an IPv4 range leaves out
// its network and broadcast addresses). Duplicates are removed. Both give
// a list whose length is known; NewStreamSource reads a stream (standard
// input) as the scan goes, and its Total is -1.
//
// # Engine
//
// Scanner.Run works on Config.Concurrency targets at once. For each it
// resolves the name, optionally checks the port with a short TCP connect
// of its own (Config.PreCheck), logs on once, binds srvsvc once and pages
// NetrSessionEnum to the end (package client), at one level or at level
// auto (502, 10, 1, 0, recording the levels refused and the one that
// answered). All of it runs under one deadline per target
// (Config.HostTimeout): name lookup, connect, negotiate, logon, bind and
// every page. The deadline really interrupts the work: every connection
// of the target has its I/O deadlines capped at it and is closed when it
// passes, so neither a server that never answers nor a clean close that
// waits for one can hold a worker longer. Config.Rate limits how many
// targets start per second and Config.Jitter delays each start by a
// random amount (nanosecond resolution, so small values work).
//
// Results come out as they are ready, through the emit callback, from one
// goroutine; the channel between the workers and it holds at most
// Concurrency results, so memory beyond the target list is bounded by the
// concurrency. When the context ends, no target is started, the ones in
// progress are interrupted and reported as canceled, and every result is
// delivered before Run returns.
//
// # Results
//
// Every target gets a Result, never a silent empty list: Collected is true
// only when the enumeration succeeded, and otherwise the Failure says why
// in the closed vocabulary of client.Reason (name_not_resolved,
// port_closed, unreachable, timeout, logon_failure, guest_refused,
// access_denied, invalid_level, not_supported, status, rpc_fault,
// protocol_error, canceled), with the raw status or fault code and a
// detail. A timeout is a timeout, never a success. JSONLines, CSV and Text
// write results as they come; Summary and ProgressLine describe a run.
package scan
