package smb2_test

import (
	"context"
	"fmt"
	"net"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// A daemon wires one session table to the srvsvc handler, the DCE/RPC
// server that serves it, and the SMB2 server whose sessions fill the
// table and whose \PIPE\srvsvc reaches the handler.
func Example() {
	accounts, _ := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{"Administrators"}})
	table := session.New(session.Options{})
	rpc := &dcerpc.Server{}
	_ = rpc.Register((&srvs.Handler{Table: table}).Interface())
	srv := &smb2.Server{
		Table: table,
		Auth:  &ntlm.Server{Accounts: accounts},
		RPC:   rpc,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), l) }()
	// ... clients connect to l.Addr() ...
	_ = srv.Shutdown(context.Background())
	fmt.Println(<-done)
	_ = rpc.Close()
	// Output: smb2: server closed
}

// Server.Pipes maps pipe names to services: srvsvc answered inline by a
// DCE/RPC server's message associations, and a pipe of one's own served
// by a handler on a goroutine per open.
func ExamplePipeService() {
	rpc := &dcerpc.Server{}
	echo := smb2.PipeHandler(func(ctx context.Context, conn net.Conn, caller session.Caller) error {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil // the client closed the pipe
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return nil
			}
		}
	})
	srv := &smb2.Server{
		Table: session.New(session.Options{}),
		Pipes: map[string]smb2.PipeService{
			"srvsvc": smb2.RPCService(rpc),
			"echo":   echo,
		},
	}
	fmt.Println(len(srv.Pipes), "pipes")
	// Output: 2 pipes
}
