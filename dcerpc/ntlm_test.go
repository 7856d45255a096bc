package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/spnego"
)

// The mechanisms' contexts are auth contexts with auth.Protector; these
// adapters (what package rpcauth does, which this package's tests cannot
// import) are all the wiring needs.
type mechContext interface {
	auth.AcceptorContext
	auth.Protector
}

type ntlmAcceptor struct{ mechContext }

func (a ntlmAcceptor) Caller() session.Caller {
	r, _ := a.Result()
	return r.Identity.Caller()
}

type initiatorContext interface {
	auth.InitiatorContext
	auth.Protector
}

type ntlmInitiator struct {
	initiatorContext
	typ   AuthType
	level AuthLevel
}

func (i ntlmInitiator) AuthType() AuthType   { return i.typ }
func (i ntlmInitiator) AuthLevel() AuthLevel { return i.level }

// acceptorFor returns the hook for NTLMSSP (10) or SPNEGO around it (9).
func acceptorFor(mech *ntlm.Server) AuthAcceptor {
	neg := spnego.MustAcceptor(mech)
	return AuthAcceptorFunc(func(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error) {
		var a auth.Acceptor = mech
		if info.Type == AuthTypeSPNEGO {
			a = neg
		}
		c, err := a.Accept(ctx, auth.Peer{Source: info.RemoteAddr})
		if err != nil {
			return nil, err
		}
		return ntlmAcceptor{c.(mechContext)}, nil
	})
}

// initiatorFor returns an initiator hook for cred under typ.
func initiatorFor(t testing.TB, cred *ntlm.Client, typ AuthType, level AuthLevel) ntlmInitiator {
	var m auth.Initiator = cred
	if typ == AuthTypeSPNEGO {
		m = spnego.MustInitiator(cred)
	}
	c, err := m.Initiate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ntlmInitiator{c.(initiatorContext), typ, level}
}

// TestNTLMThroughHooks authenticates with the real NTLMSSP (bind, bind_ack,
// auth3) and SPNEGO (bind, bind_ack, alter_context, alter_context_resp)
// mechanisms at each level, then makes signed or sealed multi-fragment
// calls.
func TestNTLMThroughHooks(t *testing.T) {
	accounts, err := ntlm.NewAccounts("WG", false, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{"Administrators"}})
	if err != nil {
		t.Fatal(err)
	}
	mech := &ntlm.Server{Accounts: accounts}
	for _, typ := range []AuthType{AuthTypeNTLM, AuthTypeSPNEGO} {
		for _, level := range []AuthLevel{AuthLevelConnect, AuthLevelIntegrity, AuthLevelPrivacy} {
			name := map[AuthType]string{AuthTypeNTLM: "ntlmssp", AuthTypeSPNEGO: "spnego"}[typ] + "/" + level.String()
			t.Run(name, func(t *testing.T) {
				var got Call
				var mu sync.Mutex
				s := &Server{Auth: map[AuthType]AuthAcceptor{typ: acceptorFor(mech)}}
				s.Limits.MaxXmitFrag, s.Limits.MaxRecvFrag = MinFragSize, MinFragSize
				s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, c *Call) ([]byte, error) {
					mu.Lock()
					got = *c
					got.Stub = nil
					mu.Unlock()
					return echoHandler(ctx, c)
				})})
				ini := initiatorFor(t, &ntlm.Client{User: "alice", Domain: "WG", Password: "AlicePass1"}, typ, level)
				cl := NewClient(pipeConn(t, s), ClientConfig{Auth: ini, AuthContextID: 79231})
				ctx := testCtx(t)
				if err := cl.Bind(ctx, testSyntax); err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{1, 5000} {
					in := pattern(n)
					if out, err := cl.Call(ctx, 0, in); err != nil || !bytes.Equal(out, in) {
						t.Fatalf("echo of %d octets: %v", n, err)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if got.Caller.User != "alice" || !got.Caller.InGroup("Administrators") || got.AuthType != typ || got.AuthLevel != level {
					t.Fatalf("handler saw %+v type %d level %s", got.Caller, got.AuthType, got.AuthLevel)
				}
			})
		}
	}
	t.Run("wrong password", func(t *testing.T) {
		s := &Server{Auth: map[AuthType]AuthAcceptor{AuthTypeNTLM: acceptorFor(mech)}}
		s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(echoHandler)})
		ini := initiatorFor(t, &ntlm.Client{User: "alice", Domain: "WG", Password: "wrong"}, AuthTypeNTLM, AuthLevelIntegrity)
		cl := NewClient(pipeConn(t, s), ClientConfig{Auth: ini, AuthContextID: 1})
		ctx := testCtx(t)
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Call(ctx, 0, []byte("x")); !errors.Is(err, &Fault{Status: StatusAccessDenied}) {
			t.Fatalf("call after a refused auth3: %v", err)
		}
	})
}
