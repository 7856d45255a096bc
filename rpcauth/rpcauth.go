// Package rpcauth plugs security mechanisms (package auth: NTLM, and any
// other passed in) into the dcerpc package's authentication hooks, for
// servers and clients: each mechanism under its own DCE/RPC auth_type
// (NTLMSSP 10, Kerberos 16) and all of them under SPNEGO (9).
//
// It is the only place where the two meet: mechanisms know nothing of
// PDUs and dcerpc nothing of mechanisms.
package rpcauth

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/spnego"
)

// AuthType returns the DCE/RPC auth_type (MS-RPCE 2.2.1.1.7) a mechanism
// is spoken under, and false for mechanisms that have none.
func AuthType(m auth.Mechanism) (dcerpc.AuthType, bool) {
	switch m {
	case auth.MechSPNEGO:
		return dcerpc.AuthTypeSPNEGO, true
	case auth.MechNTLM:
		return dcerpc.AuthTypeNTLM, true
	case auth.MechKerberos, auth.MechMSKerberos:
		return dcerpc.AuthTypeKerberos, true
	}
	return dcerpc.AuthTypeNone, false
}

// acceptor adapts an auth.AcceptorContext to dcerpc.ServerSecurityContext.
type acceptor struct{ auth.AcceptorContext }

// unprotected is the auth.Protector of a mechanism that offers no message
// protection: good for level connect only.
type unprotected struct{ mech auth.Mechanism }

func (u unprotected) err() error {
	return fmt.Errorf("%w: mechanism %v offers no message protection", dcerpc.ErrAuth, u.mech)
}

func (unprotected) SignatureSize() int                            { return 0 }
func (u unprotected) Sign([]byte) ([]byte, error)                 { return nil, u.err() }
func (u unprotected) Verify(_, _ []byte) error                    { return u.err() }
func (u unprotected) SealWithin([]byte, int, int) ([]byte, error) { return nil, u.err() }
func (u unprotected) UnsealWithin([]byte, int, int, []byte) error { return u.err() }

func (a acceptor) Caller() session.Caller {
	r, ok := a.Result()
	if !ok {
		return session.Caller{}
	}
	return r.Identity.Caller()
}

func (a acceptor) protector() (auth.Protector, error) {
	if p, ok := a.AcceptorContext.(auth.Protector); ok {
		return p, nil
	}
	r, _ := a.Result()
	return nil, unprotected{r.Mechanism}.err()
}

func (a acceptor) SignatureSize() int {
	if p, err := a.protector(); err == nil {
		return p.SignatureSize()
	}
	return 0
}

func (a acceptor) Sign(msg []byte) ([]byte, error) {
	p, err := a.protector()
	if err != nil {
		return nil, err
	}
	return p.Sign(msg)
}

func (a acceptor) Verify(msg, sig []byte) error {
	p, err := a.protector()
	if err != nil {
		return err
	}
	return p.Verify(msg, sig)
}

func (a acceptor) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	p, err := a.protector()
	if err != nil {
		return nil, err
	}
	return p.SealWithin(msg, lo, hi)
}

func (a acceptor) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	p, err := a.protector()
	if err != nil {
		return err
	}
	return p.UnsealWithin(msg, lo, hi, sig)
}

func acceptorFunc(m auth.Acceptor) dcerpc.AuthAcceptor {
	return dcerpc.AuthAcceptorFunc(func(ctx context.Context, info dcerpc.AuthBindInfo) (dcerpc.ServerSecurityContext, error) {
		c, err := m.Accept(ctx, auth.Peer{Source: info.RemoteAddr})
		if err != nil {
			return nil, err
		}
		return acceptor{c}, nil
	})
}

// Acceptors returns the server-side hooks for dcerpc.Server.Auth: each of
// mechs under its own auth_type (NTLMSSP 10, Kerberos 16; mechanisms
// without one only under SPNEGO) and SPNEGO (9) negotiating among all of
// them in the order given.
func Acceptors(mechs ...auth.Acceptor) (map[dcerpc.AuthType]dcerpc.AuthAcceptor, error) {
	neg, err := spnego.NewAcceptor(mechs...)
	if err != nil {
		return nil, err
	}
	out := map[dcerpc.AuthType]dcerpc.AuthAcceptor{dcerpc.AuthTypeSPNEGO: acceptorFunc(neg)}
	for _, m := range mechs {
		if typ, ok := AuthType(m.Mechanism()); ok {
			if _, dup := out[typ]; !dup {
				out[typ] = acceptorFunc(m)
			}
		}
	}
	return out, nil
}

// MustAcceptors is Acceptors for mechanisms known to be valid (the ones
// of this module); it panics on an error.
func MustAcceptors(mechs ...auth.Acceptor) map[dcerpc.AuthType]dcerpc.AuthAcceptor {
	m, err := Acceptors(mechs...)
	if err != nil {
		panic(err)
	}
	return m
}

type initiator struct {
	auth.InitiatorContext
	auth.Protector
	typ   dcerpc.AuthType
	level dcerpc.AuthLevel
}

func (i initiator) AuthType() dcerpc.AuthType   { return i.typ }
func (i initiator) AuthLevel() dcerpc.AuthLevel { return i.level }

// Initiator returns a client-side hook for dcerpc.ClientConfig.Auth that
// authenticates with mech at level (connect, integrity or privacy) under
// typ: dcerpc.AuthTypeSPNEGO wraps mech in SPNEGO (unless it is SPNEGO
// already); a mechanism's own auth_type uses it as is. Integrity and
// privacy need a mechanism whose contexts offer message protection
// (auth.Protector). Each association needs a fresh one.
func Initiator(ctx context.Context, mech auth.Initiator, typ dcerpc.AuthType, level dcerpc.AuthLevel) (dcerpc.AuthInitiator, error) {
	switch level {
	case dcerpc.AuthLevelConnect, dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy:
	default:
		return nil, fmt.Errorf("rpcauth: auth level %s cannot be requested", level)
	}
	if typ == dcerpc.AuthTypeSPNEGO && mech.Mechanism() != auth.MechSPNEGO {
		neg, err := spnego.NewInitiator(mech)
		if err != nil {
			return nil, err
		}
		mech = neg
	}
	if own, ok := AuthType(mech.Mechanism()); !ok || own != typ {
		return nil, fmt.Errorf("rpcauth: mechanism %v cannot be spoken under auth type %d", mech.Mechanism(), typ)
	}
	c, err := mech.Initiate(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := c.(auth.Protector)
	if !ok {
		if level != dcerpc.AuthLevelConnect {
			return nil, fmt.Errorf("rpcauth: mechanism %v offers no message protection for level %s", mech.Mechanism(), level)
		}
		p = unprotected{mech.Mechanism()}
	}
	return initiator{c, p, typ, level}, nil
}
