package client_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// A server on a loopback port holds two sessions; an administrator lists
// them with level auto, which gets level 502 from this server.
func Example() {
	// The server: a session table behind srvsvc, with NTLM logons.
	table := session.New(session.Options{})
	table.Open(session.Spec{Client: "10.0.0.5", User: "carol", Transport: `\Device\NetbiosSmb`})
	table.Open(session.Spec{Client: "fe80::9%eth0", User: "dave", Transport: `\Device\NetbiosSmb`})
	accounts, _ := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}})
	srv := &dcerpc.Server{Auth: rpcauth.MustAcceptors(&ntlm.Server{Accounts: accounts})}
	srv.Register((&srvs.Handler{Table: table}).Interface())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(context.Background(), l) }()
	defer func() { srv.Close(); <-done }()

	// The client.
	ctx := context.Background()
	c, err := client.Dial(ctx, l.Addr().String(), client.Options{
		Transport:   client.TransportTCP,
		Credentials: client.Credentials{User: `NETSESS\alice`, Password: "AlicePass1"},
		Timeout:     10 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	for s, err := range c.Enum(ctx, client.LevelAuto, client.Filter{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("level %d: %s from %s (%s)\n", s.Level, s.UserName, s.ClientHost(), s.Transport)
	}
	// Output:
	// level 502: carol from 10.0.0.5 (\Device\NetbiosSmb)
	// level 502: dave from fe80::9 (\Device\NetbiosSmb)
}
