// Package client queries the sessions of a remote server over MS-SRVS
// (NetrSessionEnum and NetrSessionDel): who is connected, from where, for
// how long, idle since when; and it closes sessions.
//
// # Shape
//
// Dial connects once, binds the srvsvc interface and authenticates; the
// returned Client then serves any number of calls:
//
//	c, err := client.Dial(ctx, "fs1.example.com", client.Options{
//		Credentials: client.Credentials{User: `CORP\alice`, Password: pw},
//		Timeout:     10 * time.Second,
//	})
//	for s, err := range c.Enum(ctx, client.LevelAuto, client.Filter{}) { ... }
//
// A Filter qualifies an enumeration by client and user; the client
// applies it to every answer too (Samba ignores the qualifiers), and a
// user given with or reported with a domain ("CORP\alice", as a Samba AD
// DC names its users) matches the bare name.
//
// Enum is an iter.Seq2 because an enumeration is a sequence of pages: the
// caller sees sessions as they arrive, may stop early (no further page is
// asked for), and gets a failure as the last element. EnumAll collects the
// same into a Result that also says which level answered, and GetInfo and
// Delete are NetSessionGetInfo and NetSessionDel.
//
// # Transports
//
// A transport is anything that yields a byte stream carrying DCE/RPC PDUs
// (an internal interface with one method to open it). SMB, the default,
// is the \PIPE\srvsvc named pipe on port 445 (ncacn_np, see DialSMBPipe):
// it is where Windows and Samba serve srvsvc. TCP (ncacn_ip_tcp)
// authenticates with DCE/RPC's own NTLMSSP or SPNEGO at integrity by
// default, privacy or connect on request, or not at all for a null
// session. A server given without a port is looked up through
// Options.Mapper, the endpoint mapper client, at Options.MapperAddr (port
// 135 of the server by default); the mapper is a function so that tests
// and other mapper implementations plug in. Over an SMB named pipe the SMB
// logon is the identity and DCE/RPC carries no authentication. The SMB2/3
// client is package smb2/pipeclient: each call is one
// FSCTL_PIPE_TRANSCEIVE round trip (request in, first answer fragment
// out), as with Windows' and Samba's own clients, and every logon with a
// key signs (AES-GMAC on SMB 3.1.1 when the server offers it). The SMB
// logon is NTLM, or Kerberos (Credentials.Kerberos, a *krb5.Mechanism) in
// SPNEGO, alone or with NTLM after it (Credentials.NTLMFallback);
// Client.Mechanism says which one logged on. Over TCP the Kerberos
// initiator speaks DCE-style Kerberos (krb5.Mechanism.DCEForHost: a ticket
// for host/HOST, three legs, RFC 4121 MIC and wrap tokens for integrity
// and privacy) under auth type 16, or in SPNEGO (9) with Options.SPNEGO or
// NTLMFallback; an initiator that cannot is refused there
// (ErrKerberosTransport).
//
// # Level auto
//
// LevelAuto tries 502, 10, 1 and 0 in that order (GetInfo: 2, 10, 1, 0)
// and moves on after ERROR_INVALID_LEVEL (Samba serves only 0 and 1),
// ERROR_NOT_SUPPORTED or ERROR_ACCESS_DENIED (the older Windows default
// grants 0 and 10 to any user); every other outcome ends the search. Only
// the first page decides: once a level has answered, the enumeration stays
// on it. Result.Tried and Error.Tried list the refusals. When every level
// is refused and one of them was an access denial, the error reports the
// denial: it says more about why nothing came back than the invalid level
// of the last attempt.
//
// # Errors
//
// Every failure is an *Error whose Kind separates what users must tell
// apart: the transport (unreachable, timeout, canceled), the RPC (logon
// failure, fault with its status, protocol errors such as a refused bind)
// and a status the method returned (access denied, invalid level, not
// supported, not found, other status). A sentinel per kind works with
// errors.Is (client.ErrAccessDenied), and the underlying error stays
// reachable: errors.Is(err, session.StatusAccessDenied) and
// errors.As(err, &fault) with a *dcerpc.Fault both work.
//
// A refused logon looks different depending on the mechanism. NTLMSSP ends
// with auth3, which has no answer, so the server can only refuse the next
// request: with a fault 5 (access denied) from our server, 0x1C01000B
// (nca_s_proto_error) from Samba 4.17, perhaps 0x721 (security package
// error) elsewhere; a server may also send its fault under the auth3's
// call_id or simply disconnect. The Client therefore reads such a fault, a
// stray answer or a lost connection on the first call after an
// authenticated bind as a logon failure; once a call has been answered, a
// fault is a fault. SPNEGO's refusal comes as a fault to the
// alter_context leg, and a refused first token as a bind_nak; an error
// from our own initiator (an unusable challenge) is a logon failure too.
// One exception: at auth level connect, servers that refuse that level
// (Samba by default, and this module's server) answer the first call with
// the same fault 5 as a refused logon. That fault is then reported as
// KindFault with ErrConnectLevel in its chain: either may be the cause.
//
// # Reasons
//
// Classify describes any failure in one closed vocabulary, Reason, that
// every output shares (a scan's per-host results, the error objects of a
// single query): name_not_resolved, port_closed, unreachable, timeout,
// logon_failure, guest_refused, access_denied, invalid_level,
// not_supported, status, rpc_fault, protocol_error and canceled, with the
// raw status or fault code and the full message. It refines Kind where
// users act differently: an unknown name and a refused port are told
// apart from other unreachable hosts, and a guest logon the client
// refused from a refused password.
//
// # Not found
//
// A server answers NERR_UserNotFound or NERR_ClientNameNotFound when a
// qualifier matches no session. For an enumeration with a filter that is
// an empty list, not a failure: it is what the caller asked to know.
// GetInfo and Delete report it as KindNotFound.
//
// # Deadlines
//
// Options.Timeout bounds each exchange separately: connecting and binding
// together, then each NetrSessionEnum page and each NetrSessionDel. The
// caller's context bounds the whole; cancelling it interrupts the call in
// progress (the connection is then unusable, as its position in the byte
// stream is unknown).
//
// # Debug records
//
// Options.Logger at debug level receives, without any cost when it is
// off: the transport and how long connecting and binding took; for SMB
// the dialect, the signing algorithm, the cipher (or "off") and the kind
// of logon; for TCP the authentication type and level; then one record
// per call (operation, level, bytes sent and received, duration, error)
// and one per enumeration page (entries, total, whether more follow).
// Session.Received is when the answer that carried a session arrived, the
// instant its Time and IdleTime count back from.
package client
