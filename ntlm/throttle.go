package ntlm

import (
	"sync"
	"time"
)

// Throttle slows password guessing per source (an IP address, say). After
// the n-th consecutive failed logon from a source, that source is refused
// without any check for BaseDelay·2^(n-1), capped at MaxDelay; a
// successful logon clears it. Nothing sleeps: a refused attempt fails at
// once with ErrThrottled, so no goroutine is parked and no lock is held
// while time passes. The lock guards only the small per-source map.
//
// The zero value (and a nil *Throttle) never throttles, which is what
// tests want.
type Throttle struct {
	// BaseDelay is the penalty after the first failure; 0 disables.
	BaseDelay time.Duration
	// MaxDelay caps the penalty; 0 means 30 seconds.
	MaxDelay time.Duration
	// Forget drops a source's record this long after its last failure;
	// 0 means 15 minutes.
	Forget time.Duration
	// MaxSources bounds the number of sources remembered; 0 means 4096.
	// When full, expired records go first, then the oldest one.
	MaxSources int
	// Now is the clock of Allow and Record; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	sources map[string]*throttleRecord
}

type throttleRecord struct {
	failures int
	last     time.Time
	until    time.Time
}

func (t *Throttle) enabled() bool { return t != nil && t.BaseDelay > 0 }

func (t *Throttle) limits() (maxDelay, forget time.Duration, maxSources int) {
	maxDelay, forget, maxSources = t.MaxDelay, t.Forget, t.MaxSources
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	if forget <= 0 {
		forget = 15 * time.Minute
	}
	if maxSources <= 0 {
		maxSources = 4096
	}
	return
}

// Wait reports how long source must still wait before its next attempt
// is considered; 0 means now.
func (t *Throttle) Wait(source string, now time.Time) time.Duration {
	if !t.enabled() {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.sources[source]
	if r == nil || !now.Before(r.until) {
		return 0
	}
	return r.until.Sub(now)
}

// Failure records a failed logon from source and returns the penalty now
// in force for it.
func (t *Throttle) Failure(source string, now time.Time) time.Duration {
	if !t.enabled() {
		return 0
	}
	maxDelay, forget, maxSources := t.limits()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sources == nil {
		t.sources = make(map[string]*throttleRecord)
	}
	r := t.sources[source]
	if r != nil && now.Sub(r.last) > forget {
		r = nil
	}
	if r == nil {
		if len(t.sources) >= maxSources {
			t.evict(now, forget)
		}
		r = &throttleRecord{}
		t.sources[source] = r
	}
	r.failures++
	d := t.BaseDelay
	for i := 1; i < r.failures && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	r.last = now
	r.until = now.Add(d)
	return d
}

// Success forgets source's failures.
func (t *Throttle) Success(source string) {
	if !t.enabled() {
		return
	}
	t.mu.Lock()
	delete(t.sources, source)
	t.mu.Unlock()
}

func (t *Throttle) evict(now time.Time, forget time.Duration) {
	_, _, maxSources := t.limits()
	var oldest string
	var oldestAt time.Time
	found := false
	for k, r := range t.sources {
		if now.Sub(r.last) > forget {
			delete(t.sources, k)
			continue
		}
		if !found || r.last.Before(oldestAt) {
			oldest, oldestAt, found = k, r.last, true
		}
	}
	if found && len(t.sources) >= maxSources {
		delete(t.sources, oldest)
	}
}
