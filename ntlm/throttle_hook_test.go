package ntlm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/netsession/netsession/auth"
)

// recordingThrottle is an auth.Throttle that logs every call and refuses
// the accounts in refuse.
type recordingThrottle struct {
	calls  []string
	refuse map[string]bool
}

func (r *recordingThrottle) Check(source, account string, _ time.Time) auth.Decision {
	r.calls = append(r.calls, fmt.Sprintf("check %s %q", source, account))
	if r.refuse[account] {
		return auth.Decision{Reason: auth.ErrAccountLockedOut, RetryAfter: time.Minute}
	}
	return auth.Decision{Allowed: true}
}

func (r *recordingThrottle) Record(source, account string, ok bool, _ time.Time) time.Duration {
	r.calls = append(r.calls, fmt.Sprintf("record %s %q %v", source, account, ok))
	if !ok {
		return time.Second
	}
	return 0
}

// TestThrottleHook: the acceptor asks any auth.Throttle before verifying
// (under the account's name, lower case; one name for unknown accounts),
// tells it the outcome of each verified logon, passes the answer delay on
// in the error, and honours a refusal without verifying or recording.
func TestThrottleHook(t *testing.T) {
	r := &recordingThrottle{refuse: map[string]bool{"bob": true}}
	srv := &Server{Accounts: testAccounts(t), Throttle: r}
	var delays []time.Duration
	for _, cli := range []*Client{
		{User: "Alice", Password: "AlicePass1"},
		{User: "alice", Password: "wrong"},
		{User: "mallory", Password: "x"},
		{User: "bob", Password: "BobPass1"},
	} {
		sc, authMsg := challenged(t, srv, cli)
		_, _, err := sc.Step(context.Background(), authMsg)
		var d interface{ AnswerDelay() time.Duration }
		if errors.As(err, &d) {
			delays = append(delays, d.AnswerDelay())
		}
		if cli.User == "bob" && (!errors.Is(err, auth.ErrAccountLockedOut) || !errors.Is(err, auth.ErrLogonFailure)) {
			t.Fatalf("refused account: %v", err)
		}
	}
	want := []string{
		`check 198.51.100.7 "alice"`, `record 198.51.100.7 "alice" true`,
		`check 198.51.100.7 "alice"`, `record 198.51.100.7 "alice" false`,
		fmt.Sprintf("check 198.51.100.7 %q", UnknownAccount), fmt.Sprintf("record 198.51.100.7 %q false", UnknownAccount),
		`check 198.51.100.7 "bob"`,
	}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("calls\n%q\nwant\n%q", r.calls, want)
	}
	if !slices.Equal(delays, []time.Duration{time.Second, time.Second, 0}) {
		t.Fatalf("answer delays %v", delays)
	}
	var _ auth.Throttle = (*Throttle)(nil)
}
