package ntlm_test

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
)

// A DCE/RPC association with SPNEGO (auth type 9): the tokens travel in
// bind / bind_ack / alter_context / alter_context_resp; afterwards each PDU
// is signed with the next sequence number of its direction.
func Example() {
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}})
	if err != nil {
		panic(err)
	}
	srv := &ntlm.Server{Accounts: accounts, ComputerName: "FILESRV"}
	acceptor, _ := srv.NewAcceptor(ntlm.AuthTypeSPNEGO, "192.0.2.10")

	user, domain := ntlm.SplitUser(`NETSESS\alice`)
	initiator, _ := (&ntlm.Client{User: user, Domain: domain, Password: "AlicePass1"}).NewInitiator(ntlm.AuthTypeSPNEGO)

	ctx := context.Background()
	var token []byte
	for leg := 1; ; leg++ {
		out, done, err := initiator.Step(ctx, token)
		if err != nil {
			panic(err)
		}
		if done {
			break
		}
		if token, _, err = acceptor.Step(ctx, out); err != nil {
			panic(err)
		}
		fmt.Printf("leg %d: initiator sent %d bytes, acceptor answered %t\n", leg, len(out), token != nil)
	}
	caller := acceptor.Caller()
	fmt.Println("caller:", caller.User, "admin:", caller.InGroup(session.GroupAdministrators))

	pdu := []byte("request PDU up to the auth value")
	sig, _ := initiator.Sign(pdu)
	fmt.Println("request verifies:", acceptor.Verify(pdu, sig) == nil)
	// Output:
	// leg 1: initiator sent 74 bytes, acceptor answered true
	// leg 2: initiator sent 332 bytes, acceptor answered true
	// caller: alice admin: true
	// request verifies: true
}
