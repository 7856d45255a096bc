package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/session"
)

// Our client against Samba's own srvsvc over ncacn_ip_tcp with every DCE/RPC
// protection (NTLMSSP and SPNEGO, integrity and privacy), also found through
// Samba's endpoint mapper on 127.0.0.1:135: levels 0 and 1 read, auto
// settles on 1, and a plain user's refusal and a wrong password (Samba
// faults the first request after the refused auth3) are told apart.
func TestSambaTCPAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Samba")
	}
	peer := sambapeer.Start(t, sambapeer.Options{RPCOverTCP: true})
	peer.HoldT(t,
		sambapeer.Session{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword, From: "127.0.0.2"},
		sambapeer.Session{User: sambapeer.User, Password: sambapeer.UserPassword, From: "127.0.0.3", OpenFile: true},
	)
	ctx := context.Background()
	admin := client.Credentials{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword}
	for _, tc := range []struct {
		name   string
		server string
		o      client.Options
	}{
		{"sign", peer.SrvsvcTCPAddr(), client.Options{Transport: client.TransportTCP, Credentials: admin}},
		{"seal", peer.SrvsvcTCPAddr(), client.Options{Transport: client.TransportTCP, Credentials: admin, Auth: dcerpc.AuthLevelPrivacy}},
		{"sign spnego", peer.SrvsvcTCPAddr(), client.Options{Transport: client.TransportTCP, Credentials: admin, SPNEGO: true}},
		{"seal spnego via epm", sambapeer.Host, client.Options{Transport: client.TransportTCP, Credentials: admin, SPNEGO: true, Auth: dcerpc.AuthLevelPrivacy}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Timeout = 20 * time.Second
			c, err := client.Dial(ctx, tc.server, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.EnumAll(ctx, client.LevelAuto, client.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != 1 || len(res.Tried) != 2 || res.Tried[0].Status != session.StatusInvalidLevel {
				t.Errorf("auto: level %d, tried %v", res.Level, res.Tried)
			}
			var bob *client.Session
			for i, s := range res.Sessions {
				if s.UserName == sambapeer.User {
					bob = &res.Sessions[i]
				}
			}
			if bob == nil || bob.ClientHost() != "127.0.0.3" || bob.NumOpens != 1 {
				t.Errorf("level 1 sessions: %+v", res.Sessions)
			}
			res, err = c.EnumAll(ctx, 0, client.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var hosts []string
			for _, s := range res.Sessions {
				hosts = append(hosts, s.ClientHost())
			}
			if !slices.Contains(hosts, "127.0.0.2") || !slices.Contains(hosts, "127.0.0.3") {
				t.Errorf("level 0 clients: %v", hosts)
			}
			if _, err := c.EnumAll(ctx, 502, client.Filter{}); !errors.Is(err, client.ErrInvalidLevel) {
				t.Errorf("level 502: %v", err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cred client.Credentials
		want error
	}{
		{"plain user", client.Credentials{User: sambapeer.User, Password: sambapeer.UserPassword}, client.ErrAccessDenied},
		{"wrong password", client.Credentials{User: sambapeer.AdminUser, Password: "wrong"}, client.ErrLogonFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.Dial(ctx, peer.SrvsvcTCPAddr(), client.Options{Transport: client.TransportTCP, Credentials: tc.cred, Timeout: 20 * time.Second})
			if err == nil {
				_, err = c.EnumAll(ctx, client.LevelAuto, client.Filter{})
				c.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
