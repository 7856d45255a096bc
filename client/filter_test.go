package client_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/server"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// A server that ignores the qualifiers (here our own server imitating
// Samba 4.17) answers every session; the client applies --client and --user
// itself, and GetInfo picks the entry that matches.
func TestQualifiersAppliedByTheClient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Listeners: server.Listeners{RPC: l},
		Compat:    srvs.CompatSamba417,
		Seeds: []server.Seed{
			{Client: "127.0.0.2", User: "alice"},
			{Client: "127.0.0.3", User: "alice", Opens: 1},
			{Client: "127.0.0.4", User: "bob"},
			{Client: "127.0.0.5", User: `NSPDOM\alice`}, // as a Samba AD DC names its users
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	c, err := client.Dial(ctx, l.Addr().String(), client.Options{
		Transport:   client.TransportTCP,
		Credentials: client.Credentials{User: "alice", Password: "AlicePass1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The server really ignores the qualifiers...
	raw, err := c.EnumAll(ctx, session.Level1, client.Filter{})
	if err != nil || len(raw.Sessions) != 4 {
		t.Fatalf("unfiltered: %+v, %v", raw, err)
	}
	// ...and the client applies them.
	tests := []struct {
		f    client.Filter
		want []string
	}{
		{client.Filter{User: "ALICE"}, []string{"127.0.0.2/alice", "127.0.0.3/alice", `127.0.0.5/NSPDOM\alice`}},
		{client.Filter{User: `nspdom\Alice`}, []string{"127.0.0.2/alice", "127.0.0.3/alice", `127.0.0.5/NSPDOM\alice`}},
		{client.Filter{User: `OTHER\alice`}, []string{"127.0.0.2/alice", "127.0.0.3/alice"}},
		{client.Filter{User: `lice`}, nil},
		{client.Filter{Client: "127.0.0.3"}, []string{"127.0.0.3/alice"}},
		{client.Filter{Client: `\\127.0.0.4`, User: "alice"}, nil},
	}
	for _, tc := range tests {
		res, err := c.EnumAll(ctx, session.Level1, tc.f)
		if err != nil {
			t.Fatalf("%+v: %v", tc.f, err)
		}
		var got []string
		for _, s := range res.Sessions {
			got = append(got, s.ClientName+"/"+s.UserName)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.f, got, tc.want)
		}
	}
	s, err := c.GetInfo(ctx, "127.0.0.3", "alice", session.Level1)
	if err != nil || s.ClientName != "127.0.0.3" || s.NumOpens != 1 {
		t.Errorf("GetInfo: %+v, %v", s, err)
	}
	if _, err := c.GetInfo(ctx, "127.0.0.9", "alice", session.Level1); err == nil {
		t.Error("GetInfo of an absent session succeeded")
	}
}
