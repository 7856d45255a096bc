package ntlm

import (
	"strings"
	"sync"
	"time"

	"github.com/netsession/netsession/auth"
)

// Defaults of Throttle's zero fields, with the reason for each figure.
const (
	// DefaultFailureDelay is how long the answer to a failed logon is
	// held back: what Windows 11 24H2 and Server 2025 do for a failed
	// NTLM logon over SMB. A client that waits for its answers makes at
	// most one guess per connection every two seconds.
	DefaultFailureDelay = 2 * time.Second
	// DefaultAccountBurst and DefaultAccountRefill bound the failures of
	// one account from all sources together: 10 at once, as the account
	// lockout threshold Windows 11 ships with, then one a minute. While
	// they are spent the account is locked out (STATUS_ACCOUNT_LOCKED_OUT),
	// correct password or not, as Windows locks it.
	DefaultAccountBurst  = 10
	DefaultAccountRefill = time.Minute
	// DefaultSourceAccountBurst and DefaultSourceAccountRefill bound the
	// failures of one account from one source: 5 typing mistakes, then
	// one a minute. They run out before the account's own, so one
	// guessing source is stopped before it locks the account out for
	// everyone else.
	DefaultSourceAccountBurst  = 5
	DefaultSourceAccountRefill = time.Minute
	// DefaultSourceBurst and DefaultSourceRefill bound the failures of one
	// source across all accounts (password spraying): 20, then one every
	// 6 seconds (ten a minute).
	DefaultSourceBurst  = 20
	DefaultSourceRefill = 6 * time.Second
	// DefaultMaxDelayedPerSource bounds the failed answers of one source
	// being held back at once: a source that does not wait for its
	// answers (it hangs up and tries again) cannot run more than 8
	// guesses per FailureDelay.
	DefaultMaxDelayedPerSource = 8
	// DefaultMaxThrottleRecords bounds the sources, and source and
	// account pairs, remembered; idle records (whose budgets have
	// refilled) are forgotten first.
	DefaultMaxThrottleRecords = 16384
	// DefaultKnownGood is how long a source stays known-good for an
	// account after a successful logon of that account from it.
	DefaultKnownGood = 24 * time.Hour
)

// UnknownAccount is the account name Throttle is given for logons naming
// an account that does not exist: all of them share one budget, so a
// caller cannot make the throttle remember any number of made-up names.
const UnknownAccount = "\x00unknown"

// Throttle bounds password guessing. It is a self-contained type with two
// methods, Check before a password is verified and Record after, so that
// any authentication mechanism can call it; the ntlm acceptor does.
//
// What it guarantees, in this order of priority:
//
//   - A correct logon is never refused because of another account's
//     failures. Budgets are kept per account, per source and account, and
//     per source; only the last is shared between accounts, and an
//     account that has logged on from a source before (DefaultKnownGood)
//     is exempt from it there. A correct logon is refused only while its
//     own account is locked out or its own source has spent its budget
//     for that account, or, for a first logon from a source, while that
//     source is spraying wrong passwords.
//   - Guesses are bounded per account (AccountBurst, then one per
//     AccountRefill, from all sources together), per source and account,
//     and per source (SourceBurst, then one per SourceRefill).
//   - Nothing an unauthenticated caller does resets a budget: budgets
//     only refill with time. Anonymous and guest logons are neither
//     checked nor recorded, and a success clears nothing.
//   - A refused (throttled) attempt is not verified and is not counted
//     as a failure: it does not extend anything.
//
// A failed logon's answer is held back by FailureDelay; Record returns
// that delay and the transport waits it out before answering, with a
// timer on the connection's own goroutine: no goroutine is started and
// nothing sleeps under the throttle's lock. The delayed answers of a
// source count against MaxDelayedPerSource until their time is up, even
// if the client hangs up first.
//
// Budgets are token buckets kept as a theoretical arrival time (GCRA):
// one timestamp each, no timers. The zero value uses the defaults; a nil
// *Throttle never throttles.
type Throttle struct {
	// FailureDelay holds back a failed logon's answer (0:
	// DefaultFailureDelay, negative: none).
	FailureDelay time.Duration
	// AccountBurst failures of one account at once, one more per
	// AccountRefill (0: DefaultAccountBurst, DefaultAccountRefill).
	AccountBurst  int
	AccountRefill time.Duration
	// SourceAccountBurst failures of one account from one source, one
	// more per SourceAccountRefill (0: defaults).
	SourceAccountBurst  int
	SourceAccountRefill time.Duration
	// SourceBurst failures from one source, one more per SourceRefill
	// (0: defaults).
	SourceBurst  int
	SourceRefill time.Duration
	// MaxDelayedPerSource failed answers of one source held back at once
	// (0: DefaultMaxDelayedPerSource).
	MaxDelayedPerSource int
	// MaxRecords bounds the source and pair records (0:
	// DefaultMaxThrottleRecords).
	MaxRecords int

	mu       sync.Mutex
	accounts map[string]time.Time // account -> bucket
	sources  map[string]*sourceRecord
	pairs    map[pairKey]*pairRecord
}

type pairKey struct{ source, account string }

type sourceRecord struct {
	tat     time.Time   // failure bucket
	delayed []time.Time // ends of the answers held back
}

type pairRecord struct {
	tat       time.Time
	knownGood time.Time // until when the source is exempt from its own budget for this account
}

// ErrAccountLockedOut: the account has spent its failure budget; no
// logon is verified until it refills. Transports answer it as Windows
// does (STATUS_ACCOUNT_LOCKED_OUT over SMB). It is the auth package's, so
// that transports need not know this package.
var ErrAccountLockedOut = auth.ErrAccountLockedOut

// Decision is Check's answer (auth.Decision: Throttle is the auth.Throttle
// hook).
type Decision = auth.Decision

func durOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func intOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// bucketWait is how long until a GCRA bucket with theoretical arrival
// time tat has room for one more failure; 0 means now.
func bucketWait(tat, now time.Time, burst int, refill time.Duration) time.Duration {
	if !tat.After(now) {
		return 0
	}
	return max(tat.Sub(now)-time.Duration(burst-1)*refill, 0)
}

// bucketTake records one failure.
func bucketTake(tat, now time.Time, refill time.Duration) time.Time {
	if tat.Before(now) {
		tat = now
	}
	return tat.Add(refill)
}

// Check decides whether a logon of account from source is verified.
// account is the account name in lower case (UnknownAccount for names
// that do not exist); "" (anonymous) is always allowed.
func (t *Throttle) Check(source, account string, now time.Time) Decision {
	if t == nil || account == "" {
		return Decision{Allowed: true}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := bucketWait(t.accounts[account], now, intOr(t.AccountBurst, DefaultAccountBurst),
		durOr(t.AccountRefill, DefaultAccountRefill)); w > 0 {
		return Decision{Reason: ErrAccountLockedOut, RetryAfter: w}
	}
	p := t.pairs[pairKey{source, account}]
	if p != nil {
		if w := bucketWait(p.tat, now, intOr(t.SourceAccountBurst, DefaultSourceAccountBurst),
			durOr(t.SourceAccountRefill, DefaultSourceAccountRefill)); w > 0 {
			return Decision{Reason: ErrThrottled, RetryAfter: w}
		}
		if now.Before(p.knownGood) {
			return Decision{Allowed: true}
		}
	}
	if s := t.sources[source]; s != nil {
		if w := bucketWait(s.tat, now, intOr(t.SourceBurst, DefaultSourceBurst),
			durOr(t.SourceRefill, DefaultSourceRefill)); w > 0 {
			return Decision{Reason: ErrThrottled, RetryAfter: w}
		}
		if n := s.pending(now); n >= intOr(t.MaxDelayedPerSource, DefaultMaxDelayedPerSource) {
			return Decision{Reason: ErrThrottled, RetryAfter: s.delayed[0].Sub(now)}
		}
	}
	return Decision{Allowed: true}
}

// pending drops the delayed answers whose time is up and returns how many
// remain.
func (s *sourceRecord) pending(now time.Time) int {
	i := 0
	for i < len(s.delayed) && !s.delayed[i].After(now) {
		i++
	}
	s.delayed = s.delayed[i:]
	return len(s.delayed)
}

// Record notes the outcome of a verified logon of account from source (a
// wrong password or an unknown name is a failure) and returns how long
// the failing answer must be held back. Anonymous logons (account "")
// are not recorded; a success marks the source known-good for the
// account and resets nothing.
func (t *Throttle) Record(source, account string, success bool, now time.Time) (answerDelay time.Duration) {
	if t == nil || account == "" {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pairs == nil {
		t.accounts = make(map[string]time.Time)
		t.sources = make(map[string]*sourceRecord)
		t.pairs = make(map[pairKey]*pairRecord)
	}
	k := pairKey{source, account}
	p := t.pairs[k]
	if p == nil {
		t.makeRoom(now)
		p = &pairRecord{}
		t.pairs[k] = p
	}
	if success {
		p.knownGood = now.Add(DefaultKnownGood)
		return 0
	}
	t.accounts[account] = bucketTake(t.accounts[account], now, durOr(t.AccountRefill, DefaultAccountRefill))
	p.tat = bucketTake(p.tat, now, durOr(t.SourceAccountRefill, DefaultSourceAccountRefill))
	s := t.sources[source]
	if s == nil {
		t.makeRoom(now)
		s = &sourceRecord{}
		t.sources[source] = s
	}
	s.tat = bucketTake(s.tat, now, durOr(t.SourceRefill, DefaultSourceRefill))
	d := t.FailureDelay
	if d == 0 {
		d = DefaultFailureDelay
	}
	if d < 0 {
		return 0
	}
	s.pending(now)
	s.delayed = append(s.delayed, now.Add(d))
	return d
}

// makeRoom forgets idle records (budgets refilled, no answer held back,
// not known-good) when the records are at their bound, and if that is not
// enough, the pair or source whose budget refills soonest. Accounts are
// never forgotten: there are as many as the account database has, plus
// UnknownAccount.
func (t *Throttle) makeRoom(now time.Time) {
	limit := intOr(t.MaxRecords, DefaultMaxThrottleRecords)
	if len(t.pairs)+len(t.sources) < limit {
		return
	}
	for k, p := range t.pairs {
		if !p.tat.After(now) && !p.knownGood.After(now) {
			delete(t.pairs, k)
		}
	}
	for k, s := range t.sources {
		if !s.tat.After(now) && s.pending(now) == 0 {
			delete(t.sources, k)
		}
	}
	for len(t.pairs)+len(t.sources) >= limit {
		var oldestPair *pairKey
		var oldestTat time.Time
		for k, p := range t.pairs {
			if oldestPair == nil || p.tat.Before(oldestTat) {
				k := k
				oldestPair, oldestTat = &k, p.tat
			}
		}
		if oldestPair == nil {
			for k := range t.sources {
				delete(t.sources, k)
				break
			}
			continue
		}
		delete(t.pairs, *oldestPair)
	}
}

// accountKey is the throttle's name for an account: lower case, since
// account lookups ignore case.
func accountKey(name string) string { return strings.ToLower(name) }
