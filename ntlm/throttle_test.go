package ntlm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// throttleRig is an acceptor with a throttle and a clock the test moves.
type throttleRig struct {
	t   *testing.T
	srv *Server
	th  *Throttle
	now time.Time
}

func newThrottleRig(t *testing.T, th *Throttle, accounts *Accounts) *throttleRig {
	r := &throttleRig{t: t, th: th, now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	r.srv = &Server{Accounts: accounts, Throttle: th, Now: func() time.Time { return r.now }}
	return r
}

// logon runs one exchange from source and returns the acceptor's error.
func (r *throttleRig) logon(source, user, pass string) error {
	r.t.Helper()
	ctx := context.Background()
	cc, sc := (&Client{User: user, Password: pass}).NewContext(), r.srv.NewContext(source)
	neg, _, err := cc.Step(ctx, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	chal, _, err := sc.Step(ctx, neg)
	if err != nil {
		return err
	}
	auth, _, err := cc.Step(ctx, chal)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _, err = sc.Step(ctx, auth)
	return err
}

func answerDelay(err error) time.Duration {
	var d interface{ AnswerDelay() time.Duration }
	if errors.As(err, &d) {
		return d.AnswerDelay()
	}
	return 0
}

// Bob's correct logon right after a wrong password for alice from the
// same address succeeds; so does it after alice's budget from that
// address is spent, while alice is refused without her password being
// checked (even the right one).
func TestThrottleTwoAccountsOneSource(t *testing.T) {
	r := newThrottleRig(t, &Throttle{}, testAccounts(t))
	const src = "198.51.100.7"
	err := r.logon(src, "alice", "wrong")
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if d := answerDelay(err); d != DefaultFailureDelay {
		t.Errorf("failed answer held back %v, want %v", d, DefaultFailureDelay)
	}
	r.now = r.now.Add(2 * time.Millisecond)
	if err := r.logon(src, "bob", "BobPass1"); err != nil {
		t.Fatalf("bob 2 ms after alice's wrong password: %v", err)
	}
	for range DefaultSourceAccountBurst - 1 {
		if err := r.logon(src, "alice", "wrong"); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("alice's guesses within her budget: %v", err)
		}
	}
	err = r.logon(src, "alice", "AlicePass1")
	if !errors.Is(err, ErrThrottled) || !errors.Is(err, ErrLogonFailure) {
		t.Fatalf("alice over her budget from this source: %v", err)
	}
	if d := answerDelay(err); d != 0 {
		t.Errorf("a throttled attempt is held back %v: it was not verified, there is nothing to hide", d)
	}
	if err := r.logon(src, "bob", "BobPass1"); err != nil {
		t.Fatalf("bob after alice's budget is spent: %v", err)
	}
	if err := r.logon("203.0.113.9", "alice", "AlicePass1"); err != nil {
		t.Fatalf("alice from another source: %v", err)
	}
}

// A successful null session resets nothing: alternating guesses with
// anonymous logons buys no extra guess.
func TestThrottleNullLogonNoReset(t *testing.T) {
	r := newThrottleRig(t, &Throttle{}, testAccounts(t))
	const src = "198.51.100.7"
	guesses := 0
	for range 3 * DefaultSourceAccountBurst {
		if err := r.logon(src, "", ""); err != nil {
			t.Fatalf("null session: %v", err)
		}
		if err := r.logon(src, "alice", "wrong"); errors.Is(err, ErrWrongPassword) {
			guesses++
		} else if !errors.Is(err, ErrThrottled) {
			t.Fatalf("guess: %v", err)
		}
		r.now = r.now.Add(time.Millisecond)
	}
	if guesses != DefaultSourceAccountBurst {
		t.Fatalf("%d guesses verified between null sessions, want %d", guesses, DefaultSourceAccountBurst)
	}
}

// Throttled attempts do not extend the penalty: hammering while refused
// does not delay the moment a guess (here the right password) is verified
// again.
func TestThrottledAttemptNotCounted(t *testing.T) {
	r := newThrottleRig(t, &Throttle{}, testAccounts(t))
	const src = "198.51.100.7"
	for range DefaultSourceAccountBurst {
		r.logon(src, "alice", "wrong")
	}
	// One failure refills per DefaultSourceAccountRefill; hammer until
	// just before.
	end := r.now.Add(DefaultSourceAccountRefill)
	for r.now.Before(end.Add(-time.Second)) {
		if err := r.logon(src, "alice", "wrong"); !errors.Is(err, ErrThrottled) {
			t.Fatalf("at %v: %v", end.Sub(r.now), err)
		}
		r.now = r.now.Add(500 * time.Millisecond)
	}
	r.now = end
	if err := r.logon(src, "alice", "AlicePass1"); err != nil {
		t.Fatalf("right password once the budget has room: %v", err)
	}
}

// An account whose budget is spent by guesses from many sources is locked
// out for everyone, correct password included, and says so.
func TestThrottleAccountLockout(t *testing.T) {
	r := newThrottleRig(t, &Throttle{}, testAccounts(t))
	for i := range DefaultAccountBurst {
		if err := r.logon(fmt.Sprintf("192.0.2.%d", i), "alice", "wrong"); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	err := r.logon("203.0.113.9", "alice", "AlicePass1")
	if !errors.Is(err, ErrAccountLockedOut) || !errors.Is(err, ErrLogonFailure) {
		t.Fatalf("locked-out account: %v", err)
	}
	if err := r.logon("203.0.113.9", "bob", "BobPass1"); err != nil {
		t.Fatalf("another account: %v", err)
	}
	r.now = r.now.Add(DefaultAccountRefill)
	if err := r.logon("203.0.113.9", "alice", "AlicePass1"); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

// Unknown names share one budget: guessing names is bounded like guessing
// one account's password, and remembers nothing per name.
func TestThrottleUnknownNames(t *testing.T) {
	r := newThrottleRig(t, &Throttle{}, testAccounts(t))
	for i := range DefaultSourceAccountBurst {
		if err := r.logon("198.51.100.7", fmt.Sprintf("nobody%d", i), "x"); !errors.Is(err, ErrUnknownUser) {
			t.Fatalf("name %d: %v", i, err)
		}
	}
	if err := r.logon("198.51.100.7", "nobody-else", "x"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("one more name: %v", err)
	}
	if n := len(r.th.accounts); n != 1 {
		t.Errorf("%d account records for unknown names, want 1", n)
	}
}

// Spraying one source across many accounts is bounded by the source's
// budget and by the failed answers it has held back; an account that
// logged on from that source before is exempt there.
func TestThrottleSpraying(t *testing.T) {
	var accs []Account
	for i := range 40 {
		accs = append(accs, Account{Name: fmt.Sprintf("user%d", i), NTHash: NTHash("Pass1")})
	}
	accounts, err := NewAccounts("NETSESS", false, accs...)
	if err != nil {
		t.Fatal(err)
	}
	r := newThrottleRig(t, &Throttle{}, accounts)
	const src = "198.51.100.7"
	if err := r.logon(src, "user39", "Pass1"); err != nil {
		t.Fatal(err)
	}
	verified := 0
	for i := range 38 {
		if err := r.logon(src, fmt.Sprintf("user%d", i), "wrong"); errors.Is(err, ErrWrongPassword) {
			verified++
		}
	}
	if verified != DefaultMaxDelayedPerSource {
		t.Errorf("%d guesses verified while their answers were held back, want %d", verified, DefaultMaxDelayedPerSource)
	}
	if err := r.logon(src, "user39", "Pass1"); err != nil {
		t.Errorf("known-good account during the spray: %v", err)
	}
	// Answers released; the source's own budget (20) ends the spray.
	verified = 0
	for i := range 38 {
		r.now = r.now.Add(DefaultFailureDelay)
		if err := r.logon(src, fmt.Sprintf("user%d", i), "wrong"); errors.Is(err, ErrWrongPassword) {
			verified++
		}
	}
	if verified >= 38 || verified < DefaultSourceBurst-DefaultMaxDelayedPerSource {
		t.Errorf("%d more guesses verified, want the source budget to stop them", verified)
	}
	if err := r.logon("203.0.113.9", "user38", "Pass1"); err != nil {
		t.Errorf("another source: %v", err)
	}
}

func TestThrottleBounded(t *testing.T) {
	th := &Throttle{MaxRecords: 8}
	now := time.Unix(1e9, 0)
	for i := range 100 {
		th.Record(fmt.Sprintf("192.0.2.%d", i), "alice", false, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(th.pairs) + len(th.sources); n > 8 {
		t.Fatalf("%d records, bound 8", n)
	}
	var zero *Throttle
	if !zero.Check("a", "alice", now).Allowed || zero.Record("a", "alice", false, now) != 0 {
		t.Fatal("nil throttle throttles")
	}
}

// Every refusal is logged at WARN with its source and user, throttled
// ones included; every successful logon at INFO.
func TestThrottleLogs(t *testing.T) {
	var buf strings.Builder
	r := newThrottleRig(t, &Throttle{SourceAccountBurst: 1}, testAccounts(t))
	r.srv.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	r.logon("198.51.100.7", "alice", "wrong")
	r.logon("198.51.100.7", "alice", "AlicePass1")
	r.logon("198.51.100.7", "bob", "BobPass1")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d records:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"level=WARN", "level=WARN", "level=INFO"} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "source=198.51.100.7") || !strings.Contains(lines[i], "user=") {
			t.Errorf("record %d: %s, want %s with source and user", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[1], "not verified") {
		t.Errorf("throttled refusal does not say so: %s", lines[1])
	}
}
