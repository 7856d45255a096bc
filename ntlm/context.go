package ntlm

import (
	"context"

	"github.com/netsession/netsession/auth"
)

// The contexts of this package are auth contexts with message protection
// (auth.Protector) and the SPNEGO mechListMIC (auth.MICContext): SPNEGO
// (package spnego), DCE/RPC (package rpcauth) and SMB2 drive them through
// those interfaces only.
var (
	_ auth.Acceptor         = (*Server)(nil)
	_ auth.Initiator        = (*Client)(nil)
	_ auth.AcceptorContext  = (*ServerContext)(nil)
	_ auth.InitiatorContext = (*ClientContext)(nil)
	_ auth.Protector        = (*ServerContext)(nil)
	_ auth.Protector        = (*ClientContext)(nil)
	_ auth.MICContext       = (*ServerContext)(nil)
	_ auth.MICContext       = (*ClientContext)(nil)
)

// Mechanism returns auth.MechNTLM.
func (c *Client) Mechanism() auth.Mechanism { return auth.MechNTLM }

// Anonymous reports whether c makes a null-session logon (no user,
// password or hash).
func (c *Client) Anonymous() bool { return c.anonymous() }

// Initiate starts an initiator exchange: NewContext.
func (c *Client) Initiate(context.Context) (auth.InitiatorContext, error) {
	return c.NewContext(), nil
}

// SignatureSize returns 16, the size of an NTLMSSP_MESSAGE_SIGNATURE.
func (*ServerContext) SignatureSize() int { return SignatureSize }

// SignatureSize returns 16, the size of an NTLMSSP_MESSAGE_SIGNATURE.
func (*ClientContext) SignatureSize() int { return SignatureSize }

// CanMIC reports whether the logon succeeded with a session key (not a
// guest logon).
func (c *ServerContext) CanMIC() bool { return c.state == stateDone && c.sec != nil }

// MICRequired reports whether the AUTHENTICATE carried an NTLM MIC: then
// the mechListMIC may not be stripped either.
func (c *ServerContext) MICRequired() bool { return c.hadMIC }

// GetMIC signs msg (the mechListMIC is an NTLM signature).
func (c *ServerContext) GetMIC(msg []byte) ([]byte, error) { return c.Sign(msg) }

// VerifyMIC checks the initiator's mechListMIC.
func (c *ServerContext) VerifyMIC(msg, mic []byte) error { return c.Verify(msg, mic) }

// MICDone restarts both RC4 streams from their keys while the sequence
// numbers run on (MS-SPNG 3.3.5.1), so that the first signed application
// message is processed as the peer expects.
func (c *ServerContext) MICDone() {
	if c.sec != nil {
		c.sec.ResetRC4()
	}
}

// CanMIC reports whether the AUTHENTICATE was made (there is a key).
func (c *ClientContext) CanMIC() bool { return c.sec != nil }

// MICRequired reports whether signing or sealing was negotiated: then the
// initiator sends a mechListMIC.
func (c *ClientContext) MICRequired() bool { return c.sec != nil && c.sec.Flags()&flagsSignOrSeal != 0 }

// GetMIC signs msg (the mechListMIC is an NTLM signature).
func (c *ClientContext) GetMIC(msg []byte) ([]byte, error) { return c.Sign(msg) }

// VerifyMIC checks the acceptor's mechListMIC.
func (c *ClientContext) VerifyMIC(msg, mic []byte) error { return c.Verify(msg, mic) }

// MICDone restarts both RC4 streams (MS-SPNG 3.3.5.1).
func (c *ClientContext) MICDone() {
	if c.sec != nil {
		c.sec.ResetRC4()
	}
}
