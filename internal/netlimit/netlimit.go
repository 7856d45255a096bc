// Package netlimit holds what every listener of the module shares: which
// accept errors are worth retrying and how long to wait before the next
// try, and a connection limiter with a server-wide cap, a per-address
// cap and refusals logged as rate-limited summaries.
//
// A listener that stops on the first failed accept can be shut down by
// anyone who opens enough connections to exhaust the process's file
// descriptors (EMFILE); a limiter without a per-address share lets one
// client that reconnects as soon as it is closed keep every other client
// out. Both are closed here once for the DCE/RPC, endpoint mapper, SMB
// and metrics listeners.
package netlimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Retry delays of Backoff: the first retry waits MinBackoff, each next
// one twice as long, up to MaxBackoff (the figures net/http uses).
const (
	MinBackoff = 5 * time.Millisecond
	MaxBackoff = time.Second
)

// Temporary reports whether an Accept error is worth retrying after a
// pause: a timeout, running out of descriptors, buffers or memory, or a
// connection that went away before it was accepted. Anything else (the
// listener closed, say) is permanent.
func Temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Backoff is the pause between failed accepts. Its zero value starts at
// MinBackoff.
type Backoff struct{ d time.Duration }

// Next returns the pause before the next retry, doubling each time up to
// MaxBackoff.
func (b *Backoff) Next() time.Duration {
	b.d = min(max(2*b.d, MinBackoff), MaxBackoff)
	return b.d
}

// Reset starts over after a successful accept.
func (b *Backoff) Reset() { b.d = 0 }

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Key is the per-address key of a peer: its IP address, with IPv4-mapped
// IPv6 addresses unmapped, and an IPv6 address reduced to its /64 (one
// machine or one site gets a whole /64, so counting single IPv6 addresses
// would count nothing). An address that is not IP is its own key.
func Key(a net.Addr) string {
	if a == nil {
		return ""
	}
	var ip netip.Addr
	switch v := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		} else if p, err := netip.ParseAddr(a.String()); err == nil {
			ip = p
		} else {
			return a.String()
		}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// DefaultLogInterval is how often a Limiter logs the refusals of one
// address at most: the first refusal at once, then one summary with a
// count per interval.
const DefaultLogInterval = 10 * time.Second

// maxRefusalKeys bounds the addresses whose refusals are being counted
// for the next summary; refusals of further addresses are counted under
// one shared record, so a scan from many addresses costs no more memory.
const maxRefusalKeys = 1024

// Errors of Acquire.
var (
	// ErrTooManyConns: the server-wide cap is reached.
	ErrTooManyConns = errors.New("too many connections")
	// ErrTooManyFromAddr: the per-address cap is reached.
	ErrTooManyFromAddr = errors.New("too many connections from this address")
)

// Limiter admits connections under a server-wide cap and a per-address
// cap. Its zero value admits everything; fields must not change once in
// use.
type Limiter struct {
	// Max bounds the connections held at once; 0 or negative: no bound.
	Max int
	// PerAddr bounds those of one address (Key); 0 or negative: no bound.
	PerAddr int
	// Name says which listener refused, in the log records.
	Name string
	// Logger receives the refusal summaries at WARN; nil discards.
	Logger *slog.Logger
	// LogInterval is DefaultLogInterval when 0.
	LogInterval time.Duration

	mu       sync.Mutex
	total    int
	per      map[string]int
	refusals map[string]*refusal
}

type refusal struct {
	count  int
	reason error
}

// Acquire admits a connection from addr and returns the function that
// releases its place (safe to call more than once), or refuses it with
// ErrTooManyConns or ErrTooManyFromAddr, counting the refusal for the log.
func (l *Limiter) Acquire(addr net.Addr) (release func(), err error) {
	key := Key(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.Max > 0 && l.total >= l.Max:
		err = ErrTooManyConns
	case l.PerAddr > 0 && l.per[key] >= l.PerAddr:
		err = ErrTooManyFromAddr
	}
	if err != nil {
		l.refusedLocked(key, err)
		return nil, err
	}
	if l.per == nil {
		l.per = make(map[string]int)
	}
	l.total++
	l.per[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.total--
			if l.per[key]--; l.per[key] <= 0 {
				delete(l.per, key)
			}
			l.mu.Unlock()
		})
	}, nil
}

// Held returns the connections admitted and not yet released, in all and
// from addr's key.
func (l *Limiter) Held(addr net.Addr) (total, fromAddr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.per[Key(addr)]
}

// refusedLocked logs the first refusal of key at once and counts the next
// ones into one summary logged when the interval ends.
func (l *Limiter) refusedLocked(key string, reason error) {
	if l.refusals == nil {
		l.refusals = make(map[string]*refusal)
	}
	if _, ok := l.refusals[key]; !ok && len(l.refusals) >= maxRefusalKeys {
		key = "other addresses"
	}
	if r := l.refusals[key]; r != nil {
		r.count++
		r.reason = reason
		return
	}
	l.refusals[key] = &refusal{reason: reason}
	l.logger().Warn("connection refused", slog.String("listener", l.Name), slog.String("addr", key),
		slog.String("reason", reason.Error()), slog.Int("max_conns", l.Max), slog.Int("max_conns_per_addr", l.PerAddr))
	interval := l.LogInterval
	if interval <= 0 {
		interval = DefaultLogInterval
	}
	time.AfterFunc(interval, func() { l.flush(key, interval) })
}

// flush logs the refusals counted for key since its last record.
func (l *Limiter) flush(key string, interval time.Duration) {
	l.mu.Lock()
	r := l.refusals[key]
	delete(l.refusals, key)
	l.mu.Unlock()
	if r == nil || r.count == 0 {
		return
	}
	l.logger().Warn("connections refused", slog.String("listener", l.Name), slog.String("addr", key),
		slog.Int("count", r.count), slog.Duration("within", interval), slog.String("reason", r.reason.Error()))
}

func (l *Limiter) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Listener wraps a net.Listener so that Accept admits connections through
// a Limiter: a refused connection is closed at once and Accept waits for
// the next one; an admitted one releases its place when closed. It is for
// servers that own their accept loop (net/http), which retry temporary
// errors themselves.
type Listener struct {
	net.Listener
	Limiter *Limiter
}

// Accept returns the next admitted connection.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, err := l.Limiter.Acquire(c.RemoteAddr())
		if err != nil {
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
