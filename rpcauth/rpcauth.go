// Package rpcauth plugs the ntlm package's mechanisms (NTLMSSP, auth type
// 10, and SPNEGO around NTLMSSP, auth type 9) into the dcerpc package's
// authentication hooks, for servers and clients.
//
// It is the only place where the two meet: ntlm knows nothing of PDUs and
// dcerpc nothing of NTLM.
package rpcauth

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
)

// signatureSize is the size of an NTLMSSP message signature (MS-NLMP
// 2.2.2.9), which SPNEGO-wrapped NTLM uses as well.
const signatureSize = 16

type acceptor struct{ ntlm.AcceptorContext }

func (acceptor) SignatureSize() int { return signatureSize }

// Acceptors returns the server-side hooks for NTLMSSP and SPNEGO backed by
// mech, ready for dcerpc.Server.Auth.
func Acceptors(mech *ntlm.Server) map[dcerpc.AuthType]dcerpc.AuthAcceptor {
	f := dcerpc.AuthAcceptorFunc(func(_ context.Context, info dcerpc.AuthBindInfo) (dcerpc.ServerSecurityContext, error) {
		a, err := mech.NewAcceptor(uint8(info.Type), info.RemoteAddr)
		if err != nil {
			return nil, err
		}
		return acceptor{a}, nil
	})
	return map[dcerpc.AuthType]dcerpc.AuthAcceptor{
		dcerpc.AuthTypeNTLM:   f,
		dcerpc.AuthTypeSPNEGO: f,
	}
}

type initiator struct {
	ntlm.SecurityContext
	typ   dcerpc.AuthType
	level dcerpc.AuthLevel
}

func (initiator) SignatureSize() int            { return signatureSize }
func (i initiator) AuthType() dcerpc.AuthType   { return i.typ }
func (i initiator) AuthLevel() dcerpc.AuthLevel { return i.level }

// Initiator returns a client-side hook that authenticates as cred with
// the given auth type (dcerpc.AuthTypeNTLM or dcerpc.AuthTypeSPNEGO) at
// level (connect, integrity or privacy), for dcerpc.WithAuth. Each
// association needs a fresh one.
func Initiator(cred *ntlm.Client, typ dcerpc.AuthType, level dcerpc.AuthLevel) (dcerpc.AuthInitiator, error) {
	switch level {
	case dcerpc.AuthLevelConnect, dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy:
	default:
		return nil, fmt.Errorf("rpcauth: auth level %s cannot be requested with NTLM", level)
	}
	ctx, err := cred.NewInitiator(uint8(typ))
	if err != nil {
		return nil, err
	}
	return initiator{ctx, typ, level}, nil
}
