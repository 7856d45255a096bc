package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/spnego"
	"github.com/netsession/netsession/srvs"
)

// DefaultRPCAddr is where Run listens for srvsvc when Config.RPCAddr is
// empty and no srvsvc listener is given: a port the kernel picks on the
// IPv4 loopback address.
const DefaultRPCAddr = "127.0.0.1:0"

// Connection bounds of the endpoint mapper and metrics listeners when
// Config.Limits leaves them zero. A client asks the endpoint mapper one question
// and hangs up, and a metrics scraper holds one or two connections: both
// need far fewer places than srvsvc and SMB, and get a quarter of them
// per address like those.
const (
	DefaultEPMMaxConns            = 256
	DefaultEPMMaxConnsPerAddr     = 64
	DefaultMetricsMaxConns        = 64
	DefaultMetricsMaxConnsPerAddr = 16
)

// DefaultShutdownTimeout is how long Run lets calls in progress finish
// after its context ends, unless Config.Timeouts.Shutdown says otherwise.
const DefaultShutdownTimeout = 10 * time.Second

// ErrExposedDemoAccounts: the built-in demo accounts (whose passwords are
// public) were about to be served on an address other than loopback.
var ErrExposedDemoAccounts = errors.New("server: refusing to serve the built-in demo accounts on a non-loopback address (give an accounts file)")

// Config configures a Server. The zero value serves srvsvc on a loopback
// port with the demo accounts, the modern policy, Windows-style client
// names, no endpoint mapper and every limit and timeout at its default.
type Config struct {
	// RPCAddr is the TCP address srvsvc is served on (ncacn_ip_tcp) by
	// Run; "" means DefaultRPCAddr.
	RPCAddr string
	// EPMAddr, when not empty, is the TCP address Run serves the endpoint
	// mapper on (port 135 is the one clients ask).
	EPMAddr string
	// SMBAddr, when not empty, is the TCP address Run serves SMB2/3 on
	// (port 445 is the one clients ask): IPC$ with the \PIPE\srvsvc named
	// pipe (ncacn_np). Every SMB session set up there is a session of the
	// table, and NetSessionDel logs it off.
	SMBAddr string
	// MetricsAddr, when not empty, is the TCP address Run serves the
	// counters on over HTTP: /metrics (Prometheus text format) and
	// /debug/vars (JSON), see MetricsHandler.
	MetricsAddr string
	// Listeners, when set, are served by Run instead of listening on the
	// corresponding address: listeners a test opened, or that a service
	// manager passed (socket activation). Run closes them when it
	// returns.
	Listeners Listeners
	// AllowGuest admits SMB logons that map to the guest account, and
	// turns on Accounts.Guest (unknown users map to guest) in the server's
	// own copy of Accounts; the caller's is left as it is. AllowAnonymous
	// admits SMB null sessions. Both are unsigned (they have no key).
	AllowGuest, AllowAnonymous bool
	// SMBSigning is the SMB signing policy for authenticated sessions; the
	// zero value requires signing.
	SMBSigning smb2.SigningPolicy
	// SMBEncrypt is the SMB 3.x encryption policy: off (the zero value),
	// desired (sessions whose client can encrypt do) or required (clients
	// that cannot encrypt are refused, and so are clear requests).
	SMBEncrypt smb2.EncryptionPolicy
	// Accounts are the local accounts NTLM logons are checked against.
	// nil means DemoAccounts, which Run only serves on loopback addresses.
	Accounts *ntlm.Accounts
	// Policy decides who may enumerate and delete; the zero Policy means
	// the modern preset.
	Policy session.Policy
	// Cname is how client names are presented. The samba-4.17 profile
	// forces CnameBare.
	Cname session.CnameStyle
	// Compat selects a peer whose answers srvsvc imitates.
	Compat srvs.Compat
	// AllowConnectLevel lets calls on associations authenticated at level
	// connect (no signing or sealing) through. By default they get a fault
	// nca_s_fault_access_denied (0x5) after a successful bind, as Samba
	// answers with its default "allow dcerpc auth level connect = no".
	AllowConnectLevel bool
	// Seeds are sessions loaded into the table before serving.
	Seeds []Seed
	// ComputerName is the NetBIOS name in the NTLM CHALLENGE; "" means
	// "NETSESSION".
	ComputerName string
	// Throttle bounds password guessing per account, per source and
	// account, and per source, and holds back failed answers (see
	// ntlm.Throttle), for NTLM and Kerberos logons alike (a refused
	// Kerberos ticket counts against its source, and its client when the
	// ticket names one); nil never throttles.
	Throttle *ntlm.Throttle
	// Kerberos, when not nil, accepts Kerberos logons over SMB next to
	// NTLM, through SPNEGO (both Kerberos OIDs): the caller's identity and
	// group SIDs come from the ticket's PAC, so that Domain Admins are
	// administrators under the access policy. Its keytab must hold the
	// keys of the cifs/HOST principals clients ask tickets for over SMB.
	// DCE/RPC (ncacn_ip_tcp, and DCE/RPC authentication inside the pipe)
	// accepts DCE-style Kerberos with it too, under auth type 16 and in
	// SPNEGO (9) before NTLM, at levels connect, integrity and privacy:
	// clients ask tickets for host/HOST there, as Windows does.
	Kerberos *krb5.Acceptor
	// Clock is the table's clock; nil means the system clock.
	Clock session.Clock
	// Logger receives the server's records; nil discards them.
	Logger *slog.Logger
	// ReadyFile, when not empty, is written by Run once it listens: JSON
	// {"rpc": "HOST:PORT", "epm": "HOST:PORT", "smb": "HOST:PORT",
	// "metrics": "HOST:PORT"} (those not served omitted). It is written to a temporary name and renamed, so a reader
	// never sees half of it.
	ReadyFile string
	// OnReady, when not nil, is called by Run with the bound addresses
	// once it listens (after ReadyFile is written).
	OnReady func(Addrs)
	// Limits bound what each listener's clients may make the server
	// hold; every zero field means its documented default.
	Limits Limits
	// Timeouts bound how long the server waits for its clients, and for
	// itself when it stops; every zero field means its documented
	// default.
	Timeouts Timeouts
}

// Limits are the bounds of the services a Server runs, each in the terms
// of the package that serves it.
type Limits struct {
	// SMB bounds the SMB server (see smb2.Limits): MaxConns the
	// connections served at once (0: smb2.DefaultMaxConns, negative: no
	// bound), and so on.
	SMB smb2.Limits
	// RPC bounds srvsvc over TCP (see dcerpc.Limits; 0:
	// dcerpc.DefaultMaxConns connections, and so on).
	RPC dcerpc.Limits
	// EPM bounds the endpoint mapper (see dcerpc.Limits), except that a
	// zero MaxConns and MaxConnsPerAddr mean DefaultEPMMaxConns and
	// DefaultEPMMaxConnsPerAddr.
	EPM dcerpc.Limits
	// MetricsMaxConns and MetricsMaxConnsPerAddr bound the connections
	// of the metrics listener, in all and from one address (0:
	// DefaultMetricsMaxConns and DefaultMetricsMaxConnsPerAddr, negative:
	// no bound).
	MetricsMaxConns, MetricsMaxConnsPerAddr int
	// MaxConnsPerAddr, when not zero, bounds the connections of one IP
	// address (an IPv6 address counts by its /64) on every listener whose
	// own MaxConnsPerAddr is zero (negative: no bound). Each listener's
	// default is a quarter of its total: 256 for SMB and srvsvc, 64 for
	// the endpoint mapper, 16 for metrics. Refusals are logged at WARN
	// once per address and listener every ten seconds, with a count.
	MaxConnsPerAddr int
}

// Timeouts are the timeouts of the services a Server runs, each in the
// terms of the package that serves it, and of its own shutdown.
type Timeouts struct {
	// SMB are the SMB server's (see smb2.Timeouts): Idle closes an SMB
	// connection with sessions that sends nothing for that long (0:
	// smb2.DefaultIdleTimeout, negative: never), and so on.
	SMB smb2.Timeouts
	// RPC are those of srvsvc over TCP, EPM those of the endpoint mapper
	// (see dcerpc.Timeouts).
	RPC, EPM dcerpc.Timeouts
	// Shutdown bounds the drain when Run's context ends (0:
	// DefaultShutdownTimeout); after it, connections are closed.
	Shutdown time.Duration
}

// withDefaults returns l with the shared per-address bound and the
// server's own defaults (endpoint mapper, metrics) filled in: the one
// place they are applied. The SMB and srvsvc fields left zero get their
// package's defaults there.
func (l Limits) withDefaults() Limits {
	for _, per := range []*int{&l.SMB.MaxConnsPerAddr, &l.RPC.MaxConnsPerAddr, &l.EPM.MaxConnsPerAddr, &l.MetricsMaxConnsPerAddr} {
		if *per == 0 {
			*per = l.MaxConnsPerAddr
		}
	}
	l.EPM.MaxConns = intOr(l.EPM.MaxConns, DefaultEPMMaxConns)
	l.EPM.MaxConnsPerAddr = intOr(l.EPM.MaxConnsPerAddr, DefaultEPMMaxConnsPerAddr)
	l.MetricsMaxConns = intOr(l.MetricsMaxConns, DefaultMetricsMaxConns)
	l.MetricsMaxConnsPerAddr = intOr(l.MetricsMaxConnsPerAddr, DefaultMetricsMaxConnsPerAddr)
	return l
}

// withDefaults returns t with Shutdown filled in: the one place it is
// applied. The SMB and srvsvc fields left zero get their package's
// defaults there.
func (t Timeouts) withDefaults() Timeouts {
	if t.Shutdown <= 0 {
		t.Shutdown = DefaultShutdownTimeout
	}
	return t
}

// Addrs are the addresses a running server listens on.
type Addrs struct {
	RPC     string `json:"rpc"`
	EPM     string `json:"epm,omitempty"`
	SMB     string `json:"smb,omitempty"`
	Metrics string `json:"metrics,omitempty"`
}

// Listeners are listeners already open for Run to serve (Config.Listeners):
// srvsvc over TCP, the endpoint mapper, SMB and metrics (MetricsHandler over
// HTTP). A nil one is opened at the Config's address, if it has one.
type Listeners struct {
	RPC, EPM, SMB, Metrics net.Listener
}

// Server is the netsession daemon: a session table served over srvsvc
// (ncacn_ip_tcp) with NTLMSSP and SPNEGO authentication, and optionally
// an endpoint mapper, SMB2/3 and metrics. Run serves it, on the listeners
// of the Config or on those it opens at the Config's addresses.
type Server struct {
	cfg   Config // with Limits and Timeouts filled in
	log   *slog.Logger
	table *session.Table
	rpc   *dcerpc.Server
	epmH  *epm.Handler
	epm   *dcerpc.Server
	// pipeRPC serves srvsvc on the SMB named pipes: the same handler as
	// rpc, but no idle timeout (an SMB client keeps its pipe bound while
	// the SMB server applies its own limits).
	pipeRPC *dcerpc.Server
	smb     *smb2.Server
	calls   *rpcCounter

	mu      sync.Mutex
	serving bool
}

// DemoAccounts returns the built-in accounts: alice (password AlicePass1,
// in Administrators) and bob (BobPass1, no groups), in domain NETSESS.
// Their passwords are public: Run refuses to serve them beyond loopback.
func DemoAccounts() *ntlm.Accounts {
	a, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("BobPass1")},
	)
	if err != nil {
		panic(err) // two distinct constant names cannot collide
	}
	return a
}

// New builds a server from cfg: the session table (seeded), the srvsvc
// handler with authentication, and the endpoint mapper's handler.
func New(cfg Config) (*Server, error) {
	cfg.Limits = cfg.Limits.withDefaults()
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cname := cfg.Cname
	if cfg.Compat == srvs.CompatSamba417 {
		cname = session.CnameBare
	}
	table := session.New(session.Options{Clock: cfg.Clock, Policy: cfg.Policy, Cname: cname})
	if err := seed(table, cfg.Seeds); err != nil {
		return nil, err
	}
	// The server works on its own copy: AllowGuest must not switch guest
	// logons on in the caller's Accounts (which may serve other servers).
	// A shallow copy suffices, as an Accounts' user table is never written
	// after it is built.
	var accounts ntlm.Accounts
	if cfg.Accounts != nil {
		accounts = *cfg.Accounts
	} else {
		accounts = *DemoAccounts()
	}
	if cfg.AllowGuest {
		accounts.Guest = true
	}
	mech := &ntlm.Server{
		Accounts:     &accounts,
		ComputerName: cfg.ComputerName,
		Logger:       log.With("component", "ntlm"),
	}
	if cfg.Throttle != nil {
		mech.Throttle = cfg.Throttle
	}
	computer := cfg.ComputerName
	if computer == "" {
		computer = "NETSESSION"
	}
	info := srvs.DefaultServerInfo(computer)
	h := &srvs.Handler{Table: table, Logger: log.With("component", "srvsvc"), Compat: cfg.Compat, Server: &info}
	iface := h.Interface()
	calls := &rpcCounter{next: &levelGuard{next: h, allowConnect: cfg.AllowConnectLevel}, n: map[rpcKey]int64{}}
	iface.Handler = calls
	rpcMechs := []auth.Acceptor{mech}
	if cfg.Kerberos != nil {
		// Kerberos failures over ncacn_ip_tcp go through NTLM's throttle
		// too.
		dce := cfg.Kerberos.DCEAcceptors()
		if cfg.Throttle != nil {
			dce = cfg.Kerberos.DCEAcceptorsWith(cfg.Throttle)
		}
		rpcMechs = append(dce, mech)
	}
	acceptors, err := rpcauth.Acceptors(rpcMechs...)
	if err != nil {
		return nil, err
	}
	rpc := &dcerpc.Server{Auth: perHost(acceptors), Logger: log.With("component", "dcerpc"),
		Limits: cfg.Limits.RPC, Timeouts: cfg.Timeouts.RPC}
	if err := rpc.Register(iface); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, table: table, rpc: rpc, calls: calls, epmH: &epm.Handler{Logger: log.With("component", "epm")}}
	s.epm = &dcerpc.Server{Logger: log.With("component", "dcerpc-epm"),
		Limits: cfg.Limits.EPM, Timeouts: cfg.Timeouts.EPM}
	if err := s.epm.Register(s.epmH.Interface()); err != nil {
		return nil, err
	}
	s.pipeRPC = &dcerpc.Server{
		Auth:          rpc.Auth,
		Logger:        log.With("component", "dcerpc-pipe"),
		Timeouts:      dcerpc.Timeouts{Idle: -1},
		SecondaryAddr: `\PIPE\srvsvc`,
	}
	if err := s.pipeRPC.Register(iface); err != nil {
		return nil, err
	}
	var smbAuth auth.Acceptor = mech
	if cfg.Kerberos != nil {
		// SPNEGO over Kerberos (both OIDs) and NTLM; the client's order of
		// preference decides. Kerberos failures go through the same
		// throttle as NTLM's.
		krb := cfg.Kerberos.AuthAcceptors()
		if cfg.Throttle != nil {
			krb = cfg.Kerberos.AuthAcceptorsWith(cfg.Throttle)
		}
		if smbAuth, err = spnego.NewAcceptor(append(krb, mech)...); err != nil {
			return nil, err
		}
	}
	s.smb = &smb2.Server{
		Table:          table,
		Auth:           smbAuth,
		RPC:            s.pipeRPC,
		AllowGuest:     cfg.AllowGuest,
		AllowAnonymous: cfg.AllowAnonymous,
		Signing:        cfg.SMBSigning,
		Encryption:     cfg.SMBEncrypt,
		Limits:         cfg.Limits.SMB,
		Timeouts:       cfg.Timeouts.SMB,
		Logger:         log.With("component", "smb2"),
	}
	return s, nil
}

// Table returns the session table the server answers from; an SMB server
// in the same process feeds it.
func (s *Server) Table() *session.Table { return s.table }

// Shutdown stops accepting, closes idle connections and waits for calls in
// progress on every service, or until ctx ends. SMB goes first, so that
// its pipes end before the DCE/RPC server behind them.
func (s *Server) Shutdown(ctx context.Context) error {
	smbErr := s.smb.Shutdown(ctx)
	return errors.Join(smbErr, s.pipeRPC.Shutdown(ctx), s.rpc.Shutdown(ctx), s.epm.Shutdown(ctx))
}

// Close stops every service at once.
func (s *Server) Close() error {
	return errors.Join(s.smb.Close(), s.pipeRPC.Close(), s.rpc.Close(), s.epm.Close())
}

// Run serves the server until ctx is done, then shuts down gracefully
// (bounded by Config.Timeouts.Shutdown) and returns nil; it is the one way
// to run it, and a Server runs once. It serves on the listeners of
// Config.Listeners, and opens those missing at the Config's addresses
// (srvsvc always, at DefaultRPCAddr if RPCAddr is empty; the endpoint
// mapper, SMB and metrics when their address is set); then it writes the
// ready file and calls OnReady. It returns early with an error when a
// listener cannot be opened or fails, or when Shutdown or Close is called,
// and refuses to serve the demo accounts on an address that is not
// loopback (ErrExposedDemoAccounts), before listening. Every listener,
// given or opened, is closed when Run returns.
func (s *Server) Run(ctx context.Context) error {
	l := s.cfg.Listeners
	closeAll := func() {
		for _, ln := range []net.Listener{l.RPC, l.EPM, l.SMB, l.Metrics} {
			if ln != nil {
				ln.Close()
			}
		}
	}
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("server: Run called twice")
	}
	s.serving = true
	s.mu.Unlock()

	rpcAddr := s.cfg.RPCAddr
	if rpcAddr == "" {
		rpcAddr = DefaultRPCAddr
	}
	opens := []struct {
		l    *net.Listener
		addr string
		what string
	}{
		{&l.RPC, rpcAddr, "srvsvc"},
		{&l.EPM, s.cfg.EPMAddr, "endpoint mapper"},
		{&l.SMB, s.cfg.SMBAddr, "SMB"},
		{&l.Metrics, s.cfg.MetricsAddr, "metrics"},
	}
	if s.cfg.Accounts == nil {
		for _, o := range opens {
			a := o.addr
			if *o.l != nil {
				a = (*o.l).Addr().String()
			}
			if a != "" && !IsLoopback(a) {
				closeAll()
				return fmt.Errorf("%w: %s", ErrExposedDemoAccounts, a)
			}
		}
	}
	var lc net.ListenConfig
	for _, o := range opens {
		if *o.l != nil || o.addr == "" {
			continue
		}
		ln, err := lc.Listen(ctx, "tcp", o.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("server: %s listener: %w", o.what, err)
		}
		*o.l = ln
	}
	addrs := Addrs{RPC: l.RPC.Addr().String()}
	if l.Metrics != nil {
		addrs.Metrics = l.Metrics.Addr().String()
	}
	if l.EPM != nil {
		addrs.EPM = l.EPM.Addr().String()
	}
	if l.SMB != nil {
		addrs.SMB = l.SMB.Addr().String()
	}
	if s.cfg.ReadyFile != "" {
		if err := writeReady(s.cfg.ReadyFile, addrs); err != nil {
			closeAll()
			return err
		}
	}
	s.log.Info("listening", "rpc", addrs.RPC, "epm", addrs.EPM, "smb", addrs.SMB, "metrics", addrs.Metrics, "policy", fmt.Sprint(s.table.Authorizer()),
		"cname", s.table.CnameStyle().String(), "compat", s.cfg.Compat.String(), "sessions", s.table.Len(),
		"demo_accounts", s.cfg.Accounts == nil, "allow_connect_level", s.cfg.AllowConnectLevel)
	if s.cfg.OnReady != nil {
		s.cfg.OnReady(addrs)
	}
	err := s.serve(ctx, l)
	s.log.Info("stopped")
	return err
}

// serve serves srvsvc on l.RPC, and when set the endpoint mapper on l.EPM
// (announcing l.RPC's port), SMB2/3 on l.SMB and metrics on l.Metrics. It
// returns when ctx is done (after a graceful Shutdown bounded by
// Config.Timeouts.Shutdown), when Shutdown or Close is called, or when a
// listener fails; the listeners are closed on return.
func (s *Server) serve(ctx context.Context, l Listeners) error {
	rpc, epmL := l.RPC, l.EPM
	port, addr := listenerPort(rpc.Addr())
	s.epmH.Endpoints = []epm.Endpoint{{Interface: srvs.Syntax(), Port: port, Addr: addr, Annotation: "srvsvc (netsession)"}}
	s.rpc.SecondaryAddr = strconv.Itoa(int(port))

	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	errc := make(chan error, 4)
	n := 1
	go func() { errc <- s.rpc.Serve(serveCtx, rpc) }()
	if epmL != nil {
		n++
		go func() { errc <- s.epm.Serve(serveCtx, epmL) }()
	}
	if l.SMB != nil {
		n++
		go func() { errc <- s.smb.Serve(serveCtx, l.SMB) }()
	}
	// Metrics stop after the others have drained (stopMetrics below).
	metricsCtx, stopMetrics := context.WithCancel(serveCtx)
	defer stopMetrics()
	if l.Metrics != nil {
		n++
		ms := &promtext.Server{
			Handler:         s.MetricsHandler(),
			MaxConns:        s.cfg.Limits.MetricsMaxConns,
			MaxConnsPerAddr: s.cfg.Limits.MetricsMaxConnsPerAddr,
			Name:            "metrics",
			Logger:          s.log,
		}
		go func() { errc <- ms.Serve(metricsCtx, l.Metrics) }()
	}
	var first error
	select {
	case first = <-errc:
		n--
	case <-ctx.Done():
	}
	// Stop both: drain calls in progress, then close what is left.
	timeout := s.cfg.Timeouts.Shutdown
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown timed out; closing connections", "timeout", timeout)
		_ = s.Close()
	}
	stopMetrics()
	for ; n > 0; n-- {
		if err := <-errc; first == nil {
			first = err
		}
	}
	if first == nil || errors.Is(first, dcerpc.ErrServerClosed) || errors.Is(first, smb2.ErrServerClosed) || errors.Is(first, context.Canceled) {
		if ctx.Err() != nil {
			return nil
		}
		return dcerpc.ErrServerClosed
	}
	return first
}

// IsLoopback reports whether a listen address ("host:port") only reaches
// this machine: a loopback IP or "localhost". An empty host (every
// address) is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func writeReady(path string, a Addrs) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return fmt.Errorf("server: ready file: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("server: ready file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("server: ready file: %w", err)
	}
	return nil
}

func listenerPort(a net.Addr) (uint16, netip.Addr) {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip := ap.Addr().Unmap()
		if !ip.Is4() || ip.IsUnspecified() {
			ip = netip.Addr{}
		}
		return ap.Port(), ip
	}
	return 0, netip.Addr{}
}

// perHost makes the acceptors see the client's host without its port, so
// that Throttle counts failures per client machine, not per connection.
func perHost(m map[dcerpc.AuthType]dcerpc.AuthAcceptor) map[dcerpc.AuthType]dcerpc.AuthAcceptor {
	out := make(map[dcerpc.AuthType]dcerpc.AuthAcceptor, len(m))
	for typ, a := range m {
		out[typ] = dcerpc.AuthAcceptorFunc(func(ctx context.Context, info dcerpc.AuthBindInfo) (dcerpc.ServerSecurityContext, error) {
			if host, _, err := net.SplitHostPort(info.RemoteAddr); err == nil {
				info.RemoteAddr = host
			}
			return a.NewSecurityContext(ctx, info)
		})
	}
	return out
}

// levelGuard refuses calls on associations authenticated at level connect
// unless allowed: connect authenticates the bind but protects no PDU, so a
// man in the middle could replace every call.
type levelGuard struct {
	next         dcerpc.Handler
	allowConnect bool
}

// ReleaseStub forwards written answers to the guarded handler.
func (g *levelGuard) ReleaseStub(stub []byte) { releaseStub(g.next, stub) }

func (g *levelGuard) ServeRPC(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	if call.AuthLevel == dcerpc.AuthLevelConnect && !g.allowConnect {
		return nil, &dcerpc.Fault{Status: dcerpc.StatusAccessDenied}
	}
	return g.next.ServeRPC(ctx, call)
}

func intOr(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}
