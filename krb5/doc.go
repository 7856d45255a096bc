// Package krb5 is the Kerberos 5 mechanism: the client side that logs on
// and makes AP-REQs, the service side that accepts them, the GSS-API token
// framing (RFC 4121, RFC 1964), and a decoder for the Windows PAC
// (MS-PAC) that carries the caller's SIDs.
//
// The ASN.1 messages, the encryption types and the KDC exchanges come
// from github.com/jcmturner/gokrb5/v8; none of its types appear in this
// package's API, so that it can be replaced.
//
// Client side: NewClient logs on with a Credential (Password, AESKey,
// NTHash, Keytab, or CCache: an MIT credential cache as kinit writes it,
// from $KRB5CCNAME with or without "FILE:"), using krb5.conf ($KRB5_CONFIG)
// or an explicit realm and KDC. Client.Initiator obtains a service ticket
// (DefaultSPN: cifs/HOST) and returns an Initiator, whose Init gives the
// AP-REQ (mutual authentication, a fresh subkey, GSS flags in the
// checksum) and whose Accept checks the AP-REP: it decrypts the encrypted
// part with the ticket's session key (key usage 12), checks that it echoes
// the authenticator's time, and takes its subkey as the session key. A
// missing or short subkey is ErrNoSubkey.
//
// Service side: an Acceptor holds a keytab (Keys). Accept decrypts the
// ticket with the key of the ticket's own service principal (or an
// explicit Map), checks its times, the authenticator and the clock skew,
// refuses tickets for services outside Services, refuses replays with a
// replay cache that belongs to the Acceptor (no global state, no
// goroutine), decodes the PAC and verifies its server signature, and
// builds the AP-REP with a fresh acceptor subkey, which is the session
// key.
//
// Per-message protection: Initiator.Wrapper, once the context is
// established, gives a Wrapper that makes and checks the Wrap tokens of
// RFC 4121 (sealed, or signed only; AES-128 and AES-256 session keys),
// keyed by the acceptor's subkey, with sequence numbers starting from the
// authenticator's and the AP-REP's; tokens out of sequence are
// ErrSequence. Package directory seals LDAP with it (SASL GSSAPI).
//
// As an auth mechanism: Mechanism is an auth.Initiator (each exchange asks
// its TicketSource, a *Client, for a ticket for SPN, or for cifs/HOST
// through ForHost) and Acceptor.AuthAcceptors gives auth.Acceptors for
// both Kerberos OIDs, whose Result carries the PAC's identity and SIDs and
// the acceptor subkey; package spnego negotiates them next to NTLM. Their
// logons go through a logon throttle (Acceptor.Throttle, or
// AuthAcceptorsWith) as NTLM's do. The established contexts make and
// check RFC 4121 MIC tokens (auth.MICContext) for SPNEGO's mechListMIC.
//
// DCE/RPC (MS-RPCE, MS-KILE) uses the DCE-style variant (FlagDCEStyle):
// Mechanism.DCEForHost (a ticket for host/HOST by default) and
// Acceptor.DCEAcceptors run three legs, AP-REQ, the acceptor's bare AP-REP,
// and the initiator's bare AP-REP (no subkey, the acceptor's sequence
// number, encrypted with the ticket's session key). Their contexts protect
// PDUs with RFC 4121 tokens under the acceptor subkey (AES only): MIC
// tokens for integrity, wrap tokens for privacy with the data encrypted in
// place and the rest of the token (16 octets of filler, the encrypted
// header copy, the checksum and the confounder, RRC 28) in the verifier,
// as Windows and Heimdal lay it out; the filler of a received token may
// be of any length. They are auth.Protector, auth.GSSStyle and
// auth.MICContext (SPNEGO's mechListMIC).
//
// Errors: KDC and peer errors are *KDCError, which match the sentinel
// errors (ErrClockSkew, ErrWrongPassword, ErrUnknownUser,
// ErrUnknownService, ...) with errors.Is; acceptor refusals wrap the same
// sentinels (ErrReplay, ErrWrongService, ErrClockSkew, ErrIntegrity). As
// an auth mechanism the acceptor answers such a refusal with a KRB-ERROR
// token stamped with its own time (SPNEGO's reject carries it), and the
// initiator turns that token back into a *KDCError: a client whose clock
// is off learns that it is, from the service as from the KDC.
package krb5
