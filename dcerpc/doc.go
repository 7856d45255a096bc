// Package dcerpc implements connection-oriented DCE/RPC 5.0 (C706 chapter
// 12 with the MS-RPCE extensions): the PDUs, presentation context
// negotiation, fragmentation, faults and the authentication verifier, with a
// Server and a Client that run over any byte stream (a TCP connection for
// ncacn_ip_tcp, an SMB named pipe for ncacn_np).
//
// The package carries stubs as opaque bytes. Decoding NDR is the business of
// the interface packages; their handlers are registered on the Server by
// UUID and version.
//
// # PDUs
//
// DecodePDU is a bounds-checked view over one received fragment: byte-slice
// fields alias the input, every count and length is checked against the
// octets actually present before anything is allocated, and every error
// wraps ErrMalformed. Each PDU type knows its encoded size (Size) and writes
// into a caller's buffer (MarshalTo), filling in the version, data
// representation, frag_length, auth_length and the auth padding.
//
// Only the little-endian / ASCII / IEEE data representation (10 00 00 00)
// is accepted. No deployed client uses another, and a server cannot even
// trust the frag_length of such a PDU, so the server closes the connection
// (without an answer) on any other representation. Versions other than 5.0
// and 5.1 are refused the same way, except that a bind gets a bind_nak
// (reason 4, protocol version not supported, listing 5.0) first.
//
// # Presentation negotiation
//
// The server answers as Samba 4.17 does:
//
//   - an abstract syntax nobody registered: provider_rejection (2), reason
//     abstract syntax not supported (1);
//   - a registered interface without NDR 2.0 among the transfer syntaxes
//     (NDR64 alone, say): provider_rejection, reason proposed transfer
//     syntaxes not supported (2);
//   - the bind-time feature negotiation pseudo syntax (6cb71c2c-9812-4540-…,
//     only in a bind): negotiate_ack (3) with the reason field carrying the
//     feature bits the server implements among those offered. That is only
//     KeepConnectionOnOrphan (0x2): an orphaned PDU drops the call being
//     reassembled and the connection goes on. Security context multiplexing
//     (0x1) is not offered: an association has at most one security context;
//   - a bind with no context gets a bind_nak (reason 4); a context without
//     transfer syntaxes, two feature negotiation contexts or one context id
//     for two interfaces a bind_nak (reason 0), or in an alter_context a
//     fault nca_s_proto_error and a close;
//   - unlike Samba, which accepts at most one new context per bind or
//     alter_context, every acceptable context offered is accepted;
//   - a request on a context that was not accepted: fault nca_s_unknown_if
//     (0x1C010003); an opnum the interface does not have: fault
//     nca_s_op_rng_error (0x1C010002), decided by Interface.NumOpnums or by
//     the handler returning ErrOpRange; a stub the handler cannot decode:
//     fault 0x000006F7 (ErrBadStub). These faults carry PFC_DID_NOT_EXECUTE.
//
// A bind negotiates the fragment sizes as Samba and Windows do: one value,
// the smaller of the client's max_xmit_frag and max_recv_frag, capped by
// Server.Limits.MaxXmitFrag and MaxRecvFrag and truncated to a multiple of
// 8; but never below the 1432 octets every implementation must receive
// (Samba raises small values to 2048, which a conforming client may not be
// able to receive). The caps differ by default: the server receives at
// most 5840-octet fragments (what Windows accepts over TCP, and a bound
// on what a connection buffers) but sends fragments as large as the
// client takes, up to 65528 octets. Clients offering 4280 or 5840
// (rpcclient, impacket, Windows) see no difference; this package's client
// offers 65528 both ways, so an answer of 17 KB (200 sessions at level 1)
// comes in one fragment, one round trip over a pipe instead of four.
// Samba 4.17 grants it 5840. A zero assoc_group_id gets a fresh one; a
// non-zero one is echoed, since no state is shared between associations. The bind_ack
// carries the secondary address of the connection (Server.SecondaryAddr or
// ConnConfig.SecondaryAddr: the port number for ncacn_ip_tcp, `\PIPE\srvsvc`
// for ncacn_np), padded so that the result list is 4-aligned; an
// alter_context_resp carries an empty one.
//
// # Requests and responses
//
// Request fragments are reassembled up to Server.Limits.MaxReassembledSize
// (default 1 MiB), or Limits.MaxUnauthReassembledSize (default 16 KiB)
// while the caller is anonymous or guest: an anonymous NetrSessionEnum
// or ept_map request is under 1 KiB. A fragment over the negotiated size
// gets a fault nca_s_proto_error and the connection is closed; a request
// over the cap gets a fault 0x5 (access denied, as Samba answers) and the
// connection is closed; so is a first fragment whose alloc_hint announces
// more than the cap. What all connections reassemble at once is bounded
// by Limits.MaxBufferedRequests (default 64 MiB): a fragment that would
// exceed it gets nca_s_fault_remote_no_memory and its connection is
// closed. A request must be complete within Server.Timeouts.Reassembly
// (default 30 s) of its first fragment; further fragments, empty ones
// included, do not extend it (nor does the idle timeout apply meanwhile).
//
// Serve holds at most Server.Limits.MaxConns connections (default 1024), and
// Limits.MaxConnsPerAddr (default 256) from one IP address (an IPv6 /64);
// more are closed as soon as accepted, with one WARN record per address
// every ten seconds counting them. An accept that fails for want of
// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED) is
// retried after 5 ms, doubling to 1 s, as net/http does: exhausting the
// descriptors pauses the listener, it never stops the server. Interleaving the fragments of two calls is refused (PFC_CONC_MPX is
// never granted). Calls on one connection run one at a time, in order. An
// orphaned PDU for the call being reassembled discards it (Samba and
// Windows only note it); co_cancel is ignored, as calls run to completion.
// Responses are fragmented to the negotiated size: each fragment's
// alloc_hint is the number of stub octets from its start to the end (5372
// then 1116 for a 5372-octet response in 4280-octet fragments, as Samba
// sends it).
//
// Protocol violations (a request or alter_context before the bind, a PDU
// type a server never receives, shutdown included, an undecodable PDU, a
// request before the security context is complete) get a fault
// nca_s_proto_error, an undecodable or second bind a bind_nak, and the
// connection is closed. Idle connections, connections that do not bind in
// time and PDUs that stall half-way are closed by deadlines.
//
// # Authentication hooks
//
// Mechanisms plug in through AuthAcceptor (server) and AuthInitiator
// (client); this package does the PDU side: the sec_trailer, its placement
// at frag_length - auth_length - 8, auth padding (request, response and fault
// stubs padded to a multiple of 16; other PDUs align the trailer to 4),
// auth_length, and checking that every fragment of a protected association
// carries the association's verifier. The exchange is the one of MS-RPCE:
// the bind's token goes to the mechanism and its answer into the bind_ack;
// a mechanism that is done after its next token sends it in auth3 (NTLMSSP),
// one that is not continues with alter_context legs (SPNEGO).
//
// At packet integrity every request and response fragment is signed over
// the whole PDU up to the auth_value (header, stub with its padding, and
// the sec_trailer); at packet privacy the stub and padding are also sealed
// in place. A mechanism that protects the GSS-API way (auth.GSSStyle:
// Kerberos) covers the header and sec_trailer only when the bind asked for
// header signing (PFC_SUPPORT_HEADER_SIGN, which the client always asks
// for and the server grants), the stub and padding alone otherwise, and
// its sealing verifier (a wrap token) is larger than its signing one (a
// MIC token). At connect level the association is authenticated and PDUs
// carry no verifier. Levels call (3) and packet (4) are refused with a
// bind_nak. A bind naming an auth_type with no AuthAcceptor gets a bind_nak
// with reason 8 (authentication type not recognised), as MS-RPCE specifies;
// a mechanism refusing the bind's token gets a bind_nak, refusing an
// alter_context leg a fault nca_s_fault_sec_pkg_error (0x721) and a close.
// An auth3 has no answer, so a refused auth3 is reported on the next request
// with a fault 0x5. A request whose verifier is missing or does not verify
// gets a fault 0x721 and the connection is closed. Faults are sent
// unprotected, with alloc_hint 24 and the call's context id, as Samba sends
// them.
//
// The PDUProtector method set matches the security contexts of the ntlm
// package (Step, Caller, Sign, Verify, SealWithin, UnsealWithin); only
// SignatureSize has to be added to use them here.
//
// # Identity
//
// Each call's handler gets a *Call with the caller (session.Caller): the
// security context's identity when the association authenticated, else the
// identity the transport established (ConnConfig.Caller, the SMB session for
// ncacn_np), else anonymous; plus the remote address and the auth type and
// level in effect.
//
// # Server lifecycle
//
// Server is a config struct with useful zero values, in the manner of
// net/http, its bounds grouped in Limits and Timeouts; the client's
// options are a ClientConfig, a connection's a ConnConfig and a call's a
// CallOptions, each with a zero value that will do. Serve accepts and
// serves each connection in its own goroutine (and closes the listener
// when it returns), ServeConn serves a connection in the caller's
// goroutine, Shutdown stops accepting, closes idle connections and waits
// for calls in progress, Close stops everything and cancels the handlers'
// context.
//
// A transport that hands over whole client writes and keeps the answers as
// messages (a named pipe) can skip the stream and its goroutine:
// NewMessageConn starts an association that MessageConn.Write feeds,
// answering every PDU the bytes complete before it returns; the answers
// wait, one message per PDU, until MessageConn.Next takes them, and
// ConnConfig.MaxPending bounds how many may wait before the association stops
// answering. A PDU split across writes waits for its rest; the protocol
// checks, limits and answers are those of a stream connection, and
// Shutdown and Close end such associations like idle connections.
package dcerpc
