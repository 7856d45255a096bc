package ntlm

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/session"
)

// SecurityContext is the shape shared by the four contexts of this package
// (NTLM and SPNEGO, initiator and acceptor): what a DCE/RPC association or
// an SMB2 session setup drives. Step consumes the peer's token (nil for an
// initiator's first call) and returns the token to send, if any; done
// becomes true once the context is established. Signing and sealing then
// follow Security.
type SecurityContext interface {
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	Done() bool
	SessionKey() []byte
	Flags() NegotiateFlags
	// SignatureSize is the size of every signature: SignatureSize (16).
	SignatureSize() int
	Sign(msg []byte) ([]byte, error)
	Verify(msg, sig []byte) error
	SealWithin(msg []byte, lo, hi int) ([]byte, error)
	UnsealWithin(msg []byte, lo, hi int, sig []byte) error
}

// AcceptorContext is a SecurityContext of the accepting side, which also
// knows who the caller is.
type AcceptorContext interface {
	SecurityContext
	Caller() session.Caller
	Logon() (Logon, bool)
}

// DCE/RPC auth_type values (MS-RPCE 2.2.1.1.7) this package serves.
const (
	AuthTypeSPNEGO  = 9
	AuthTypeNTLMSSP = 10
)

// NewAcceptor returns an acceptor context for a DCE/RPC auth_type: raw
// NTLMSSP (10) or SPNEGO (9).
func (s *Server) NewAcceptor(authType uint8, source string) (AcceptorContext, error) {
	switch authType {
	case AuthTypeNTLMSSP:
		return s.NewContext(source), nil
	case AuthTypeSPNEGO:
		return s.NewSPNEGOContext(source), nil
	}
	return nil, fmt.Errorf("%w: auth type %d", ErrUnsupported, authType)
}

// NewInitiator returns an initiator context for a DCE/RPC auth_type.
func (c *Client) NewInitiator(authType uint8) (SecurityContext, error) {
	switch authType {
	case AuthTypeNTLMSSP:
		return c.NewContext(), nil
	case AuthTypeSPNEGO:
		return c.NewSPNEGOContext(), nil
	}
	return nil, fmt.Errorf("%w: auth type %d", ErrUnsupported, authType)
}

// SignatureSize returns 16, the size of an NTLMSSP_MESSAGE_SIGNATURE.
func (*ServerContext) SignatureSize() int { return SignatureSize }

// SignatureSize returns 16, the size of an NTLMSSP_MESSAGE_SIGNATURE.
func (*ClientContext) SignatureSize() int { return SignatureSize }

// SignatureSize returns 16: SPNEGO adds nothing to NTLM signatures.
func (*SPNEGOServerContext) SignatureSize() int { return SignatureSize }

// SignatureSize returns 16: SPNEGO adds nothing to NTLM signatures.
func (*SPNEGOClientContext) SignatureSize() int { return SignatureSize }

// Compile-time checks that the contexts have the shared shape.
var (
	_ AcceptorContext = (*ServerContext)(nil)
	_ AcceptorContext = (*SPNEGOServerContext)(nil)
	_ SecurityContext = (*ClientContext)(nil)
	_ SecurityContext = (*SPNEGOClientContext)(nil)
)
