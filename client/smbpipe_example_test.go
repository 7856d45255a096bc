package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// DialSMBPipe is the transport under client.Dial with TransportSMB; it is
// exported for programs that drive srvsvc (or another interface on another
// pipe) with the dcerpc and srvs packages directly. No DCE/RPC
// authentication is needed on top: the SMB logon is the caller's identity.
func ExampleDialSMBPipe() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pipe, err := client.DialSMBPipe(ctx, "fs1.example.com",
		client.Credentials{User: `CORP\alice`, Password: "secret"}, client.SMBPipeOptions{})
	if err != nil {
		fmt.Println(client.KindOf(err), err) // unreachable, timeout, logon failure, access denied, ...
		return
	}
	defer pipe.Close()
	stub, err := srvs.Bind(ctx, dcerpc.NewClient(pipe, dcerpc.ClientConfig{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := stub.EnumAll(ctx, session.Level1, "", "", session.MaxPreferredLength)
	if err != nil {
		fmt.Println(err) // a *srvs.StatusError for a refusal such as ERROR_ACCESS_DENIED
		return
	}
	for _, s := range res.Entries {
		fmt.Println(s.ClientName, s.UserName, s.NumOpens)
	}
}
