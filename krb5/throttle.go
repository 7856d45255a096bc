package krb5

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/netsession/netsession/auth"
)

// unknownTicketAccount is the throttle's account name for refused AP-REQs
// whose ticket names no client this acceptor could read (a ticket for
// another service, one that does not decrypt with the keytab, garbage):
// they count against their source, and all of them share this one
// account budget, which no real logon is ever checked against.
const unknownTicketAccount = "\x00krb5-unknown-ticket"

// throttleAccount is the throttle's name for a ticket's client: user@REALM
// in lower case.
func throttleAccount(name []string, realm string) string {
	return strings.ToLower(strings.Join(name, "/") + "@" + realm)
}

// throttledError is a logon the throttle refused before it was verified:
// a logon failure with the throttle's reason (auth.ErrAccountLockedOut,
// or the throttle's own error for a source that is guessing).
type throttledError struct {
	account string
	d       auth.Decision
}

func (e *throttledError) Error() string {
	return fmt.Sprintf("krb5: logon of %s not verified: %v (retry after %v)", e.account, e.d.Reason, e.d.RetryAfter.Round(time.Second))
}

func (e *throttledError) Unwrap() []error {
	if e.d.Reason == nil {
		return []error{auth.ErrLogonFailure}
	}
	return []error{auth.ErrLogonFailure, e.d.Reason}
}

// acceptThrottled runs the AP-REQ check of one exchange under the
// throttle t (which may be nil) for a peer at source: the throttle is
// asked once the ticket names its client (a refusal is not verified
// further and counts for nothing), and every verified outcome is
// recorded: a success, a failure of the named client, or a failure
// against unknownTicketAccount when the ticket named none. It returns
// how long the failing answer should be held back.
func (a *Acceptor) acceptThrottled(ctx context.Context, token []byte, t auth.Throttle, source string) (*acceptance, time.Duration, error) {
	if t == nil {
		r, err := a.accept(ctx, token)
		return r, 0, err
	}
	gate := func(account string) error {
		if d := t.Check(source, account, a.now()); !d.Allowed {
			return &throttledError{account: account, d: d}
		}
		return nil
	}
	r, account, err := a.acceptGated(ctx, token, gate)
	var refused *throttledError
	if errors.As(err, &refused) || ctx.Err() != nil {
		return nil, 0, err
	}
	if account == "" {
		account = unknownTicketAccount
	}
	delay := t.Record(source, account, err == nil, a.now())
	return r, delay, err
}
