package server

import (
	"context"
	"errors"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/srvs"
)

// testFailureDelay keeps the throttle tests short; the failed answer must
// still be held back at least this long.
const testFailureDelay = 300 * time.Millisecond

// smbLogon logs on over SMB from 127.0.0.1 and returns the error, and
// how long the answer took.
func smbLogon(t *testing.T, addr, user, pass string) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: user, Password: pass}} // no user: a null session
	start := time.Now()
	s, err := d.Dial(ctx, addr)
	took := time.Since(start)
	if err == nil {
		s.Logoff()
	}
	return took, err
}

// rpcLogon binds srvsvc with NTLM at integrity and makes one call: a
// wrong password shows as a fault on that first call after AUTH3.
func rpcLogon(t *testing.T, addr, user, pass string) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	c, err := dial(t, addr, user, pass, dcerpc.AuthTypeNTLM, dcerpc.AuthLevelIntegrity)
	if err != nil {
		return time.Since(start), err
	}
	_, err = enum(c, 1)
	var se *srvs.StatusError
	if errors.As(err, &se) {
		err = nil // logged on; the policy refused the enumeration
	}
	return time.Since(start), err
}

// Over SMB and over ncacn_ip_tcp: bob's correct logon right after a wrong
// password for alice from the same address succeeds at once; alice's
// failure is answered only after the failure delay, over RPC as a fault
// on the first call after AUTH3.
func TestThrottleTwoAccountsOneAddress(t *testing.T) {
	r := start(t, Config{SMBAddr: "127.0.0.1:0", Throttle: &ntlm.Throttle{FailureDelay: testFailureDelay}})
	for _, tr := range []struct {
		name  string
		logon func(t *testing.T, addr, user, pass string) (time.Duration, error)
		addr  string
	}{{"smb", smbLogon, r.addrs.SMB}, {"rpc", rpcLogon, r.addrs.RPC}} {
		t.Run(tr.name, func(t *testing.T) {
			took, err := tr.logon(t, tr.addr, "alice", "wrong")
			if err == nil {
				t.Fatal("wrong password accepted")
			}
			if tr.name == "rpc" {
				var fe *dcerpc.Fault
				if !errors.As(err, &fe) || fe.Status != dcerpc.StatusAccessDenied {
					t.Errorf("wrong password over RPC: %v, want a fault 0x5 on the first call", err)
				}
			}
			if took < testFailureDelay {
				t.Errorf("failed logon answered after %v, want at least %v", took, testFailureDelay)
			}
			if _, err := tr.logon(t, tr.addr, "bob", "BobPass1"); err != nil {
				t.Fatalf("bob right after alice's wrong password: %v", err)
			}
		})
	}
}

// Alternating wrong passwords with successful null sessions buys no extra
// guesses: after the budget of one account from one address is spent,
// even its right password is refused, null sessions or not.
func TestThrottleNullLogonBypass(t *testing.T) {
	r := start(t, Config{SMBAddr: "127.0.0.1:0", AllowAnonymous: true,
		Throttle: &ntlm.Throttle{FailureDelay: -1}})
	for range ntlm.DefaultSourceAccountBurst + 2 {
		if _, err := smbLogon(t, r.addrs.SMB, "", ""); err != nil {
			t.Fatalf("null session: %v", err)
		}
		if _, err := smbLogon(t, r.addrs.SMB, "alice", "wrong"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if _, err := smbLogon(t, r.addrs.SMB, "", ""); err != nil {
		t.Fatalf("null session: %v", err)
	}
	if _, err := smbLogon(t, r.addrs.SMB, "alice", "AlicePass1"); err == nil {
		t.Fatal("null sessions reset alice's budget: her password is verified again")
	}
	if _, err := rpcLogon(t, r.addrs.RPC, "alice", "AlicePass1"); err == nil {
		t.Fatal("the budget is per transport: alice verified over RPC")
	}
	if _, err := smbLogon(t, r.addrs.SMB, "bob", "BobPass1"); err != nil {
		t.Fatalf("bob: %v", err)
	}
}
