package smb2_test

import (
	"testing"
	"time"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// logonStatus logs on over SPNEGO/NTLM on a fresh connection and returns
// the final status and how long the logon took.
func logonStatus(t *testing.T, f *fixture, user, pass string) (smb2.Status, time.Duration) {
	t.Helper()
	c := &encClient{rawClient: dialRaw(t, f.addr)}
	if st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false); err != nil || st != 0 {
		t.Fatalf("negotiate: %v %v", st, err)
	}
	start := time.Now()
	st := c.login(user, pass)
	return st, time.Since(start)
}

func withThrottle(th *ntlm.Throttle) option {
	return func(s *smb2.Server) { s.Auth.(*ntlm.Server).Throttle = th }
}

// A failed logon is answered STATUS_LOGON_FAILURE after the throttle's
// delay; bob's logon right after is answered at once; an account whose
// budget is spent is answered STATUS_ACCOUNT_LOCKED_OUT, correct
// password included, as Windows answers a locked-out account.
func TestLogonThrottle(t *testing.T) {
	const delay = 300 * time.Millisecond
	f := newFixture(t, withThrottle(&ntlm.Throttle{FailureDelay: delay, AccountBurst: 2, SourceAccountBurst: 10}))
	st, took := logonStatus(t, f, "alice", "wrong")
	if st != smb2.StatusLogonFailure || took < delay {
		t.Fatalf("wrong password: %v after %v, want STATUS_LOGON_FAILURE after at least %v", st, took, delay)
	}
	if st, _ := logonStatus(t, f, "bob", "BobPass1"); st != smb2.StatusSuccess {
		t.Fatalf("bob right after alice's wrong password: %v", st)
	}
	if st, _ := logonStatus(t, f, "alice", "wrong"); st != smb2.StatusLogonFailure {
		t.Fatalf("second guess: %v", st)
	}
	st, took = logonStatus(t, f, "alice", "AlicePass1")
	if st != smb2.StatusAccountLockedOut {
		t.Fatalf("locked-out account: %v", st)
	}
	t.Logf("locked-out answer after %v (not held back: nothing was verified)", took)
}
