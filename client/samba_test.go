package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/session"
)

// heldOnSamba are the sessions the Samba tests hold, each from its own
// loopback address so that Samba's client names tell them apart.
func heldOnSamba() []sambapeer.Session {
	return []sambapeer.Session{
		{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword, From: "127.0.0.2"},
		{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword, From: "127.0.0.3", OpenFile: true},
		{User: sambapeer.User, Password: sambapeer.UserPassword, From: "127.0.0.4"},
		{User: "nsp_mistyped", Password: "x", From: "127.0.0.5"}, // mapped to guest
		{User: "", From: "127.0.0.6"}, // anonymous
	}
}

// row is what the tests compare of a session: the client name, and at
// level 1 the user, opens and flags.
type row struct {
	client, user string
	opens, flags uint32
}

func rowsOf(ss []client.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprint(row{s.ClientName, s.UserName, s.NumOpens, s.UserFlags}))
	}
	slices.Sort(out)
	return out
}

func rows(rs ...row) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprint(r))
	}
	slices.Sort(out)
	return out
}

func dialSamba(t *testing.T, server, transport string, cred client.Credentials) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, server, client.Options{Transport: transport, Credentials: cred, Timeout: 10 * time.Second})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestSambaSMB is the proof of the SMB transport against Samba 4.x: real
// sessions listed exactly at levels 0 and 1, level auto settling on 1, a
// plain user denied, a delete, and an unreachable server.
func TestSambaSMB(t *testing.T) {
	p := startPeer(t)
	p.HoldT(t, heldOnSamba()...)
	ctx := context.Background()

	c, err := dialSamba(t, p.Addr(), client.TransportSMB, adminCred)
	if err != nil {
		t.Fatal(err)
	}
	self := row{client: "127.0.0.1", user: sambapeer.AdminUser}
	want1 := rows(
		row{"127.0.0.2", sambapeer.AdminUser, 0, 0},
		row{"127.0.0.3", sambapeer.AdminUser, 1, 0},
		row{"127.0.0.4", sambapeer.User, 0, 0},
		row{"127.0.0.5", sambapeer.GuestAccount, 0, session.FlagGuest},
		row{"127.0.0.6", sambapeer.GuestAccount, 0, session.FlagGuest},
		self,
	)

	t.Run("level 1", func(t *testing.T) {
		res, err := c.EnumAll(ctx, session.Level1, client.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if got := rowsOf(res.Sessions); !slices.Equal(got, want1) {
			t.Errorf("sessions:\n got %v\nwant %v", got, want1)
		}
		for _, s := range res.Sessions {
			// Samba reports 0xFFFFFFFF for a session younger than about
			// half a second (our own, often): a value, not an error.
			if s.Time > 120 && s.Time != 0xFFFFFFFF {
				t.Errorf("%s: time %d", s.ClientName, s.Time)
			}
			if s.IdleTime != 0 {
				t.Errorf("%s: idle time %d, Samba always sends 0", s.ClientName, s.IdleTime)
			}
		}
	})
	t.Run("level 0", func(t *testing.T) {
		res, err := c.EnumAll(ctx, session.Level0, client.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range res.Sessions {
			if s.UserName != "" || s.NumOpens != 0 {
				t.Errorf("level 0 carries more than the client name: %+v", s)
			}
			got = append(got, s.ClientName)
		}
		slices.Sort(got)
		want := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}
		if !slices.Equal(got, want) {
			t.Errorf("clients %v, want %v", got, want)
		}
	})
	t.Run("auto settles on 1", func(t *testing.T) {
		res, err := c.EnumAll(ctx, client.LevelAuto, client.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Level != session.Level1 {
			t.Errorf("auto answered at level %d, want 1", res.Level)
		}
		wantTried := []client.Attempt{
			{Level: session.Level502, Status: session.StatusInvalidLevel},
			{Level: session.Level10, Status: session.StatusInvalidLevel},
		}
		if !slices.Equal(res.Tried, wantTried) {
			t.Errorf("tried %v, want %v", res.Tried, wantTried)
		}
		if got := rowsOf(res.Sessions); !slices.Equal(got, want1) {
			t.Errorf("sessions:\n got %v\nwant %v", got, want1)
		}
	})
	t.Run("plain user denied", func(t *testing.T) {
		bob, err := dialSamba(t, p.Addr(), client.TransportSMB, client.Credentials{User: sambapeer.User, Password: sambapeer.UserPassword})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bob.EnumAll(ctx, client.LevelAuto, client.Filter{})
		if !errors.Is(err, client.ErrAccessDenied) || !errors.Is(err, session.StatusAccessDenied) {
			t.Fatalf("bob: %v, want access denied", err)
		}
	})
	mistyped := client.Credentials{User: "nsp_alcie", Password: sambapeer.AdminPassword}
	t.Run("mistyped user is a guest, refused", func(t *testing.T) {
		_, err := dialSamba(t, p.Addr(), client.TransportSMB, mistyped)
		if !errors.Is(err, client.ErrLogonFailure) || !errors.Is(err, client.ErrGuestLogon) {
			t.Fatalf("Samba maps an unknown user to guest, which is unsigned: %v, want a logon failure", err)
		}
	})
	t.Run("mistyped user is a guest when allowed, denied", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		g, err := client.Dial(dctx, p.Addr(), client.Options{Credentials: mistyped, AllowGuest: true, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("with AllowGuest the guest logon should work: %v", err)
		}
		defer g.Close()
		_, err = g.EnumAll(ctx, session.Level1, client.Filter{})
		if !errors.Is(err, client.ErrAccessDenied) {
			t.Fatalf("guest: %v, want access denied", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := dialSamba(t, p.Addr(), client.TransportSMB, client.Credentials{User: sambapeer.AdminUser, Password: "wrong"})
		if !errors.Is(err, client.ErrLogonFailure) {
			t.Fatalf("%v, want a logon failure", err)
		}
	})
	t.Run("delete matching nothing", func(t *testing.T) {
		err := c.Delete(ctx, "127.0.0.9", sambapeer.AdminUser)
		// Samba starts from ERROR_ACCESS_DENIED and only clears it when
		// something matched: there is no NERR_NoSuchSession.
		if !errors.Is(err, session.StatusAccessDenied) {
			t.Fatalf("%v, want Samba's access denied", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := c.Delete(ctx, "127.0.0.2", sambapeer.AdminUser); err != nil {
			t.Fatal(err)
		}
		// Samba ends the session's connection asynchronously.
		deadline := time.Now().Add(5 * time.Second)
		for {
			res, err := c.EnumAll(ctx, session.Level1, client.Filter{})
			if err != nil {
				t.Fatalf("after delete (our own session must survive): %v", err)
			}
			got := rowsOf(res.Sessions)
			want := slices.DeleteFunc(slices.Clone(want1), func(s string) bool { return strings.HasPrefix(s, "{127.0.0.2 ") })
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after delete:\n got %v\nwant %v", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		addr := p.Addr()
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := dialSamba(t, addr, client.TransportSMB, adminCred)
		if !errors.Is(err, client.ErrUnreachable) {
			t.Fatalf("%v, want unreachable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v to report a stopped server", d)
		}
	})
}
