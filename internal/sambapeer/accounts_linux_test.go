//go:build linux

package sambapeer

import (
	"context"
	"os/user"
	"testing"
	"time"
)

// The accounts are shared: released by one user while another still
// holds them they stay; released by the last one they are removed, unless
// a Samba instance that did not register still runs.
func TestAccountsReleasedByTheLast(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := acquireAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := acquireAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exists := func() bool {
		_, err1 := user.Lookup(AdminUser)
		_, err2 := user.Lookup(User)
		_, err3 := user.LookupGroup(groupBuiltinAdmins)
		return err1 == nil && err2 == nil && err3 == nil
	}
	if !exists() {
		t.Fatal("accounts missing after acquire")
	}
	if removed, err := releaseAccounts(ctx, a); removed || err != nil || !exists() {
		t.Fatalf("released with another user left: removed %v, %v; accounts exist: %v", removed, err, exists())
	}
	removed, err := releaseAccounts(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if removed {
		for _, name := range []string{AdminUser, User} {
			if _, err := user.Lookup(name); err == nil {
				t.Errorf("user %s left after the last release", name)
			}
		}
		for _, g := range []string{groupBuiltinAdmins, groupDomainAdmins, AdminUser, User} {
			if _, err := user.LookupGroup(g); err == nil {
				t.Errorf("group %s left after the last release", g)
			}
		}
	} else {
		// Another test process on the machine uses them right now.
		t.Logf("accounts kept: in use elsewhere (unregistered instances %v)", unregisteredInstances())
		if !exists() {
			t.Error("accounts half removed")
		}
	}
	// Acquire again: they come back.
	c, err := acquireAccounts(ctx)
	if err != nil || !exists() {
		t.Fatalf("re-acquire: %v, exist %v", err, exists())
	}
	releaseAccounts(ctx, c)
}
