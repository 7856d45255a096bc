package dcerpc

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/session"
)

// AuthType is the security provider in a sec_trailer (MS-RPCE 2.2.1.1.7).
type AuthType uint8

// Security providers.
const (
	AuthTypeNone     AuthType = 0
	AuthTypeSPNEGO   AuthType = 9  // RPC_C_AUTHN_GSS_NEGOTIATE
	AuthTypeNTLM     AuthType = 10 // RPC_C_AUTHN_WINNT
	AuthTypeKerberos AuthType = 16 // RPC_C_AUTHN_GSS_KERBEROS
	AuthTypeNetlogon AuthType = 68 // RPC_C_AUTHN_NETLOGON
)

const (
	authTrailerLen = 8  // sec_trailer without the auth_value
	authPadAlign   = 16 // request/response stubs are padded to this
)

// AuthLevel is the protection a security context applies (MS-RPCE
// 2.2.1.1.8).
type AuthLevel uint8

// Authentication levels.
const (
	AuthLevelNone AuthLevel = 1
	// AuthLevelConnect authenticates the association only; PDUs carry no
	// verifier.
	AuthLevelConnect AuthLevel = 2
	AuthLevelCall    AuthLevel = 3
	AuthLevelPkt     AuthLevel = 4
	// AuthLevelIntegrity signs every request and response fragment.
	AuthLevelIntegrity AuthLevel = 5
	// AuthLevelPrivacy seals (encrypts and signs) every request and
	// response fragment.
	AuthLevelPrivacy AuthLevel = 6
)

func (l AuthLevel) String() string {
	switch l {
	case 0, AuthLevelNone:
		return "none"
	case AuthLevelConnect:
		return "connect"
	case AuthLevelCall:
		return "call"
	case AuthLevelPkt:
		return "packet"
	case AuthLevelIntegrity:
		return "integrity"
	case AuthLevelPrivacy:
		return "privacy"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// AuthVerifier is a decoded sec_trailer plus its auth_value. PadLength is
// the number of padding octets between the body and the trailer; encoders
// compute it themselves and ignore the field.
type AuthVerifier struct {
	Type      AuthType
	Level     AuthLevel
	PadLength uint8
	ContextID uint32
	// Value is the token or signature (auth_length octets). Decoders alias
	// the input buffer.
	Value []byte
}

// PDUProtector applies packet integrity or privacy to the request and
// response fragments of an established security context, with the byte
// ranges MS-RPCE 3.3.1.5.2 defines:
//
//   - msg is the whole fragment except the auth_value: common header, body
//     (including the stub and its auth padding) and the 8-byte sec_trailer.
//     Its auth_length and frag_length already count the signature, so the
//     signature covers them.
//   - msg[lo:hi] is the stub plus its auth padding: what privacy encrypts
//     in place.
//   - the signature is the auth_value and must be SignatureSize() octets.
//
// It is auth.Protector, the message protection every mechanism's context
// may offer. Implementations keep their own sequence numbers; the dcerpc
// layer calls them once per fragment, in wire order, from one goroutine
// at a time.
type PDUProtector = auth.Protector

// AuthBindInfo describes the sec_trailer of the bind or alter_context that
// starts a security context.
type AuthBindInfo struct {
	Type       AuthType
	Level      AuthLevel
	ContextID  uint32
	RemoteAddr string
	// Transport is the caller identity the transport established (the SMB
	// session for ncacn_np), anonymous otherwise.
	Transport session.Caller
}

// AuthAcceptor is the server-side hook: one per auth_type (Server.Auth).
// When a bind or alter_context carries a sec_trailer, the server asks the
// acceptor registered for its auth_type for a new SecurityContext and feeds
// it every token of the exchange: bind → bind_ack, then auth3 (NTLMSSP's
// third leg, no answer) or further alter_context → alter_context_resp legs
// (SPNEGO).
type AuthAcceptor interface {
	NewSecurityContext(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error)
}

// AuthAcceptorFunc adapts a function to AuthAcceptor.
type AuthAcceptorFunc func(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error)

// NewSecurityContext calls f.
func (f AuthAcceptorFunc) NewSecurityContext(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error) {
	return f(ctx, info)
}

// ServerSecurityContext is one security context of an association, on the
// accepting side.
type ServerSecurityContext interface {
	// Step consumes the client's token (a private copy the context may
	// keep) and returns the token for the
	// answer (nil for none). done reports that the context is established;
	// after that Caller and the PDUProtector methods are used. An error
	// fails the exchange: a bind gets a bind_nak, an alter_context or auth3
	// a fault and the connection is closed.
	Step(ctx context.Context, token []byte) (out []byte, done bool, err error)
	// Caller is the authenticated identity, valid once done.
	Caller() session.Caller
	PDUProtector
}

// AuthInitiator is the client-side hook (ClientConfig.Auth). The client calls Step
// with a nil token to get the token for the bind, then with every token the
// server answers. When Step reports done with a non-empty token the client
// sends it in an auth3 PDU (NTLMSSP); when Step is not done the client sends
// the token in an alter_context and continues with the answer (SPNEGO).
type AuthInitiator interface {
	AuthType() AuthType
	AuthLevel() AuthLevel
	Step(ctx context.Context, token []byte) (out []byte, done bool, err error)
	PDUProtector
}
