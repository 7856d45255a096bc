package client

import (
	"context"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/spnego"
)

// dceKerberos is implemented by Kerberos initiators that speak DCE-style
// Kerberos (krb5.Mechanism): DCEForHost gives the initiator for DCE/RPC to
// host (a ticket for host/HOST unless an SPN was named), asking for
// confidentiality when the level is privacy.
type dceKerberos interface {
	DCEForHost(host string, confidential bool) auth.Initiator
}

// tcpKerberos builds the DCE/RPC initiator of a Kerberos logon over
// ncacn_ip_tcp: DCE-style Kerberos under auth type 16, or in SPNEGO (9)
// when asked or when NTLM may follow it; used learns which mechanism
// completed. ok is false when the credentials' initiator cannot speak
// DCE-style Kerberos.
func tcpKerberos(ctx context.Context, host string, opts *Options, level dcerpc.AuthLevel, used *usedMech) (ini dcerpc.AuthInitiator, ok bool, err error) {
	cred := opts.Credentials
	d, ok := cred.Kerberos.(dceKerberos)
	if !ok {
		return nil, false, nil
	}
	var k auth.Initiator = d.DCEForHost(host, level == dcerpc.AuthLevelPrivacy)
	fallback := cred.NTLMFallback && cred.User != ""
	if fallback {
		// As over SMB: a Kerberos logon that cannot even start (no
		// ticket) is left out, and NTLM is offered alone.
		kc, err := k.Initiate(ctx)
		switch {
		case ctx.Err() != nil:
			return nil, true, ctx.Err()
		case err != nil:
			opts.logger().Debug("kerberos logon cannot start: using NTLM", "err", err)
			ini, err := rpcauth.Initiator(ctx, cred.ntlm(opts.Workstation), ntlmAuthType(opts), level)
			return ini, true, err
		}
		k = &started{Initiator: k, ctx: kc}
	}
	mech := &recordRPCMech{&recordMech{Initiator: k, used: used}}
	if fallback {
		neg, err := spnego.NewInitiator(mech, cred.ntlm(opts.Workstation))
		if err != nil {
			return nil, true, err
		}
		ini, err = rpcauth.Initiator(ctx, neg, dcerpc.AuthTypeSPNEGO, level)
		return ini, true, err
	}
	typ := dcerpc.AuthTypeKerberos
	if opts.SPNEGO {
		typ = dcerpc.AuthTypeSPNEGO
	}
	ini, err = rpcauth.Initiator(ctx, mech, typ, level)
	return ini, true, err
}

func ntlmAuthType(opts *Options) dcerpc.AuthType {
	if opts.SPNEGO {
		return dcerpc.AuthTypeSPNEGO
	}
	return dcerpc.AuthTypeNTLM
}

// recordRPCMech is recordMech for DCE/RPC: its contexts keep the Kerberos
// context's message protection, which packet integrity and privacy use.
type recordRPCMech struct{ *recordMech }

func (r *recordRPCMech) Initiate(ctx context.Context) (auth.InitiatorContext, error) {
	c, err := r.recordMech.Initiate(ctx)
	if err != nil {
		return nil, err
	}
	rc := c.(*recordContext)
	if p, ok := rc.InitiatorContext.(auth.Protector); ok {
		return &protectedRecord{rc, p}, nil
	}
	return rc, nil
}

// protectedRecord is a recordContext with its context's auth.Protector
// and auth.GSSStyle.
type protectedRecord struct {
	*recordContext
	auth.Protector
}

// GSSWrapSize forwards the Kerberos context's auth.GSSStyle.
func (p *protectedRecord) GSSWrapSize() (int, bool) {
	if s, ok := p.Protector.(auth.GSSStyle); ok {
		return s.GSSWrapSize()
	}
	return 0, false
}

// The SPNEGO mechListMIC of the Kerberos context (auth.MICContext), which
// SPNEGO sends and checks once the context is established.

// CanMIC forwards auth.MICContext; false without it.
func (p *protectedRecord) CanMIC() bool {
	m, ok := p.recordContext.InitiatorContext.(auth.MICContext)
	return ok && m.CanMIC()
}

// MICRequired forwards auth.MICContext.
func (p *protectedRecord) MICRequired() bool {
	m, ok := p.recordContext.InitiatorContext.(auth.MICContext)
	return ok && m.MICRequired()
}

// GetMIC forwards auth.MICContext.
func (p *protectedRecord) GetMIC(msg []byte) ([]byte, error) {
	return p.recordContext.InitiatorContext.(auth.MICContext).GetMIC(msg)
}

// VerifyMIC forwards auth.MICContext.
func (p *protectedRecord) VerifyMIC(msg, mic []byte) error {
	return p.recordContext.InitiatorContext.(auth.MICContext).VerifyMIC(msg, mic)
}

// MICDone forwards auth.MICContext.
func (p *protectedRecord) MICDone() {
	if m, ok := p.recordContext.InitiatorContext.(auth.MICContext); ok {
		m.MICDone()
	}
}
