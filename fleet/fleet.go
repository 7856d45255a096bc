package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// Behavior is how one simulated server answers.
type Behavior string

// The behaviours. What each yields for ScanUser at level auto is in
// Expect.
const (
	// Normal serves every level to any authenticated user.
	Normal Behavior = "normal"
	// Denied refuses every level to callers outside Administrators and
	// Server Operators, as Windows Server 2019 and later do by default.
	Denied Behavior = "denied"
	// Samba serves levels 0 and 1 only (ERROR_INVALID_LEVEL for the
	// others) with bare client names, as Samba 4.17 does.
	Samba Behavior = "samba"
	// Close accepts each connection and closes it at once.
	Close Behavior = "close"
	// Hang accepts each connection and never answers (it reads and
	// discards until the client goes away).
	Hang Behavior = "hang"
	// Refuse has nothing listening: a connection is refused.
	Refuse Behavior = "refuse"
	// Slow is Normal with every answer delayed by Config.SlowDelay.
	Slow Behavior = "slow"
)

// Behaviors returns every behaviour.
func Behaviors() []Behavior { return []Behavior{Normal, Denied, Samba, Close, Hang, Refuse, Slow} }

// The accounts every server of a fleet knows (NTLM, domain Domain).
// ScanUser is a plain user: Normal, Samba and Slow servers answer it,
// Denied servers refuse it. AdminUser is in Administrators, which every
// answering server serves.
const (
	Domain        = "FLEET"
	ScanUser      = "scanner"
	ScanPassword  = "ScanPass1"
	AdminUser     = "fleetadmin"
	AdminPassword = "AdminPass1"
)

// DefaultBase is the first address of a fleet: the simulated fleets'
// block is 127.1.0.0/16.
var DefaultBase = netip.AddrFrom4([4]byte{127, 1, 0, 1})

// Defaults for the zero values of Config.
const (
	DefaultMaxSessions   = 8
	DefaultSlowDelay     = 100 * time.Millisecond
	DefaultExpectedConns = 2048
	// MaxHosts is the size of the simulated fleets' block less its
	// first and last addresses.
	MaxHosts = 1<<16 - 2
	// StandardPort is SMB's port.
	StandardPort = 445
)

// Share is one behaviour's weight in a Mix.
type Share struct {
	Behavior Behavior
	Weight   int
}

// Mix is the proportion of each behaviour in a fleet.
type Mix []Share

// DefaultMix is mostly normal servers, with a few of every other kind.
func DefaultMix() Mix {
	return Mix{{Normal, 88}, {Denied, 4}, {Samba, 3}, {Close, 1}, {Hang, 1}, {Refuse, 2}, {Slow, 1}}
}

// ParseMix parses "normal=90,denied=5,hang=1": weights per behaviour,
// behaviours not named get none. A bare name is weight 1.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[Behavior]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		b := Behavior(strings.ToLower(strings.TrimSpace(name)))
		if !validBehavior(b) {
			return nil, fmt.Errorf("fleet: unknown behaviour %q (want %s)", name, behaviorList())
		}
		if seen[b] {
			return nil, fmt.Errorf("fleet: behaviour %q given twice", b)
		}
		seen[b] = true
		n := 1
		if hasW {
			var err error
			n, err = strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 0 || n > 1_000_000 {
				return nil, fmt.Errorf("fleet: weight %q of %s: want 0 to 1000000", w, b)
			}
		}
		m = append(m, Share{b, n})
	}
	if m.total() == 0 {
		return nil, fmt.Errorf("fleet: mix %q has no weight", s)
	}
	return m, nil
}

// String renders m as ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, sh := range m {
		parts[i] = fmt.Sprintf("%s=%d", sh.Behavior, sh.Weight)
	}
	return strings.Join(parts, ",")
}

func (m Mix) total() int {
	t := 0
	for _, sh := range m {
		t += sh.Weight
	}
	return t
}

func validBehavior(b Behavior) bool {
	for _, x := range Behaviors() {
		if x == b {
			return true
		}
	}
	return false
}

func behaviorList() string {
	var names []string
	for _, b := range Behaviors() {
		names = append(names, string(b))
	}
	return strings.Join(names, ", ")
}

// assign gives n hosts their behaviours: each behaviour gets its share
// (largest remainders), at least one host when its weight is positive and
// n allows, and the hosts are shuffled by rng so that kinds interleave.
func (m Mix) assign(n int, rng *rand.Rand) []Behavior {
	out := make([]Behavior, 0, n)
	total := m.total()
	// One host for every behaviour with a weight first, so that a small
	// fleet has each; then the proportional shares beyond that one.
	for _, sh := range m {
		if sh.Weight > 0 && len(out) < n {
			out = append(out, sh.Behavior)
		}
	}
	for _, sh := range m {
		if sh.Weight <= 0 {
			continue
		}
		for k := sh.Weight*n/total - 1; k > 0 && len(out) < n; k-- {
			out = append(out, sh.Behavior)
		}
	}
	for i := 0; len(out) < n; i++ {
		if sh := m[i%len(m)]; sh.Weight > 0 {
			out = append(out, sh.Behavior)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Config configures a fleet. Hosts must be set; every other field has a
// useful zero value.
type Config struct {
	// Hosts is the number of servers (1 to MaxHosts).
	Hosts int
	// Mix is the share of each behaviour (nil: DefaultMix). Every
	// behaviour with a positive weight gets at least one host when Hosts
	// allows.
	Mix Mix
	// Behaviors, when not nil, gives each host its behaviour explicitly
	// (its length is Hosts) and Mix is ignored.
	Behaviors []Behavior
	// Seed makes the fleet reproducible: the same seed gives the same
	// behaviours and sessions.
	Seed uint64
	// MaxSessions is the most sessions a server holds besides its
	// callers'; each gets a number drawn uniformly from 0 to MaxSessions
	// (0: DefaultMaxSessions, negative: none).
	MaxSessions int
	// Base is the first host's address (zero: DefaultBase); host i is
	// Base+i. Every address must stay in 127.0.0.0/8.
	Base netip.Addr
	// Port is the port every server listens on. 0 lets the kernel choose
	// a free one (the same for every address); see TryStandardPort.
	Port int
	// TryStandardPort tries port 445 first when the process is root and
	// Port is 0; when 445 is taken (a system smbd on *:445) the fleet
	// uses a free port and says so in Notes.
	TryStandardPort bool
	// SlowDelay is how long a Slow server waits before each answer (0:
	// DefaultSlowDelay).
	SlowDelay time.Duration
	// ExpectedConns is the number of connections the fleet and whatever
	// runs in the same process (a scanner's own sockets) are expected to
	// hold at once, for the descriptor check (0: DefaultExpectedConns).
	ExpectedConns int
	// Logger receives the servers' records; nil discards.
	Logger *slog.Logger
}

// Host is one server of a fleet.
type Host struct {
	// Index is the host's position (0 for Base).
	Index int
	// Addr is the host's address and Target its "ADDR:PORT".
	Addr   netip.Addr
	Target string
	// Behavior is how it answers.
	Behavior Behavior
	// Sessions are the sessions it was filled with, as of the fleet's
	// start.
	Sessions []Session
}

// Session is one session a host holds, as the fleet restored it.
type Session struct {
	Client string `json:"client"`
	User   string `json:"user"`
	Opens  uint32 `json:"opens"`
	// Time and Idle are the session's age and idle time in seconds at
	// the fleet's start.
	Time uint32 `json:"time"`
	Idle uint32 `json:"idle_time"`
}

// Fleet is a running simulated fleet. Close stops it.
type Fleet struct {
	// Port is the port every host listens on.
	Port int
	// Hosts are the servers, in address order.
	Hosts []*Host
	// Notes say what the fleet did that the caller may want to tell its
	// user: the descriptor limit raised, port 445 not available.
	Notes []string
	// Started is when the sessions' ages were measured.
	Started time.Time

	cfg       Config
	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	smbs      []*smb2.Server
	rpcs      []*dcerpc.Server
	tables    []*session.Table
	listeners []net.Listener
	reserved  []io.Closer
	mu        sync.Mutex
	held      map[net.Conn]struct{} // Hang's connections
	closeOnce sync.Once
	stopAfter func() bool
	outages   []atomic.Pointer[Behavior] // per host: nil serves, else Hang or Close
	gates     []*gateListener            // per serving host, its listener
}

// ErrTooManyFiles is in the chain of Start's error when the fleet cannot
// fit the process's descriptor limit.
var ErrTooManyFiles = errors.New("fleet: not enough file descriptors")

// Start builds and serves the fleet until ctx ends or Close is called.
// It raises the soft descriptor limit to the hard one first, and fails
// with ErrTooManyFiles, before listening, when the hosts' listeners plus
// Config.ExpectedConns cannot fit.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.Hosts < 1 || cfg.Hosts > MaxHosts {
		return nil, fmt.Errorf("fleet: %d hosts: want 1 to %d", cfg.Hosts, MaxHosts)
	}
	if cfg.Behaviors != nil && len(cfg.Behaviors) != cfg.Hosts {
		return nil, fmt.Errorf("fleet: %d behaviours for %d hosts", len(cfg.Behaviors), cfg.Hosts)
	}
	for _, b := range cfg.Behaviors {
		if !validBehavior(b) {
			return nil, fmt.Errorf("fleet: unknown behaviour %q (want %s)", b, behaviorList())
		}
	}
	if cfg.Mix == nil {
		cfg.Mix = DefaultMix()
	}
	for _, sh := range cfg.Mix {
		if sh.Weight < 0 || !validBehavior(sh.Behavior) {
			return nil, fmt.Errorf("fleet: mix entry %s=%d", sh.Behavior, sh.Weight)
		}
	}
	if cfg.Mix.total() <= 0 {
		return nil, errors.New("fleet: the mix has no weight")
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	if cfg.ExpectedConns <= 0 {
		cfg.ExpectedConns = DefaultExpectedConns
	}
	if !cfg.Base.IsValid() {
		cfg.Base = DefaultBase
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("fleet: port %d", cfg.Port)
	}
	last, err := addrAt(cfg.Base, cfg.Hosts-1)
	if err != nil || !cfg.Base.Is4() || cfg.Base.As4()[0] != 127 || last.As4()[0] != 127 {
		return nil, fmt.Errorf("fleet: %d hosts from %v leave the loopback block 127.0.0.0/8", cfg.Hosts, cfg.Base)
	}
	f := &Fleet{cfg: cfg, log: cfg.Logger, held: map[net.Conn]struct{}{}}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	soft, hard, raised, err := RaiseFileLimit()
	if err == nil {
		if raised {
			f.Notes = append(f.Notes, fmt.Sprintf("raised the open file limit from %d to %d", soft, hard))
		}
		need := cfg.Hosts + cfg.ExpectedConns + 64
		if uint64(need) > hard {
			return nil, fmt.Errorf("%w: %d hosts need %d descriptors (one listener each, plus %d connections and a few for the process), over the limit of %d; serve fewer hosts or raise the hard limit (ulimit -Hn, LimitNOFILE)",
				ErrTooManyFiles, cfg.Hosts, need, cfg.ExpectedConns, hard)
		}
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15))
	behaviors := cfg.Behaviors
	if behaviors == nil {
		behaviors = cfg.Mix.assign(cfg.Hosts, rng)
	}
	if err := f.build(behaviors, rng); err != nil {
		f.shutdown()
		return nil, err
	}
	if err := f.listen(); err != nil {
		f.shutdown()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	f.serve(sctx)
	f.stopAfter = context.AfterFunc(ctx, func() { _ = f.Close() })
	return f, nil
}

// addrAt returns base+i.
func addrAt(base netip.Addr, i int) (netip.Addr, error) {
	a := base.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if uint64(v)+uint64(i) > 0xFFFFFFFF {
		return netip.Addr{}, errors.New("address overflow")
	}
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

// build creates the hosts, their tables and servers (nothing listens
// yet).
func (f *Fleet) build(behaviors []Behavior, rng *rand.Rand) error {
	cfg := &f.cfg
	accounts, err := ntlm.NewAccounts(Domain, false,
		ntlm.Account{Name: ScanUser, NTHash: ntlm.NTHash(ScanPassword)},
		ntlm.Account{Name: AdminUser, NTHash: ntlm.NTHash(AdminPassword), Groups: []string{session.GroupAdministrators}},
	)
	if err != nil {
		return err
	}
	mech := &ntlm.Server{Accounts: accounts, ComputerName: "FLEET", Logger: f.log.With("component", "ntlm")}
	now := time.Now()
	pop := newPopulation(rng)
	open := session.PolicyOpen().AllowFrom(session.OpDelete, session.ClassOperator)
	for i, b := range behaviors {
		addr, _ := addrAt(cfg.Base, i)
		h := &Host{Index: i, Addr: addr, Behavior: b}
		f.Hosts = append(f.Hosts, h)
		if b == Close || b == Hang || b == Refuse {
			f.smbs = append(f.smbs, nil)
			f.rpcs = append(f.rpcs, nil)
			f.tables = append(f.tables, nil)
			continue
		}
		policy := open
		if b == Denied {
			policy = session.PolicyModern()
		}
		opts := session.Options{Policy: policy}
		compat := srvs.CompatNone
		if b == Samba {
			opts.Cname = session.CnameBare
			compat = srvs.CompatSamba417
		}
		table := session.New(opts)
		if cfg.MaxSessions > 0 {
			n := rng.IntN(cfg.MaxSessions + 1)
			for range n {
				s := pop.session(rng)
				if _, err := restore(table, now, s); err != nil {
					return fmt.Errorf("fleet: host %d: %w", i, err)
				}
				h.Sessions = append(h.Sessions, s)
			}
		}
		name := fmt.Sprintf("FLEET%05d", i)
		info := srvs.DefaultServerInfo(name)
		handler := &srvs.Handler{Table: table, Compat: compat, Server: &info, Logger: f.log.With("component", "srvsvc")}
		rpc := &dcerpc.Server{Logger: f.log.With("component", "dcerpc"), Timeouts: dcerpc.Timeouts{Idle: -1}, SecondaryAddr: `\PIPE\srvsvc`}
		if err := rpc.Register(handler.Interface()); err != nil {
			return fmt.Errorf("fleet: host %d: %w", i, err)
		}
		smb := &smb2.Server{Table: table, Auth: mech, RPC: rpc, Logger: f.log.With("component", "smb2", "host", addr.String())}
		f.smbs = append(f.smbs, smb)
		f.rpcs = append(f.rpcs, rpc)
		f.tables = append(f.tables, table)
	}
	f.Started = now
	f.outages = make([]atomic.Pointer[Behavior], len(f.Hosts))
	f.gates = make([]*gateListener, len(f.Hosts))
	return nil
}

// listen binds every host on one port: Config.Port, else 445 when asked
// and possible, else a port the kernel picks for the first host, retried
// a few times if another process holds it on a later address.
func (f *Fleet) listen() error {
	cfg := &f.cfg
	if cfg.Port != 0 {
		return f.listenOn(cfg.Port)
	}
	if cfg.TryStandardPort {
		if os.Geteuid() != 0 {
			f.Notes = append(f.Notes, fmt.Sprintf("not root: port %d needs privileges; using a free port", StandardPort))
		} else {
			err := f.listenOn(StandardPort)
			if err == nil {
				return nil
			}
			f.closeListeners()
			f.Notes = append(f.Notes, fmt.Sprintf("port %d is not available (%v); using a free port", StandardPort, err))
		}
	}
	var err error
	for range 8 {
		if err = f.listenOn(0); err == nil {
			return nil
		}
		f.closeListeners()
		if !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
	}
	return err
}

// listenOn binds every host on port (0: the kernel's choice for the
// first listening host, then that port for all).
func (f *Fleet) listenOn(port int) error {
	f.listeners = make([]net.Listener, len(f.Hosts))
	if port == 0 {
		// The kernel picks a port on the first host that listens (or, in
		// a fleet of refusing hosts only, on a probe).
		first := -1
		for i, h := range f.Hosts {
			if h.Behavior != Refuse {
				first = i
				break
			}
		}
		a := net.JoinHostPort(f.cfg.Base.String(), "0")
		if first >= 0 {
			a = net.JoinHostPort(f.Hosts[first].Addr.String(), "0")
		}
		l, err := net.Listen("tcp4", a)
		if err != nil {
			return fmt.Errorf("fleet: listen %s: %w", a, err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		if first >= 0 {
			f.listeners[first] = l
		} else {
			l.Close()
		}
	}
	f.Port = port
	for i, h := range f.Hosts {
		a := net.JoinHostPort(h.Addr.String(), strconv.Itoa(port))
		h.Target = a
		if f.listeners[i] != nil {
			continue
		}
		if h.Behavior == Refuse {
			c, err := reserve(h.Addr, port)
			if err != nil {
				return fmt.Errorf("fleet: reserve %s: %w", a, err)
			}
			if c != nil {
				f.reserved = append(f.reserved, c)
			}
			continue
		}
		l, err := net.Listen("tcp4", a)
		if err != nil {
			return fmt.Errorf("fleet: listen %s: %w", a, err)
		}
		f.listeners[i] = l
	}
	return nil
}

func (f *Fleet) closeListeners() {
	for i, l := range f.listeners {
		if l != nil {
			l.Close()
			f.listeners[i] = nil
		}
	}
	for _, c := range f.reserved {
		c.Close()
	}
	f.reserved = nil
}

// serve starts one accept loop per listener.
func (f *Fleet) serve(ctx context.Context) {
	for i, h := range f.Hosts {
		l := f.listeners[i]
		if l == nil {
			continue
		}
		f.wg.Add(1)
		switch h.Behavior {
		case Close, Hang:
			go func() {
				defer f.wg.Done()
				f.acceptRaw(l, h.Behavior)
			}()
		default:
			g := &gateListener{inner: l, addr: l.Addr(), f: f, out: &f.outages[i], changed: make(chan struct{})}
			f.gates[i] = g
			l = g
			if h.Behavior == Slow {
				l = &slowListener{Listener: l, delay: f.cfg.SlowDelay}
			}
			smb := f.smbs[i]
			go func() {
				defer f.wg.Done()
				err := smb.Serve(ctx, l)
				if err != nil && !errors.Is(err, smb2.ErrServerClosed) && ctx.Err() == nil {
					f.log.Warn("fleet: host stopped serving", "host", h.Target, "err", err)
				}
			}()
		}
	}
}

// acceptRaw serves Close and Hang hosts.
func (f *Fleet) acceptRaw(l net.Listener, b Behavior) {
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: back off a little, as net/http does.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if b == Close {
			c.Close()
			continue
		}
		f.hold(c)
	}
}

// hold keeps c open, reading and discarding until the client goes away or
// the fleet closes, as a Hang host does.
func (f *Fleet) hold(c net.Conn) {
	f.mu.Lock()
	if f.held == nil {
		f.mu.Unlock()
		c.Close()
		return
	}
	f.held[c] = struct{}{}
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		_, _ = io.Copy(io.Discard, c)
		c.Close()
		f.mu.Lock()
		delete(f.held, c)
		f.mu.Unlock()
	}()
}

// ErrNoTable is returned for a host that holds no session table: a Close,
// Hang or Refuse host, or an index outside the fleet.
var ErrNoTable = errors.New("fleet: the host has no session table")

// Table returns host i's session table, nil for a host that has none
// (Close, Hang, Refuse) or an index outside the fleet. Sessions opened on
// it are listed by the host from then on, and a session closed through
// its handle is gone from the next answer.
func (f *Fleet) Table(i int) *session.Table {
	if i < 0 || i >= len(f.tables) {
		return nil
	}
	return f.tables[i]
}

// AddSession opens s on host i's table as of now (set up s.Time seconds
// ago, idle s.Idle seconds, with s.Opens opens) and returns its handle;
// Close on the handle ends it. The session is not added to the host's
// Sessions (which describe the fleet's start).
func (f *Fleet) AddSession(i int, s Session) (*session.Session, error) {
	t := f.Table(i)
	if t == nil {
		return nil, fmt.Errorf("%w: host %d", ErrNoTable, i)
	}
	return restore(t, time.Now(), s)
}

// SetOutage makes a serving host (Normal, Denied, Samba, Slow) go dark or
// come back: with Hang it accepts new connections and never answers them,
// with Close it accepts and closes them at once, with Refuse it stops
// listening (a connection is refused), and with Normal it serves again,
// listening anew on its address and port after Refuse. Connections
// accepted before the change keep being served. The host's sessions stay
// in its table throughout: the outage is of the network, not of the
// server. Hosts that do not serve, and other behaviours, are an error, as
// is a port another process took while the host refused.
func (f *Fleet) SetOutage(i int, b Behavior) error {
	if i < 0 || i >= len(f.Hosts) || f.tables[i] == nil || f.gates[i] == nil {
		return fmt.Errorf("fleet: host %d does not serve: no outage to set", i)
	}
	g := f.gates[i]
	switch b {
	case Refuse:
		g.refuse()
		f.outages[i].Store(nil)
		return nil
	case Normal, Hang, Close:
		if err := g.listen(); err != nil {
			return fmt.Errorf("fleet: host %d listens again: %w", i, err)
		}
	default:
		return fmt.Errorf("fleet: outage %q: want %s, %s, %s or %s", b, Hang, Close, Refuse, Normal)
	}
	if b == Normal {
		f.outages[i].Store(nil)
	} else {
		f.outages[i].Store(&b)
	}
	return nil
}

// gateListener is a serving host's listener: during an outage it hangs or
// closes what it accepts instead of handing it to the server, or, while
// the host refuses, has no socket listening and blocks in Accept until
// the host listens again or the listener is closed.
type gateListener struct {
	f    *Fleet
	out  *atomic.Pointer[Behavior]
	addr net.Addr

	mu      sync.Mutex
	inner   net.Listener  // nil while refusing
	closed  bool          // Close was called
	changed chan struct{} // closed (and replaced) when inner or closed change
}

// state returns the listener to accept on (nil: refusing), whether the
// gate is closed, and the channel that says when either changes.
func (l *gateListener) state() (net.Listener, bool, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner, l.closed, l.changed
}

// notify wakes the Accept waiting for a change; l.mu is held.
func (l *gateListener) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// refuse closes the socket: connections are refused from now on.
func (l *gateListener) refuse() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner != nil {
		l.inner.Close()
		l.inner = nil
		l.notify()
	}
}

// listen opens the socket again after refuse (a no-op while listening).
func (l *gateListener) listen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner != nil || l.closed {
		return nil
	}
	nl, err := net.Listen("tcp4", l.addr.String())
	if err != nil {
		return err
	}
	l.inner = nl
	l.notify()
	return nil
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		inner, closed, changed := l.state()
		if closed {
			return nil, net.ErrClosed
		}
		if inner == nil {
			<-changed
			continue
		}
		c, err := inner.Accept()
		if err != nil {
			if now, closed, _ := l.state(); now != inner && !closed {
				continue // refuse closed the socket under us
			}
			return nil, err
		}
		switch b := l.out.Load(); {
		case b == nil:
			return c, nil
		case *b == Hang:
			l.f.hold(c)
		default:
			c.Close()
		}
	}
}

// Close closes the socket, if any, and ends Accept.
func (l *gateListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.notify()
	if l.inner != nil {
		return l.inner.Close()
	}
	return nil
}

// Addr returns the host's address and port, also while it refuses.
func (l *gateListener) Addr() net.Addr { return l.addr }

// Close stops every host and waits for their goroutines. It is
// idempotent.
func (f *Fleet) Close() error {
	f.closeOnce.Do(f.shutdown)
	return nil
}

func (f *Fleet) shutdown() {
	if f.stopAfter != nil {
		f.stopAfter()
	}
	if f.cancel != nil {
		f.cancel()
	}
	for _, s := range f.smbs {
		if s != nil {
			_ = s.Close()
		}
	}
	f.closeListeners()
	f.mu.Lock()
	for c := range f.held {
		c.Close()
	}
	f.held = nil
	f.mu.Unlock()
	f.wg.Wait()
	for _, r := range f.rpcs {
		if r != nil {
			_ = r.Close()
		}
	}
	for _, t := range f.tables {
		if t != nil {
			t.Close()
		}
	}
}

// Targets returns every host's "ADDR:PORT", in address order.
func (f *Fleet) Targets() []string {
	out := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		out[i] = h.Target
	}
	return out
}

// Count returns the number of hosts of each behaviour.
func (f *Fleet) Count() map[Behavior]int {
	m := map[Behavior]int{}
	for _, h := range f.Hosts {
		m[h.Behavior]++
	}
	return m
}

// slowListener delays every answer of its connections.
type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowConn{Conn: c, delay: l.delay}, nil
}

type slowConn struct {
	net.Conn
	delay time.Duration
}

func (c *slowConn) Write(b []byte) (int, error) {
	time.Sleep(c.delay)
	return c.Conn.Write(b)
}

// Accounts returns what a directory needs to resolve the fleet's sessions:
// the user names of the sessions (machine accounts left out) and their
// IPv4 client addresses, each once, sorted.
func (f *Fleet) Accounts() (users, ipv4Clients []string) {
	for _, h := range f.Hosts {
		for _, s := range h.Sessions {
			if !strings.HasSuffix(s.User, "$") && !slices.Contains(users, s.User) {
				users = append(users, s.User)
			}
			if a, err := netip.ParseAddr(s.Client); err == nil && a.Is4() && !slices.Contains(ipv4Clients, s.Client) {
				ipv4Clients = append(ipv4Clients, s.Client)
			}
		}
	}
	slices.Sort(users)
	slices.Sort(ipv4Clients)
	return users, ipv4Clients
}
