// Package spnego negotiates a security mechanism (RFC 4178, MS-SPNG)
// among the ones it is given, on both sides, for SMB2 SESSION_SETUP and
// DCE/RPC auth type 9.
//
// Acceptor and Initiator are auth.Acceptor and auth.Initiator themselves
// (of auth.MechSPNEGO) built over other mechanisms, passed in explicitly:
//
//	acc, err := spnego.NewAcceptor(ntlmServer)                // server side
//	ini, err := spnego.NewInitiator(kerberosCreds, ntlmCreds) // client side
//
// There is no registry: a new mechanism takes part by being passed here.
// The acceptor selects the first of the initiator's mechanisms it has;
// when that is not the initiator's first choice the initiator restarts
// with it and the mechListMIC is mandatory. The mechListMIC is made and
// checked with the mechanism's auth.MICContext, and required as well when
// the mechanism says so. With NTLM the initiator's MIC comes first (with
// AUTHENTICATE); with Kerberos, whose last token is the acceptor's
// AP-REP, the acceptor sends its MIC with that token and completes on the
// initiator's. An acceptor's MIC that comes with its last token
// unrequested is verified. A refusal carries the mechanism's error token
// when it has one (a Kerberos KRB-ERROR), which the initiator reads into
// its error. Once the exchange is complete the contexts offer the
// mechanism's message protection (auth.Protector) and result.
//
// Tokens are decoded by a small DER reader (definite lengths of at most
// four octets, single-octet tags, every length checked against what is
// left); NegTokenInit, its NegTokenInit2 form and NegTokenResp are
// exported for tests and tools.
package spnego
