package spnego

import "github.com/netsession/netsession/auth"

// GSSWrapSize reports the negotiated mechanism's auth.GSSStyle: its wrap
// token size, or (0, false) when it protects the NTLMSSP way or none was
// negotiated yet.
func (g *gate) GSSWrapSize() (int, bool) {
	if s, ok := g.mech.(auth.GSSStyle); ok {
		return s.GSSWrapSize()
	}
	return 0, false
}
