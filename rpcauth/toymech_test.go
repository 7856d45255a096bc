package rpcauth_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/toymech"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/spnego"
	"github.com/netsession/netsession/srvs"
)

// TestToyMechanismOverSPNEGO: a mechanism dcerpc and rpcauth do not know
// takes part in DCE/RPC auth type 9 beside NTLM by being passed to
// Acceptors; its identity's SIDs reach the handler's Caller and the
// table's policy (Domain Admins by SID may enumerate at level 502, a plain
// domain user may not). Without message protection it is good for level
// connect only, and a request for more fails cleanly.
func TestToyMechanismOverSPNEGO(t *testing.T) {
	const domain = "S-1-5-21-1-2-3"
	table := session.New(session.Options{})
	if _, err := table.Open(session.Spec{Client: "10.0.0.5", User: "carol"}); err != nil {
		t.Fatal(err)
	}
	acc, err := rpcauth.Acceptors(&ntlm.Server{}, &toymech.Acceptor{Accounts: map[string]toymech.Account{
		"dadmin": {Secret: "s", GroupSIDs: []string{domain + "-512"}},
		"duser":  {Secret: "u", GroupSIDs: []string{domain + "-513"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := acc[dcerpc.AuthTypeNTLM]; !ok || len(acc) != 2 {
		t.Fatalf("auth types %v: want SPNEGO and NTLMSSP only (the toy has no type of its own)", acc)
	}
	srv := &dcerpc.Server{Auth: acc}
	if err := srv.Register((&srvs.Handler{Table: table}).Interface()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tt := range []struct {
		user, secret string
		level        dcerpc.AuthLevel
		want         error
	}{
		{"dadmin", "s", dcerpc.AuthLevelConnect, nil},
		{"duser", "u", dcerpc.AuthLevelConnect, session.StatusAccessDenied},
		{"dadmin", "wrong", dcerpc.AuthLevelConnect, &dcerpc.Fault{Status: dcerpc.StatusSecPkgError}},
		{"dadmin", "s", dcerpc.AuthLevelIntegrity, spnego.ErrNoProtection},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ini, err := rpcauth.Initiator(ctx, &toymech.Initiator{User: tt.user, Secret: tt.secret}, dcerpc.AuthTypeSPNEGO, tt.level)
		if err != nil {
			t.Fatal(err)
		}
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.ServeConn(context.Background(), a, dcerpc.ConnConfig{}) }()
		rpc := dcerpc.NewClient(b, dcerpc.ClientConfig{Auth: ini, AuthContextID: 1})
		c, err := srvs.Bind(ctx, rpc)
		if err == nil {
			var res *srvs.EnumResult
			res, err = c.EnumAll(ctx, 502, "", "", session.MaxPreferredLength)
			if err == nil && (len(res.Entries) != 1 || res.Entries[0].UserName != "carol") {
				t.Errorf("%s: %+v", tt.user, res)
			}
		}
		t.Logf("%s/%s at %s: %v", tt.user, tt.secret, tt.level, err)
		if (tt.want == nil) != (err == nil) || !errors.Is(err, tt.want) {
			t.Errorf("%s/%s at %s: %v, want %v", tt.user, tt.secret, tt.level, err, tt.want)
		}
		cancel()
		rpc.Close()
		<-done
	}
	if _, err := rpcauth.Initiator(context.Background(), &toymech.Initiator{User: "dadmin", Secret: "s"}, dcerpc.AuthTypeNTLM, dcerpc.AuthLevelConnect); err == nil {
		t.Error("the toy accepted under NTLMSSP's auth type")
	}
}
