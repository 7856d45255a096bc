package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/netsession/netsession/ntlm"
)

// The ntlm package's contexts have the method set of the hooks except
// SignatureSize; these adapters are all the wiring needs.
type ntlmAcceptor struct{ ntlm.AcceptorContext }

func (ntlmAcceptor) SignatureSize() int { return 16 }

type ntlmInitiator struct {
	ntlm.SecurityContext
	typ   AuthType
	level AuthLevel
}

func (ntlmInitiator) SignatureSize() int     { return 16 }
func (i ntlmInitiator) AuthType() AuthType   { return i.typ }
func (i ntlmInitiator) AuthLevel() AuthLevel { return i.level }

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
				s := &Server{Auth: map[AuthType]AuthAcceptor{
					typ: AuthAcceptorFunc(func(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error) {
						a, err := mech.NewAcceptor(uint8(info.Type), info.RemoteAddr)
						return ntlmAcceptor{a}, err
					}),
				}}
				s.MaxXmitFrag, s.MaxRecvFrag = MinFragSize, MinFragSize
				s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, c *Call) ([]byte, error) {
					mu.Lock()
					got = *c
					got.Stub = nil
					mu.Unlock()
					return echoHandler(ctx, c)
				})})
				ini, err := (&ntlm.Client{User: "alice", Domain: "WG", Password: "AlicePass1"}).NewInitiator(uint8(typ))
				if err != nil {
					t.Fatal(err)
				}
				cl := NewClient(pipeConn(t, s), WithAuth(ntlmInitiator{ini, typ, level}, 79231))
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
		s := &Server{Auth: map[AuthType]AuthAcceptor{
			AuthTypeNTLM: AuthAcceptorFunc(func(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error) {
				a, err := mech.NewAcceptor(uint8(info.Type), info.RemoteAddr)
				return ntlmAcceptor{a}, err
			}),
		}}
		s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(echoHandler)})
		ini, _ := (&ntlm.Client{User: "alice", Domain: "WG", Password: "wrong"}).NewInitiator(uint8(AuthTypeNTLM))
		cl := NewClient(pipeConn(t, s), WithAuth(ntlmInitiator{ini, AuthTypeNTLM, AuthLevelIntegrity}, 1))
		ctx := testCtx(t)
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Call(ctx, 0, []byte("x")); !errors.Is(err, &Fault{Status: StatusAccessDenied}) {
			t.Fatalf("call after a refused auth3: %v", err)
		}
	})
}
