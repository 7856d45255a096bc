package ntlm

import (
	"context"
	"time"

	"github.com/netsession/netsession/auth"
)

var _ auth.Throttle = (*Throttle)(nil)

func (t *Throttle) now() time.Time {
	if t != nil && t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Allow implements auth.Throttle: it refuses a source that is still
// serving its penalty (Wait), whatever the account.
func (t *Throttle) Allow(_ context.Context, source, _ string) (time.Duration, bool) {
	if w := t.Wait(source, t.now()); w > 0 {
		return w, false
	}
	return 0, true
}

// Record implements auth.Throttle: a failure counts against the source
// (Failure), a success clears it (Success).
func (t *Throttle) Record(source, _ string, ok bool) time.Duration {
	if ok {
		t.Success(source)
		return 0
	}
	return t.Failure(source, t.now())
}
