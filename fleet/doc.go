// Package fleet serves a simulated fleet of SMB2/3 servers in one
// process, for tests, benchmarks and demonstrations of a scanner: N
// servers, each on its own loopback address (127.1.0.1, 127.1.0.2, ...,
// the simulated fleets' block 127.1.0.0/16), all on one port, each with
// \PIPE\srvsvc and its own session table filled with plausible sessions.
//
// # Hosts
//
// Every answering host is our own SMB2/3 server (package smb2) with the
// srvsvc handler (package srvs) over its own table (package session),
// wired as a daemon wires them. The sessions are drawn from one
// population, so users recur across servers as they do in an estate:
// people, a few administrators ("adm-..."), service accounts and machine
// accounts (WS0042$), from IPv4 (10.20.x.y) and IPv6 (fd00:10::x)
// clients, with ages up to a week, idle times up to the age and a few
// opens. Config.Seed makes a fleet reproducible.
//
// # Behaviours
//
// Config.Mix sets the share of each behaviour (ParseMix reads
// "normal=90,denied=4,..."): Normal answers every level to any user;
// Denied refuses non-administrators as Windows Server 2019 does; Samba
// serves levels 0 and 1 only, as Samba 4.17 does; Close accepts and
// closes; Hang accepts and never answers; Refuse has nothing listening
// (the address is bound without listening, so a connection is refused and
// no other process can take it); Slow delays every answer. Expect says
// what each yields for ScanUser at level auto, and Truth (WriteTruth as
// JSON) lists every host with its expectation and its sessions.
//
// # Resources
//
// One listener per address on one port: a fleet of N hosts holds N
// descriptors and one accept goroutine per host, plus a few kilobytes of
// server state. Start raises the soft open-file limit to the hard one and
// refuses, before listening, a fleet whose listeners plus
// Config.ExpectedConns do not fit (ErrTooManyFiles). With
// Config.TryStandardPort a root process listens on port 445, which tools
// that cannot change port need; when 445 is taken (a system smbd listening
// on *:445) the fleet takes a free port and says so in Notes.
package fleet
