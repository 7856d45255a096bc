package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// Defaults for the zero values of Config.
const (
	// DefaultConcurrency is the number of targets worked on at once. The
	// work per target is a few round trips and little CPU, so it is
	// bounded by latency: 64 keeps a LAN busy without opening hundreds of
	// descriptors at once.
	DefaultConcurrency = 64
	// DefaultHostTimeout is the one deadline of a target: name lookup,
	// connection, negotiation, logon, bind and every page together.
	DefaultHostTimeout = 30 * time.Second
	// DefaultProgressInterval is how often OnProgress is called.
	DefaultProgressInterval = time.Second
)

// Config configures a Scanner. The zero value scans over SMB with a null
// session at level 0 (set Level to AutoLevel for the fallback),
// DefaultConcurrency targets at once, each within DefaultHostTimeout, with
// no pre-check, rate limit or jitter.
type Config struct {
	// Client is how to reach and log on to each server: transport,
	// credentials, guest and signing choices. Its Timeout, Dial and
	// Logger are the scanner's: Timeout is replaced by HostTimeout (one
	// deadline for the whole target), Dial is wrapped, and Logger is
	// Config.Logger.
	Client client.Options
	// Level is the SESSION_INFO level (0, 1, 2, 10, 502), or AutoLevel,
	// which tries 502, 10, 1 and 0 per host and records the levels
	// refused and the one that answered.
	Level session.Level
	// Filter qualifies every enumeration as "netsess list" does; a user
	// filter also matches DOMAIN\user as a Samba AD DC reports it.
	Filter client.Filter
	// Keep, when not nil, drops the sessions it returns false for (such
	// as machine accounts), before the result is counted or delivered.
	Keep func(client.Session) bool
	// Concurrency is the number of targets worked on at once (0:
	// DefaultConcurrency). Memory beyond the target list is bounded by
	// it: each worker holds one connection and one result.
	Concurrency int
	// HostTimeout is the one deadline per target (0:
	// DefaultHostTimeout): when it passes, whatever is in progress is
	// interrupted and the result is ReasonTimeout.
	HostTimeout time.Duration
	// PreCheck, when positive, first opens a TCP connection to the port
	// within that time (a short one, such as 1 s). A refused port is
	// ReasonPortClosed and no answer ReasonUnreachable, without spending
	// the host's deadline; an open one is used for the session.
	PreCheck time.Duration
	// Rate limits how many targets are started per second (0: no limit).
	// Burst is the number that may start at once (0: 1).
	Rate  float64
	Burst int
	// Grace is how long the targets in progress may go on after the
	// scan's context ends (no new target is started meanwhile); 0
	// interrupts them at once. Either way a target interrupted is
	// ReasonCanceled.
	Grace time.Duration
	// Jitter delays the start of every target by a random duration drawn
	// uniformly from [0, Jitter], at nanosecond resolution (so small
	// values work). The delay is not counted against the host deadline.
	Jitter time.Duration
	// Lookup resolves a host name; nil uses net.DefaultResolver. An IP
	// literal is never looked up.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial opens TCP connections; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnProgress, when not nil, is called every ProgressInterval (0:
	// DefaultProgressInterval) while the scan runs, and once at the end,
	// from the goroutine that delivers results (never concurrently with
	// the result callback).
	OnProgress       func(Progress)
	ProgressInterval time.Duration
	// Now is the clock for ObservedAt; nil means time.Now.
	Now func() time.Time
	// Logger receives debug records per target; nil discards.
	Logger *slog.Logger
	// Rand is the jitter's source; nil uses a random one.
	Rand *rand.Rand
}

// AutoLevel is the Level that makes a Config try levels per host
// (client.LevelAuto).
const AutoLevel = client.LevelAuto

// Progress is a snapshot of a running scan.
type Progress struct {
	// Done is the number of results delivered, Total the number of
	// targets (-1 when the source is a stream).
	Done, Total int
	// Collected and Failed split Done; Sessions counts the sessions of
	// the results delivered.
	Collected, Failed, Sessions int
	// Elapsed is the time since the scan started.
	Elapsed time.Duration
}

// Rate is the results per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA estimates the time left from the rate so far; ok is false when the
// total is unknown or nothing is done yet.
func (p Progress) ETA() (time.Duration, bool) {
	if p.Total < 0 || p.Done == 0 {
		return 0, false
	}
	left := p.Total - p.Done
	return time.Duration(float64(p.Elapsed) / float64(p.Done) * float64(left)), true
}

// Scanner runs scans. It holds no state between runs; Run may be called
// concurrently.
type Scanner struct {
	cfg    Config
	log    *slog.Logger
	randMu sync.Mutex // guards cfg.Rand, which is not safe for concurrent use
}

// New returns a Scanner for cfg.
func New(cfg Config) (*Scanner, error) {
	if cfg.Concurrency < 0 || cfg.HostTimeout < 0 || cfg.PreCheck < 0 || cfg.Rate < 0 || cfg.Burst < 0 || cfg.Jitter < 0 || cfg.Grace < 0 {
		return nil, errors.New("scan: negative concurrency, timeout, rate or jitter")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.HostTimeout == 0 {
		cfg.HostTimeout = DefaultHostTimeout
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client.Transport == "" {
		cfg.Client.Transport = client.DefaultTransport
	}
	if cfg.Client.Transport != client.TransportSMB && cfg.Client.Transport != client.TransportTCP {
		return nil, fmt.Errorf("scan: unknown transport %q", cfg.Client.Transport)
	}
	if cfg.Level != client.LevelAuto && !cfg.Level.Valid() {
		return nil, fmt.Errorf("scan: invalid level %d", cfg.Level)
	}
	s := &Scanner{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Run scans the targets of src, cfg.Concurrency at a time, and calls emit
// with each result as it comes, from one goroutine (emit needs no
// locking, and a slow emit slows the scan rather than queueing results).
// It returns when every target started has a result: after the last
// target, after an error of src (returned), or after ctx ends. When ctx
// ends no new target is started, the ones in progress are interrupted
// (after Config.Grace) and reported with ReasonCanceled unless they
// finished first, and every result is delivered before Run returns ctx's
// error. Targets never started get no result; Summary.Unstarted counts
// them when the total is known. Run does not wait for a src.Next in
// progress when ctx ends (a stream blocked in a read): that call's
// goroutine ends when Next returns.
func (s *Scanner) Run(ctx context.Context, src Source, emit func(*Result)) (Summary, error) {
	cfg := &s.cfg
	start := time.Now()
	var lim *rate.Limiter
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), max(cfg.Burst, 1))
	}
	// Targets run under work, which ends Grace after ctx does: a
	// canceled scan starts nothing new at once, and interrupts what
	// runs only after the grace period.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	stopGrace := context.AfterFunc(ctx, func() {
		if cfg.Grace <= 0 {
			stopWork()
			return
		}
		t := time.AfterFunc(cfg.Grace, stopWork)
		<-work.Done()
		t.Stop()
	})
	defer stopGrace()
	jobs := make(chan Target)
	results := make(chan *Result, cfg.Concurrency)
	var (
		srcMu  sync.Mutex
		srcErr error // guarded by srcMu: the producer may outlive the workers
	)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// A worker leaves when the scan is canceled rather than
				// waiting for the producer, which may be blocked reading
				// a stream; a target received after the cancel is not
				// started.
				select {
				case t, ok := <-jobs:
					if !ok || ctx.Err() != nil {
						return
					}
					results <- s.one(work, t)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for {
			t, err := src.Next(ctx)
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					srcMu.Lock()
					srcErr = err
					srcMu.Unlock()
				}
				return
			}
			if lim != nil {
				if err := lim.Wait(ctx); err != nil {
					return // canceled while waiting: t is not started
				}
			}
			select {
			case jobs <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	sum := Summary{ByReason: map[client.Reason]int{}}
	p := Progress{Total: src.Total()}
	tick := time.NewTicker(cfg.ProgressInterval)
	defer tick.Stop()
	progress := func() {
		if cfg.OnProgress != nil {
			p.Elapsed = time.Since(start)
			cfg.OnProgress(p)
		}
	}
	// results is closed when every worker is done, so every result
	// is delivered before Run returns.
	for {
		select {
		case r, ok := <-results:
			if !ok {
				sum.Elapsed = time.Since(start)
				if p.Total >= 0 {
					sum.Unstarted = p.Total - sum.Hosts
				}
				progress()
				srcMu.Lock()
				defer srcMu.Unlock()
				if srcErr != nil {
					return sum, srcErr
				}
				return sum, ctx.Err()
			}
			sum.add(r)
			p.Done++
			p.Sessions += len(r.Sessions)
			if r.Collected {
				p.Collected++
			} else {
				p.Failed++
			}
			emit(r)
		case <-tick.C:
			progress()
		}
	}
}

func (s *Scanner) newResult(t Target) *Result {
	return &Result{Target: t.Input, Range: t.Range, Port: t.Port, Transport: s.cfg.Client.Transport, ObservedAt: s.cfg.Now()}
}

// jitter waits a random time in [0, Jitter].
func (s *Scanner) jitter(ctx context.Context) {
	j := s.cfg.Jitter
	if j <= 0 {
		return
	}
	var d time.Duration
	if s.cfg.Rand != nil {
		s.randMu.Lock()
		d = time.Duration(s.cfg.Rand.Int64N(int64(j) + 1))
		s.randMu.Unlock()
	} else {
		d = time.Duration(rand.Int64N(int64(j) + 1))
	}
	if d == 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

// one works on one target within its deadline.
func (s *Scanner) one(ctx context.Context, t Target) *Result {
	s.jitter(ctx)
	r := s.newResult(t)
	begin := time.Now()
	defer func() { r.Duration = time.Since(begin) }()
	if ctx.Err() != nil {
		r.Failure = client.Failure{Reason: client.ReasonCanceled, Detail: "the scan was canceled before this target was started"}
		return r
	}
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HostTimeout)
	defer cancel()
	err := s.work(hctx, t, r)
	if err == nil {
		r.Collected = true
		return r
	}
	r.Failure = client.Classify(err)
	// What a deadline or a cancellation interrupted (a connection closed
	// under the call, a reset) is reported as what it was; an answer the
	// server gave (a status, a fault) stays what it was.
	interrupted := false
	switch r.Failure.Reason {
	case client.ReasonUnreachable, client.ReasonProtocolError, client.ReasonTimeout, client.ReasonCanceled:
		interrupted = true
	}
	switch {
	case !interrupted:
	case ctx.Err() != nil:
		r.Failure.Reason = client.ReasonCanceled
	case hctx.Err() != nil && r.Failure.Reason != client.ReasonTimeout:
		r.Failure.Reason = client.ReasonTimeout
		r.Failure.Detail = fmt.Sprintf("no result within the host deadline of %v: %s", s.cfg.HostTimeout, r.Failure.Detail)
	}
	if r.Failure.HasLevel {
		r.Level, r.HasLevel = r.Failure.Level, true
	}
	if len(r.Failure.Tried) > 0 {
		r.LevelsRefused = r.Failure.Tried
	}
	s.log.Debug("scan: target failed", "target", t.Input, "reason", r.Failure.Reason, "err", err)
	return r
}

// work resolves, checks, connects, enumerates and closes; it fills r
// and returns the failure.
func (s *Scanner) work(ctx context.Context, t Target, r *Result) error {
	cfg := &s.cfg
	addr, err := s.resolve(ctx, t.Host)
	if err != nil {
		return err
	}
	r.Address = addr.String()
	port := t.Port
	if port == 0 && cfg.Client.Transport == client.TransportSMB {
		port = client.DefaultSMBPort
	}
	r.Port = port
	d := &hostDialer{ctx: ctx, addr: addr, dial: cfg.Dial}
	defer d.closeAll()
	if cfg.PreCheck > 0 && port != 0 {
		if err := d.precheck(port, cfg.PreCheck); err != nil {
			return err
		}
	}
	opts := cfg.Client
	opts.Timeout = 0 // the context carries the host's one deadline
	opts.Logger = s.log
	opts.Dial = d.dialContext
	server := t.Host
	if port != 0 {
		server = joinHostPort(t.Host, port)
	}
	c, err := client.Dial(ctx, server, opts)
	if err != nil {
		return err
	}
	defer func() {
		// The connection is dropped, not logged off: a server ends the
		// sessions of a connection when it closes, and the clean close
		// (close the pipe, disconnect the tree, log off) would add three
		// round trips to the eleven or so a target takes. Closing the
		// sockets first makes the client's clean close fail at once.
		d.closeAll()
		c.Close()
	}()
	res, err := c.EnumAll(ctx, cfg.Level, cfg.Filter)
	if res != nil {
		r.Level, r.HasLevel = res.Level, true
		r.LevelsRefused = res.Tried
		r.Sessions = res.Sessions
		if cfg.Keep != nil {
			r.Sessions = slices.DeleteFunc(r.Sessions, func(s client.Session) bool { return !cfg.Keep(s) })
		}
	}
	return err
}

func (s *Scanner) resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	var addrs []netip.Addr
	var err error
	if s.cfg.Lookup != nil {
		addrs, err = s.cfg.Lookup(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err != nil {
		var dns *net.DNSError
		if !errors.As(err, &dns) && ctx.Err() == nil {
			err = &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
		}
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	// Prefer IPv4, which every SMB server listens on.
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

// hostDialer dials the resolved address of one target, whatever address
// the client asks for (it asks by name), and ties every connection to the
// target's context: its deadline caps every I/O deadline, and its end
// closes the connection, so nothing outlives the host deadline.
type hostDialer struct {
	ctx   context.Context
	addr  netip.Addr
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	mu    sync.Mutex
	spare net.Conn   // the pre-check's connection, not yet used
	conns []net.Conn // every connection handed out
}

// closeAll closes every connection handed out, and the pre-check's if
// it was not.
func (d *hostDialer) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
	if d.spare != nil {
		d.spare.Close()
		d.spare = nil
	}
}

func (d *hostDialer) raw(ctx context.Context, port string) (net.Conn, error) {
	a := net.JoinHostPort(d.addr.String(), port)
	if d.dial != nil {
		return d.dial(ctx, "tcp", a)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", a)
}

// precheck connects within timeout (and the host deadline) and keeps the
// connection for the session.
func (d *hostDialer) precheck(port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	nc, err := d.raw(ctx, strconv.Itoa(port))
	if err != nil {
		if d.ctx.Err() == nil && ctx.Err() != nil {
			// The pre-check's own time ran out: no answer, not the host
			// deadline.
			return &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("no answer to the TCP pre-check within %v", timeout)}
		}
		return err
	}
	d.mu.Lock()
	d.spare = nc
	d.mu.Unlock()
	return nil
}

func (d *hostDialer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var nc net.Conn
	d.mu.Lock()
	if d.spare != nil && d.spare.RemoteAddr().String() == net.JoinHostPort(d.addr.String(), port) {
		nc, d.spare = d.spare, nil
	}
	d.mu.Unlock()
	if nc == nil {
		if nc, err = d.raw(ctx, port); err != nil {
			return nil, err
		}
	}
	c := bound(d.ctx, nc)
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}
