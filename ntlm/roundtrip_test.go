package ntlm

import (
	"bytes"
	"context"
	"testing"

	"github.com/netsession/netsession/internal/authtest"
	"github.com/netsession/netsession/session"
)

func testAccounts(t testing.TB) *Accounts {
	t.Helper()
	a, err := NewAccounts("NETSESS", false,
		Account{Name: "alice", NTHash: NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}},
		Account{Name: "bob", NTHash: NTHash("BobPass1")},
	)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// exchange runs an initiator context against an acceptor context and
// returns the acceptor's error, if any.
func exchange(t testing.TB, cc *ClientContext, sc *ServerContext) error {
	t.Helper()
	ctx := context.Background()
	neg, done, err := cc.Step(ctx, nil)
	if err != nil || done {
		t.Fatalf("client NEGOTIATE: done=%v err=%v", done, err)
	}
	chal, done, err := sc.Step(ctx, neg)
	if err != nil {
		return err
	}
	if done {
		t.Fatal("server done after NEGOTIATE")
	}
	auth, done, err := cc.Step(ctx, chal)
	if err != nil || !done {
		t.Fatalf("client AUTHENTICATE: done=%v err=%v", done, err)
	}
	out, done, err := sc.Step(ctx, auth)
	if err != nil {
		return err
	}
	if !done || out != nil {
		t.Fatalf("server after AUTHENTICATE: done=%v out=%x", done, out)
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t), ComputerName: "NSTEST"}
	hash := NTHash("BobPass1")
	tests := []struct {
		name   string
		client Client
		want   session.Caller
		noSign bool
	}{
		{"password", Client{User: "alice", Password: "AlicePass1", Domain: "WORKGROUP"},
			session.Caller{User: "alice", Domain: "WORKGROUP", Groups: []string{"Administrators"}}, false},
		{"hash, upper-case name, empty domain", Client{User: "BOB", NTHash: hash[:]},
			session.Caller{User: "bob", Domain: ""}, false},
		{"sign only, no key exchange", Client{User: "bob", Password: "BobPass1", Domain: "X",
			Flags: FlagUnicode | FlagNTLM | FlagSign | FlagExtendedSessionSecurity | Flag128},
			session.Caller{User: "bob", Domain: "X"}, false},
		{"anonymous", Client{}, session.Caller{Anonymous: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, sc := tt.client.NewContext(), srv.NewContext("127.0.0.1")
			if err := exchange(t, cc, sc); err != nil {
				t.Fatal(err)
			}
			got := sc.Caller()
			if got.User != tt.want.User || got.Domain != tt.want.Domain || got.Anonymous != tt.want.Anonymous ||
				len(got.Groups) != len(tt.want.Groups) || got.Guest {
				t.Fatalf("caller = %+v, want %+v", got, tt.want)
			}
			if !bytes.Equal(cc.SessionKey(), sc.SessionKey()) || len(sc.SessionKey()) != 16 {
				t.Fatalf("session keys differ: client %x server %x", cc.SessionKey(), sc.SessionKey())
			}
			if cc.Flags() != sc.Flags() {
				t.Fatalf("flags differ: client %08x server %08x", cc.Flags(), sc.Flags())
			}
			authtest.ProtectRoundTrips(t, cc, sc, cc.Flags().Has(FlagSeal), ErrBadSignature)
		})
	}
}
