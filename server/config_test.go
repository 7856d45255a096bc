package server

import (
	"sync"
	"testing"

	"github.com/netsession/netsession/ntlm"
)

// AllowGuest turns guest logons on in the server's own copy of the
// accounts: the caller's Accounts keeps Guest false, so a second server
// built from it without AllowGuest does not admit guests, and servers can
// be built from one Accounts concurrently.
func TestAllowGuestLeavesCallerAccounts(t *testing.T) {
	acc, err := ntlm.NewAccounts("D", false, ntlm.Account{Name: "x", NTHash: ntlm.NTHash("y")})
	if err != nil {
		t.Fatal(err)
	}
	guest, err := New(Config{AllowGuest: true, Accounts: acc})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Guest {
		t.Error("New with AllowGuest set Guest in the caller's Accounts")
	}
	if got := guest.smb.Auth.(*ntlm.Server).Accounts; !got.Guest || got.Domain != "D" || got.Len() != 1 {
		t.Errorf("server with AllowGuest: accounts %+v (len %d), want domain D, guest, one user", got, got.Len())
	}
	plain, err := New(Config{Accounts: acc})
	if err != nil {
		t.Fatal(err)
	}
	if plain.smb.Auth.(*ntlm.Server).Accounts.Guest {
		t.Error("a server without AllowGuest maps unknown users to guest")
	}
	if guest.smb.Auth.(*ntlm.Server).Accounts == acc || plain.smb.Auth.(*ntlm.Server).Accounts == acc {
		t.Error("a server shares the caller's *Accounts")
	}

	// Under -race, servers built at once from one Accounts must not write
	// to it.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := New(Config{AllowGuest: true, Accounts: acc}); err != nil {
				t.Error(err)
			}
			_ = acc.Guest
		})
	}
	wg.Wait()
	if acc.Guest {
		t.Error("concurrent New with AllowGuest set Guest in the caller's Accounts")
	}
}

// Without Accounts the server uses fresh demo accounts: AllowGuest on one
// server does not leak into the next.
func TestAllowGuestDemoAccounts(t *testing.T) {
	guest, err := New(Config{AllowGuest: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !guest.smb.Auth.(*ntlm.Server).Accounts.Guest || plain.smb.Auth.(*ntlm.Server).Accounts.Guest {
		t.Errorf("guest server Guest=%v, plain server Guest=%v; want true, false",
			guest.smb.Auth.(*ntlm.Server).Accounts.Guest, plain.smb.Auth.(*ntlm.Server).Accounts.Guest)
	}
	if _, ok := plain.smb.Auth.(*ntlm.Server).Accounts.Lookup("alice"); !ok {
		t.Error("demo accounts lack alice")
	}
}
