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

func (r *recordingThrottle) Allow(_ context.Context, source, account string) (time.Duration, bool) {
	r.calls = append(r.calls, fmt.Sprintf("allow %s %q", source, account))
	if r.refuse[account] {
		return time.Minute, false
	}
	return 0, true
}

func (r *recordingThrottle) Record(source, account string, ok bool) time.Duration {
	r.calls = append(r.calls, fmt.Sprintf("record %s %q %v", source, account, ok))
	return 0
}

// TestThrottleHook: the acceptor asks any auth.Throttle before the
// NEGOTIATE (no account yet) and the AUTHENTICATE (the account named),
// tells it each outcome, and honours a refusal.
func TestThrottleHook(t *testing.T) {
	r := &recordingThrottle{refuse: map[string]bool{"mallory": true}}
	srv := &Server{Accounts: testAccounts(t), Throttle: r}
	for _, cli := range []*Client{
		{User: "alice", Password: "AlicePass1"},
		{User: "bob", Password: "wrong"},
		{User: "mallory", Password: "x"},
	} {
		sc, authMsg := challenged(t, srv, cli)
		_, _, err := sc.Step(context.Background(), authMsg)
		if cli.User == "mallory" && !errors.Is(err, ErrThrottled) {
			t.Fatalf("refused account: %v", err)
		}
	}
	want := []string{
		`allow 198.51.100.7 ""`, `allow 198.51.100.7 "alice"`, `record 198.51.100.7 "alice" true`,
		`allow 198.51.100.7 ""`, `allow 198.51.100.7 "bob"`, `record 198.51.100.7 "bob" false`,
		`allow 198.51.100.7 ""`, `allow 198.51.100.7 "mallory"`, `record 198.51.100.7 "mallory" false`,
	}
	if !slices.Equal(r.calls, want) {
		t.Fatalf("calls\n%q\nwant\n%q", r.calls, want)
	}
	var _ auth.Throttle = r
}
