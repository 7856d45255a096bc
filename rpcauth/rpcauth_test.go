package rpcauth_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// An administrator enumerates over NTLMSSP and SPNEGO at integrity and
// privacy; the handler sees her identity, so the modern policy lets her in,
// while bob, authenticated just as well, is refused.
func TestNTLMEndToEnd(t *testing.T) {
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("BobPass1")},
	)
	if err != nil {
		t.Fatal(err)
	}
	table := session.New(session.Options{})
	if _, err := table.Open(session.Spec{Client: "10.0.0.5", User: "carol"}); err != nil {
		t.Fatal(err)
	}
	srv := &dcerpc.Server{Auth: rpcauth.MustAcceptors(&ntlm.Server{Accounts: accounts, ComputerName: "FS"})}
	if err := srv.Register((&srvs.Handler{Table: table}).Interface()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	for _, typ := range []dcerpc.AuthType{dcerpc.AuthTypeNTLM, dcerpc.AuthTypeSPNEGO} {
		for _, level := range []dcerpc.AuthLevel{dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy} {
			for _, who := range []struct {
				user, pass string
				want       error
			}{{"alice", "AlicePass1", nil}, {"BOB", "BobPass1", session.StatusAccessDenied}} {
				ini, err := rpcauth.Initiator(context.Background(), &ntlm.Client{User: who.user, Domain: "WKS", Password: who.pass}, typ, level)
				if err != nil {
					t.Fatal(err)
				}
				a, b := net.Pipe()
				done := make(chan struct{})
				go func() { defer close(done); _ = srv.ServeConn(context.Background(), a, dcerpc.ConnConfig{}) }()
				rpc := dcerpc.NewClient(b, dcerpc.ClientConfig{Auth: ini, AuthContextID: 1})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := srvs.Bind(ctx, rpc)
				if err != nil {
					t.Fatalf("%d/%s bind: %v", typ, level, err)
				}
				res, err := c.EnumAll(ctx, 10, "", "", session.MaxPreferredLength)
				if !errors.Is(err, who.want) || (who.want == nil && (err != nil || len(res.Entries) != 1 || res.Entries[0].UserName != "carol")) {
					t.Errorf("%d/%s as %s: %+v, %v; want %v", typ, level, who.user, res, err, who.want)
				}
				cancel()
				rpc.Close()
				<-done
			}
		}
	}
	if _, err := rpcauth.Initiator(context.Background(), &ntlm.Client{User: "a"}, dcerpc.AuthTypeNTLM, dcerpc.AuthLevelNone); err == nil {
		t.Error("level none accepted for NTLM")
	}
}
