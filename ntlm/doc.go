// Package ntlm authenticates callers with NTLM (MS-NLMP) on both sides of
// the wire, and provides the session security (signing and sealing) that
// DCE/RPC packet integrity and privacy and SMB2 signing build on. It also
// reads the accounts file and turns a logon into the auth.Identity the
// session table's access policy takes.
//
// # Shape
//
// A Server (acceptor) or Client (initiator) is a configuration and an
// auth.Acceptor or auth.Initiator of auth.MechNTLM; each exchange gets its
// own context from NewContext (or Accept and Initiate). Both contexts are
// auth contexts with message protection (auth.Protector) and the SPNEGO
// mechListMIC (auth.MICContext):
//
//	out, done, err := c.Step(ctx, in) // feed the peer's token, send out
//	c.Sign(msg) / c.Verify(msg, sig)  // integrity, sequence numbered
//	c.SealWithin(pdu, lo, hi)         // privacy: sign all, encrypt [lo:hi]
//	c.UnsealWithin(pdu, lo, hi, sig)
//	c.SessionKey()                    // exported session key (SMB2)
//
// and the acceptor context adds Result, Logon and Caller. Raw NTLMSSP is
// DCE/RPC auth type 10; SPNEGO around it (auth type 9, SMB2 session setup)
// is package spnego, given a Server or Client as one of its mechanisms.
// Step takes a context for uniformity with the transports that call it; it
// does no I/O and never sleeps.
//
// # Acceptor decisions
//
//   - Only NTLMv2 is accepted by default. NTLMv1 (24-byte NT responses,
//     also with extended session security) needs Server.AllowNTLMv1;
//     LM-only responses are always refused.
//   - NTOWFv2 is computed over the user and domain exactly as the client
//     sent them (rpcclient sends its workgroup, impacket an empty domain);
//     the account is found by user name alone, case-insensitively.
//   - The MIC is required and verified whenever MsvAvFlags bit 0x2 is set
//     in the client's AV pairs, which NTProofStr protects. Whether a MIC
//     field exists is never guessed from payload offsets: a message that
//     announces a MIC but leaves no room for one (its payload starts before
//     offset 88) is refused, as is a zeroed or altered MIC. This is what
//     defeats "drop the MIC".
//   - Each context issues one fresh random server challenge and spends it
//     on the first AUTHENTICATE, whatever the outcome: a second one is
//     refused with ErrChallengeReused.
//   - The client timestamp must lie within TimestampWindow of the
//     acceptor's clock, in either direction; the default is 36 hours, the
//     MaxLifetime Windows uses. Clients copy the CHALLENGE's timestamp, so
//     the window only matters for clients that use their own clock;
//     replays are stopped by the single-use challenge.
//   - An empty NT response with an empty or one-zero-byte LM response and
//     no user name is an anonymous logon (session.Caller.Anonymous), unless
//     RefuseAnonymous. An unknown user becomes the guest only when the
//     accounts file enables guest; a known user with a wrong password never
//     does. Guest logons have no session key, so no signing.
//   - Sealing without 128-bit keys is refused at NEGOTIATE, as are
//     OEM-only and connectionless (datagram) clients. A NEGOTIATE that asks
//     for signing or sealing without extended session security gets a
//     CHALLENGE offering neither, and only a null session may follow (it
//     has no key to sign with; Samba's clients log on anonymously that
//     way); any other AUTHENTICATE is refused.
//   - Secrets are compared in constant time. Each refusal is logged through
//     the configured slog.Logger with source, user, domain, workstation and
//     reason, never a hash or response.
//   - Server.Throttle is the auth.Throttle hook, which any mechanism can
//     call (Check before verifying, Record after); this package's Throttle
//     implements it. Its priorities, in
//     order: a correct logon is never refused because of another
//     account's failures; guesses are bounded per account (then the
//     account is locked out: ErrAccountLockedOut), per source and account,
//     and per source; nothing an unauthenticated caller does resets a
//     budget (they only refill with time, and null sessions are neither
//     checked nor counted); an attempt the throttle refuses is not
//     verified and does not count. A failed logon's *LogonError carries
//     the delay (AnswerDelay, 2 s by default, as Windows 11 24H2 holds
//     back a failed NTLM logon) for which the transport holds back its
//     answer; nothing sleeps inside this package, and the budgets are
//     timestamps (GCRA) in bounded maps. nil (as in tests) disables it.
//     Each successful logon is logged at INFO with source and user.
//
// Errors are typed: refusals are *LogonError wrapping ErrLogonFailure and
// the specific reason (ErrWrongPassword, ErrMICMismatch, ...); undecodable
// tokens are *DecodeError wrapping ErrMalformed.
//
// # Session security
//
// Security implements MS-NLMP 3.4 with extended session security only:
// SIGNKEY and SEALKEY per direction, HMAC-MD5 checksums over the sequence
// number and the message, RC4-encrypted checksums when key exchange was
// negotiated, and one continuous RC4 stream per direction shared by sealed
// data and checksums. Sequence numbers count per direction from zero and
// advance on every Sign/Seal (send) and Verify/Unseal (receive), which is
// how DCE/RPC uses them: one per PDU. SealWithin signs a whole PDU but
// encrypts only the stub range, as MS-RPCE packet privacy requires. A
// failed verification disables its direction for good.
//
// # Under SPNEGO
//
// What SPNEGO (package spnego) needs of NTLM it asks through
// auth.MICContext: whether the AUTHENTICATE carried a MIC (which makes the
// mechListMIC mandatory even with NTLMSSP first), the mechListMIC itself
// (an NTLM signature over the mechType list) and, once the mechListMIC
// exchange is over, the restart of both RC4 streams from their sealing
// keys while sequence numbers continue (MS-SPNG 3.3.5.1); without that,
// the first signed request after authentication fails.
//
// # Accounts file
//
//	{"domain": "NETSESS", "guest": false, "users": [
//	  {"name": "alice", "password": "AlicePass1", "groups": ["Administrators"]},
//	  {"name": "bob", "nt_hash": "<32 hex digits>"}]}
//
// LoadAccounts refuses unknown fields, duplicate names (case-insensitive)
// and users with both or neither of password and nt_hash; its errors name
// the file, the entry (index and name) and the problem. Passwords become NT
// hashes at load time and are not kept.
//
// # Proof
//
// The tests check the MS-NLMP 4.2.2 and 4.2.4 vectors, replay real SMB2
// logons captured from rpcclient and impacket against Samba 4.17 (through
// package spnego, our acceptor's replies equal Samba's byte for byte,
// mechListMIC included), run cloudsoda/go-smb2's and impacket's initiators against the
// acceptor, and fuzz every decoder from those real tokens.
package ntlm
