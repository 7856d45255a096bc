// Package auth is the seam between security mechanisms (NTLM, Kerberos,
// the SPNEGO negotiator that chooses among them) and the protocols that
// carry their tokens (SMB2 SESSION_SETUP, DCE/RPC bind, alter_context and
// auth3).
//
// A mechanism is configured once and hands out one context per exchange:
//
//	acceptor (server side)  Acceptor.Accept(ctx, peer)  -> AcceptorContext
//	initiator (client side) Initiator.Initiate(ctx)     -> InitiatorContext
//
// Both contexts are driven the same way: Step(ctx, in) consumes the peer's
// token (nil for an initiator's first call) and returns the token to send,
// until done. An acceptor then reports a Result: the caller's Identity
// (names, SIDs, guest and anonymous flags), the mechanism that
// authenticated it and the full session key. What else a context can do is
// discovered by interface: Protector (per-message signatures and sealing,
// which DCE/RPC packet integrity and privacy use) and MICContext (the
// SPNEGO mechListMIC). Throttle is the hook a mechanism calls before and
// after checking credentials, so that one password-guessing policy covers
// every mechanism.
//
// The transports depend on this package only, never on a mechanism, so a
// new mechanism plugs in by being passed to the SPNEGO negotiator (and,
// for DCE/RPC, registered for its auth_type) without any change to the
// transport code.
//
// The package holds no state: no registry of mechanisms, nothing mutable.
package auth
