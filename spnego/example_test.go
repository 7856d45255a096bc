package spnego_test

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/spnego"
)

// SPNEGO around NTLM, as in DCE/RPC auth type 9 (bind, bind_ack,
// alter_context, alter_context_resp) or SMB2 SESSION_SETUP. The acceptor
// and initiator are given their mechanisms; adding one (Kerberos) is
// passing it here too.
func Example() {
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}})
	if err != nil {
		panic(err)
	}
	acc, err := spnego.NewAcceptor(&ntlm.Server{Accounts: accounts, ComputerName: "FILESRV"})
	if err != nil {
		panic(err)
	}
	user, domain := ntlm.SplitUser(`NETSESS\alice`)
	ini, err := spnego.NewInitiator(&ntlm.Client{User: user, Domain: domain, Password: "AlicePass1"})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	acceptor := acc.NewContext(auth.Peer{Source: "192.0.2.10"})
	initiator := ini.NewContext()
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
	res, _ := acceptor.Result()
	caller := res.Identity.Caller()
	fmt.Println("mechanism:", res.Mechanism, "caller:", caller.User, "class:", session.ClassOf(caller))

	pdu := []byte("request PDU up to the auth value")
	sig, _ := initiator.Sign(pdu)
	fmt.Println("request verifies:", acceptor.Verify(pdu, sig) == nil)
	// Output:
	// leg 1: initiator sent 74 bytes, acceptor answered true
	// leg 2: initiator sent 332 bytes, acceptor answered true
	// mechanism: NTLMSSP caller: alice class: admin
	// request verifies: true
}
