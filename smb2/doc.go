// Package smb2 is an SMB 2 and 3 server for the IPC$ share and its named
// pipes: enough of MS-SMB2 for clients to reach DCE/RPC services such as
// srvsvc over ncacn_np, with every session it sets up recorded in a
// session.Table, so that NetSessionEnum lists real SMB sessions.
//
// # Scope
//
// Dialects 2.0.2, 2.1, 3.0, 3.0.2 and 3.1.1, including the upgrade from an
// SMB1 multi-protocol NEGOTIATE ("SMB 2.002" answers 2.0.2 at once, "SMB
// 2.???" answers the wildcard 0x02FF and waits for the SMB2 NEGOTIATE).
// SESSION_SETUP runs Server.Auth (SPNEGO over NTLM, say) over as many legs as the
// mechanism needs; TREE_CONNECT accepts IPC$ only (the share is what
// follows the last backslash; anything else is STATUS_BAD_NETWORK_NAME);
// CREATE opens the pipes the server has handlers for (other names are
// STATUS_OBJECT_NAME_NOT_FOUND); WRITE, READ and FSCTL_PIPE_TRANSCEIVE
// move messages; FSCTL_VALIDATE_NEGOTIATE_INFO is answered (signed) for
// 3.x; CLOSE, FLUSH, ECHO, LOGOFF, TREE_DISCONNECT and CANCEL complete the
// set; QUERY_INFO answers FileStandardInformation on a pipe. Any other
// command or information class gets a status, never a dropped connection.
// A pipe READ or transceive that has to wait is answered asynchronously
// (see Pipes).
//
// # Keys and signing
//
// Dialects 2.0.2 and 2.1 sign with HMAC-SHA256 keyed by the session key.
// 3.0 and 3.0.2 derive the signing key with the SP800-108 counter-mode KDF
// (label "SMB2AESCMAC", context "SmbSign") and sign with AES-128-CMAC. 3.1.1
// derives it with label "SMBSigningKey" over the session's
// pre-authentication hash (SHA-512 chained over NEGOTIATE and every
// SESSION_SETUP request and non-final response) and signs with AES-GMAC
// when the client offers it in SMB2_SIGNING_CAPABILITIES, else AES-CMAC.
//
// Signing is required for sessions that have a key by default (Windows 11
// 24H2 requires it); SigningEnabled signs only when the client asks.
// Guest and anonymous sessions have no key: they are admitted, unsigned,
// only when AllowGuest or AllowAnonymous say so.
//
// ECHO is served before the session checks of other commands (an idle
// client may send it with a stale or zero SessionId), but when it names a
// session that has a signing key it is treated like any request of that
// session: a bad signature gets STATUS_ACCESS_DENIED, and the answer is
// signed exactly when the request was signed (MS-SMB2 3.3.4.1.1), even if
// the session requires signing: an unsigned ECHO gets an unsigned answer,
// so nobody obtains signatures made with a session's key by injecting
// unsigned requests. A client that requires signing rejects that answer,
// which is right: it should have signed its ECHO.
//
// # Encryption
//
// Server.Encryption (off, desired, required) decides whether SMB 3.x
// sessions encrypt. 3.0 and 3.0.2 clients that announce
// SMB2_GLOBAL_CAP_ENCRYPTION get it back and use AES-128-CCM; 3.1.1
// clients list ciphers in SMB2_ENCRYPTION_CAPABILITIES and the server
// takes the first of AES-128-GCM, AES-128-CCM, AES-256-GCM and
// AES-256-CCM in the client's order (the client knows what its hardware
// does fastest), answering cipher 0 when none is common. Under off the
// server announces nothing and nobody encrypts.
//
// A session encrypts when the policy is not off, the connection agreed
// on a cipher and the logon has a key (guest and anonymous ones have
// none). Its SESSION_SETUP answer carries SMB2_SESSION_FLAG_ENCRYPT_DATA
// (itself signed, not encrypted) and its TREE_CONNECT answers
// SMB2_SHAREFLAG_ENCRYPT_DATA. The keys come from the same KDF as the
// signing key: "SMB2AESCCM" with "ServerIn " and "ServerOut" for 3.0.x,
// "SMBC2SCipherKey" and "SMBS2CCipherKey" over the pre-authentication
// hash for 3.1.1, 256 bits long for the AES-256 ciphers. AES-CCM is
// implemented in the internal smbcrypto package (the standard library
// has only GCM).
//
// Every answer to an encrypted message is encrypted with the key of the
// session that sent it, as is every answer on an encrypting session. An
// encrypted message that fails authentication, names a session without
// keys, or wraps a header of another session ends the connection. The
// server's nonces are a per-session 64-bit counter followed by random
// salt bytes (11 bytes in all for CCM, 12 for GCM), so they never repeat
// under a key; replays of client messages are caught by the message ID
// window like any other request.
//
// Under required, a logon that cannot encrypt (dialect 2.x, no
// CAP_ENCRYPTION, no common cipher, guest or anonymous) fails with
// STATUS_ACCESS_DENIED, and so does a request in clear on an encrypting
// session. Under desired, such clients are served in clear and clear
// requests on an encrypting session are accepted (and answered
// encrypted).
//
// SESS_NOENCRYPTION (user flag 0x2 of SESSION_INFO_1, 2 and 502) is never
// set for SMB sessions: MS-SRVS defines it as a logon made without
// password encryption, that is with a plaintext password, which this
// server never accepts; it says nothing about SMB 3 transport
// encryption, so encrypted and clear sessions alike report 0 (or
// SESS_GUEST).
//
// # Sessions are real
//
// A successful SESSION_SETUP opens a session in the table: cname is the
// client's IP address, the user is the account name, the guest flag is the
// logon's, the transport is Server.Transport (DefaultTransport,
// `\Device\NetbiosSmb`, the name Windows shows for SMB over TCP). Each open
// pipe is an open of the session. Every request of the session except ECHO
// is activity: ECHO is what an idle client sends to keep its connection, so
// counting it would make every idle session look busy. LOGOFF and a closed
// connection remove the session.
//
// NetSessionDel (Table.Delete, over a pipe or any transport) logs the
// matching SMB sessions off for real: the table calls the session's
// OnClose hook, the connection marks the session deleted and logs it off
// as soon as none of its pipes has a call in flight or an answer not yet
// read, or after Timeouts.LogoffGrace regardless. So a caller that deletes its own
// session collects the NetrSessionDel answer first. Meanwhile the session
// may only READ, CLOSE, TREE_DISCONNECT and LOGOFF; any other request, and
// every request once it is logged off, fails with
// STATUS_USER_SESSION_DELETED. A connection left without sessions by a
// deletion is closed.
//
// # Pipes
//
// A pipe is served by a PipeService, which opens a PipeConn for each
// CREATE: the server hands the PipeConn each client WRITE (or a
// transceive's input) and takes its answers, one message at a time, for
// READs and transceives. How the answers are made is the service's
// business; two services come with the package.
//
// RPCService (what Server.RPC serves srvsvc with) answers inline: each
// open is a dcerpc.MessageConn, which answers every complete PDU of a
// write on the connection's own goroutine before the request's response
// is built, so a call costs no goroutine switch and its answer is ready
// for the transceive or the next READ. The handlers it runs
// (NetrSessionEnum over the table, NetrSessionDel) never wait for the
// connection.
//
// A PipeHandler serves each open on a goroutine of its own, as a
// message-mode in-memory net.Conn (RPCPipe serves it with a dcerpc.Server,
// passing the session's identity as the caller). Client writes queue up as
// a byte stream for the handler; each handler Write is one message for
// the client, and waits while the answers not read would pass
// Limits.MaxPipeBuffer.
//
// Either way, unread answers and unanswered input are bounded by
// Limits.MaxPipeBuffer (one answer may exceed it): a WRITE is refused with
// STATUS_INSUFFICIENT_RESOURCES while that many octets of answers wait or
// the input held would pass the bound, and an inline pipe answers no
// further call of a write until the client reads. The pipes of one
// session, and of one connection, are bounded together as well
// (Limits.MaxSessionPipeMemory, Limits.MaxConnPipeMemory), a request being reassembled
// counting as input held; a pipe with nothing in flight for
// Timeouts.PipeIdle is closed. A READ or transceive
// whose buffer is smaller than the message gets its first part with
// STATUS_BUFFER_OVERFLOW and the rest on the next READ, as Windows does.
// File offsets are ignored: clients send running offsets on pipes.
//
// A READ or transceive (FSCTL_PIPE_TRANSCEIVE) while a call is in
// progress (the PipeConn reports itself busy: input queued or a handler
// working on it) waits 1 ms for the answer, which most DCE/RPC calls
// meet, and then goes asynchronous, as
// on Windows: the server answers with an interim STATUS_PENDING carrying
// SMB2_FLAGS_ASYNC_COMMAND, a fresh AsyncId and the credits the request
// earns, and keeps serving the connection (ECHO, other pipes, other
// sessions); the final answer follows with the same MessageId and AsyncId
// and no credits. A CANCEL naming the AsyncId (or, in the synchronous
// form, the MessageId) ends it with STATUS_CANCELLED, provided it proves
// its session as any request must (sealed with the session's key, or
// signed with it, or unsigned where the session neither signs nor
// encrypts); one that does not is dropped, CANCEL having no answer of its
// own. An answer the
// handler writes later stays for the next READ. Timeouts.Pipe still bounds
// the wait. Interim responses are not signed (MS-SMB2 advises against
// it; the final answer is signed under the usual rules) but are encrypted
// like any answer of an encrypting session. A waiting read's goroutine
// only hands its result over; the frame is built and sent under the
// connection's lock, so signing and the encryption nonce counters see
// one sender at a time. A read inside a compound, or beyond 64 pending ones per
// connection, waits synchronously instead, up to Timeouts.Pipe. A final
// answer for a session that has ended meanwhile is dropped.
//
// A READ when the pipe waits for input and nothing is queued answers
// STATUS_PIPE_EMPTY at once instead of pending. No answer can come
// without the client writing first, and our pipes serve request/response
// protocols only; that is also what a non-blocking (PIPE_NOWAIT) pipe
// answers on Windows, where a blocking one would pend until a write.
//
// # Credits and message IDs
//
// Every request must use message IDs inside the window the granted
// credits allow, each once; CreditCharge counts as that many IDs. A
// violation closes the connection, as Windows does. Credits are granted
// as asked, keeping at most Limits.MaxCredits outstanding and never leaving a
// client with none. Compounded requests are processed in order, related
// ones inheriting the session, tree and file of the previous one.
//
// # Limits and timeouts
//
// Every resource a client can make the server hold is bounded by a field
// of Server.Limits, and every phase of a connection by one of
// Server.Timeouts; each zero field means a documented default (the
// Default constants, with their reasons in limits.go): connections
// server-wide (MaxConns) and per IP address or IPv6 /64
// (MaxConnsPerAddr), sessions and open pipes per connection, the size
// of one message, the bytes written to a pipe ahead of its handler, and
// credits. A connection reads one message at a time, the next only once
// the previous is answered, so its memory is one message plus its pipes'
// buffers, whatever it pipelines. Time is bounded the same way: NEGOTIATE
// must come within Timeouts.Negotiate of accept, a session within
// Timeouts.Setup of NEGOTIATE however chatty the client is meanwhile, a
// started message must be complete within Timeouts.Message (a half-sent
// header cannot stall the reader), a connection with sessions may be
// silent for Timeouts.Idle, and a client that does not read its answers
// holds a write at most Timeouts.Write. Stats counts what an operator
// watches: connections, sessions, refused logons, timeouts, protocol
// errors, bytes and requests by command.
//
// # Connection lifecycle
//
// A connection has two goroutines and one lock over its protocol state.
// The reading goroutine reads a frame and handles it under the lock: in
// the common case (a request answered at once, the srvsvc pipe answered
// inline) a request costs no goroutine switch at all. The serving
// goroutine handles what comes from elsewhere, under the same lock: the
// final answers of asynchronous reads, events from a small queue (a
// session deleted from the table or its grace run out, a change of a busy
// pipe of a deleted session), draining and the end of the connection. Serve, ServeConn, Shutdown and Close follow
// net/http; Shutdown takes no new request from a connection but lets its
// pending asynchronous reads send their final answers.
package smb2
