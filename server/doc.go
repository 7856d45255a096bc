// Package server is the netsession daemon: a session table served over
// MS-SRVS (srvsvc NetrSessionEnum and NetrSessionDel) on ncacn_ip_tcp, with
// NTLMSSP (auth type 10) and SPNEGO (auth type 9) at packet integrity and
// privacy, and with Config.Kerberos DCE-style Kerberos too (auth type 16,
// and in SPNEGO before NTLM; tickets for host/HOST), and optionally the endpoint mapper that clients ask on port 135
// and an SMB2/3 server (Config.SMBAddr, package smb2) for IPC$ and
// \PIPE\srvsvc: the sessions set up there are the table's own, and
// NetSessionDel logs them off. Counters for operators are served over HTTP
// with Config.MetricsAddr.
//
// # Shape
//
// Config is a struct with useful zero values: a loopback port, the
// built-in demo accounts, the modern policy, Windows-style client names, no
// mapper. Its bounds are grouped as the packages that apply them group
// theirs: Config.Limits holds an smb2.Limits for SMB and dcerpc.Limits for
// srvsvc and the endpoint mapper, Config.Timeouts likewise, each zero field
// meaning that package's documented default. New builds the table (loading
// Config.Seeds), the srvsvc handler and the dcerpc.Servers (TCP, endpoint
// mapper, named pipe). Run is the one way to serve: it takes the listeners
// of Config.Listeners (a test's, or a service manager's under socket
// activation) and opens the others at the Config's addresses, writes the
// ready file, and serves until its context ends, then shuts down
// gracefully within Config.Timeouts.Shutdown. Shutdown drains (stops
// accepting, closes idle connections, waits for calls in progress), Close
// stops at once. Table exposes the session table, so an SMB server in the
// same process can feed it.
//
// # Decisions
//
// Authentication level connect. A bind at level connect succeeds and every
// call on it is answered with the fault nca_s_fault_access_denied (0x5),
// as Samba does with its default "allow dcerpc auth level connect = no":
// connect authenticates the association but protects no PDU, so anyone on
// the path could rewrite the calls. Config.AllowConnectLevel lets such
// calls through. The check wraps the srvsvc handler here rather than
// living in package dcerpc, which stays mechanism- and policy-free.
//
// Anonymous callers. An unauthenticated bind (no sec_trailer) is the
// anonymous caller, and the access policy decides: under modern, status 5
// in a full response (not a fault), as Windows and Samba answer.
//
// Demo accounts. Without an accounts file the server uses alice
// (AlicePass1, Administrators) and bob (BobPass1). Their passwords are
// published, so Run refuses, before listening, to serve them on any
// address that is not loopback (an empty host, 0.0.0.0 and :: included).
//
// Seeds. A seed is a session in the JSON schema of "netsess list --json";
// its time and idle_time say how many seconds ago it started and was last
// active. Each is opened with the table's restore fields (Spec.Created,
// LastActive and Opens, see Seed.Spec) dated against the table's clock;
// sessions enter the table in file order, which is the order
// they are listed in. 0xFFFFFFFF (Samba's "younger than half a second")
// is replayed as a session old enough to saturate. A seed without a
// "transport" gets DefaultTransport, `\Device\NetbiosSmb`, the name
// Windows reports for direct-hosted SMB; one without "client_type" gets
// "", which is what current Windows clients send.
//
// Unknown levels. A level other than 0, 1, 2, 10 and 502 is answered with
// ERROR_INVALID_LEVEL (0x7C) in a normal response that echoes the level
// with an empty union arm, as Samba does, not with a stub fault. A server
// generated from Microsoft's IDL (whose union has no default arm) most
// likely faults instead; that could not be checked against Windows. 0x7C
// is what clients and our level fallback already handle.
//
// NULL and empty. A NULL qualifier and an empty one both mean "no
// qualifier". A result without entries is EntriesRead 0 with a NULL
// Buffer, as Samba sends it, never a pointer to an empty array; a request
// with a NULL container still gets a container back (the samba-4.17
// profile answers success with nothing filled in, as Samba does).
//
// 0x908 or 0x8AD. When qualifiers match nothing, NetrSessionEnum answers
// NERR_ClientNameNotFound (0x908) if a client qualifier was given and
// NERR_UserNotFound (0x8AD) if only a user was; NetrSessionDel always
// answers 0x908. The specification allows either code for the first case
// and does not say which Windows picks.
//
// The endpoint mapper announces srvsvc at the RPC listener's port, with
// the listener's IPv4 address in the tower (0.0.0.0 for a wildcard or IPv6
// listener). Samba 4.17's rpcclient ignores the port of an ncacn_ip_tcp
// binding and always asks the mapper on port 135, so rpcclient needs the
// mapper there (--epm 127.0.0.1:135); impacket, and our client, use the
// port in the binding.
//
// Compatibility. Config.Compat = srvs.CompatSamba417 answers as Samba 4.17
// does (levels 0 and 1 only, filters and budget ignored, Samba's totals
// and resume handles, 5 for a delete that matches nothing, wildcard
// deletes) and forces bare client names. With it, the answers to the 24
// captured Samba exchanges are equal to Samba's once referent IDs are made
// canonical.
//
// Observability. Metrics returns the counters an operator watches: the
// sessions in the table, the SMB server's smb2.Stats (connections
// accepted, refused at the limit and open, sessions established and open,
// refused logons, timeouts, protocol errors, bytes each way, requests by
// command) and the srvsvc calls by opnum and returned status ("fault" for
// a fault), counted on every transport. MetricsHandler serves them over
// HTTP in two standard shapes: /metrics in the Prometheus text format
// (written by the module's one exposition, which netsess watch --metrics
// uses too under its own netsess_watch_ names), for a scraper, and /debug/vars as one JSON object with runtime memory
// statistics, as expvar does (expvar itself is not used: its registry is
// process-wide, and a process may run several servers). Config.MetricsAddr
// (netsess serve --metrics) serves it. Records of events go to the
// structured Logger.
package server
