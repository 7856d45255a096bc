package ntlm_test

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
)

// A DCE/RPC association with raw NTLMSSP (auth type 10): NEGOTIATE in the
// bind, CHALLENGE in the bind_ack, AUTHENTICATE in the auth3; afterwards
// each PDU is signed with the next sequence number of its direction.
// (Package spnego wraps the same contexts for auth type 9 and SMB2.)
func Example() {
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}})
	if err != nil {
		panic(err)
	}
	srv := &ntlm.Server{Accounts: accounts, ComputerName: "FILESRV"}
	acceptor := srv.NewContext("192.0.2.10")

	user, domain := ntlm.SplitUser(`NETSESS\alice`)
	initiator := (&ntlm.Client{User: user, Domain: domain, Password: "AlicePass1"}).NewContext()

	ctx := context.Background()
	var token []byte
	for leg := 1; ; leg++ {
		out, _, err := initiator.Step(ctx, token)
		if err != nil {
			panic(err)
		}
		var done bool
		if token, done, err = acceptor.Step(ctx, out); err != nil {
			panic(err)
		}
		fmt.Printf("leg %d: initiator sent %d bytes, acceptor answered %t\n", leg, len(out), token != nil)
		if done {
			break
		}
	}
	caller := acceptor.Caller()
	fmt.Println("caller:", caller.User, "admin:", caller.InGroup(session.GroupAdministrators))

	pdu := []byte("request PDU up to the auth value")
	sig, _ := initiator.Sign(pdu)
	fmt.Println("request verifies:", acceptor.Verify(pdu, sig) == nil)
	// Output:
	// leg 1: initiator sent 40 bytes, acceptor answered true
	// leg 2: initiator sent 296 bytes, acceptor answered false
	// caller: alice admin: true
	// request verifies: true
}
