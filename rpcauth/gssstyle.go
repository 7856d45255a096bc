package rpcauth

import "github.com/netsession/netsession/auth"

// gssWrapSize forwards auth.GSSStyle from the wrapped context.
func gssWrapSize(c any) (int, bool) {
	if s, ok := c.(auth.GSSStyle); ok {
		return s.GSSWrapSize()
	}
	return 0, false
}

// GSSWrapSize forwards the context's auth.GSSStyle (Kerberos), so that
// dcerpc sizes sealed verifiers and covers the header as the mechanism
// does.
func (a acceptor) GSSWrapSize() (int, bool) { return gssWrapSize(a.AcceptorContext) }

// GSSWrapSize forwards the context's auth.GSSStyle.
func (i initiator) GSSWrapSize() (int, bool) { return gssWrapSize(i.InitiatorContext) }
