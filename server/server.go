package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/internal/netlimit"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/spnego"
	"github.com/netsession/netsession/srvs"
)

// DefaultRPCAddr is where Run listens for srvsvc when Config.RPCAddr is
// empty: a port the kernel picks on the IPv4 loopback address.
const DefaultRPCAddr = "127.0.0.1:0"

// Connection bounds of the endpoint mapper and metrics listeners when the
// Config leaves them zero. A client asks the endpoint mapper one question
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
// after its context ends, unless Config.ShutdownTimeout says otherwise.
const DefaultShutdownTimeout = 10 * time.Second

// ErrExposedDemoAccounts: the built-in demo accounts (whose passwords are
// public) were about to be served on an address other than loopback.
var ErrExposedDemoAccounts = errors.New("server: refusing to serve the built-in demo accounts on a non-loopback address (give an accounts file)")

// Config configures a Server. The zero value serves srvsvc on a loopback
// port with the demo accounts, the modern policy, Windows-style client
// names and no endpoint mapper.
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
	// ntlm.Throttle); nil never throttles.
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
	// SMBMaxConns bounds the SMB connections served at once (0:
	// smb2.DefaultMaxConns, negative: no bound); SMBIdleTimeout closes
	// an SMB connection with sessions that sends nothing for that long (0:
	// smb2.DefaultIdleTimeout, negative: never). The other SMB limits keep
	// smb2's defaults.
	SMBMaxConns    int
	SMBIdleTimeout time.Duration
	// RPCMaxConns, EPMMaxConns and MetricsMaxConns bound the connections
	// each of those listeners serves at once (0: dcerpc.DefaultMaxConns,
	// DefaultEPMMaxConns, DefaultMetricsMaxConns; negative: no bound). A
	// connection over the bound is closed as soon as it is accepted.
	RPCMaxConns, EPMMaxConns, MetricsMaxConns int
	// MaxConnsPerAddr bounds the connections of one IP address (an IPv6
	// address counts by its /64) on each listener, SMB included (0: each
	// listener's default, a quarter of its total: 256 for SMB and srvsvc,
	// 64 for the endpoint mapper, 16 for metrics; negative: no bound).
	// Refusals are logged at WARN once per address and listener every ten
	// seconds, with a count.
	MaxConnsPerAddr int
	// MetricsAddr, when not empty, is the TCP address Run serves the
	// counters on over HTTP: /metrics (Prometheus text format) and
	// /debug/vars (JSON), see MetricsHandler.
	MetricsAddr string
	// ShutdownTimeout bounds the drain when Run's context ends: 0 means
	// DefaultShutdownTimeout; after it, connections are closed.
	ShutdownTimeout time.Duration
}

// Addrs are the addresses a running server listens on.
type Addrs struct {
	RPC     string `json:"rpc"`
	EPM     string `json:"epm,omitempty"`
	SMB     string `json:"smb,omitempty"`
	Metrics string `json:"metrics,omitempty"`
}

// Listeners are what Serve serves on: srvsvc over TCP (required), and
// optionally the endpoint mapper and SMB.
type Listeners struct {
	RPC, EPM, SMB net.Listener
	// Metrics, when set, serves MetricsHandler over HTTP.
	Metrics net.Listener
}

// Server is the netsession daemon: a session table served over srvsvc
// (ncacn_ip_tcp) with NTLMSSP and SPNEGO authentication, and optionally
// an endpoint mapper. It does not own its listeners: Serve takes them, Run
// opens them from the Config.
type Server struct {
	cfg   Config
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
		rpcMechs = append(cfg.Kerberos.DCEAcceptors(), mech)
	}
	acceptors, err := rpcauth.Acceptors(rpcMechs...)
	if err != nil {
		return nil, err
	}
	rpc := &dcerpc.Server{Auth: perHost(acceptors), Logger: log.With("component", "dcerpc"),
		MaxConns: cfg.RPCMaxConns, MaxConnsPerAddr: cfg.MaxConnsPerAddr}
	if err := rpc.Register(iface); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, table: table, rpc: rpc, calls: calls, epmH: &epm.Handler{Logger: log.With("component", "epm")}}
	s.epm = &dcerpc.Server{Logger: log.With("component", "dcerpc-epm"),
		MaxConns:        intOr(cfg.EPMMaxConns, DefaultEPMMaxConns),
		MaxConnsPerAddr: intOr(cfg.MaxConnsPerAddr, DefaultEPMMaxConnsPerAddr)}
	if err := s.epm.Register(s.epmH.Interface()); err != nil {
		return nil, err
	}
	s.pipeRPC = &dcerpc.Server{
		Auth:          rpc.Auth,
		Logger:        log.With("component", "dcerpc-pipe"),
		IdleTimeout:   -1,
		SecondaryAddr: `\PIPE\srvsvc`,
	}
	if err := s.pipeRPC.Register(iface); err != nil {
		return nil, err
	}
	var smbAuth auth.Acceptor = mech
	if cfg.Kerberos != nil {
		// SPNEGO over Kerberos (both OIDs) and NTLM; the client's order of
		// preference decides.
		if smbAuth, err = spnego.NewAcceptor(append(cfg.Kerberos.AuthAcceptors(), mech)...); err != nil {
			return nil, err
		}
	}
	s.smb = &smb2.Server{
		Table:           table,
		Auth:            smbAuth,
		RPC:             s.pipeRPC,
		AllowGuest:      cfg.AllowGuest,
		AllowAnonymous:  cfg.AllowAnonymous,
		Signing:         cfg.SMBSigning,
		Encryption:      cfg.SMBEncrypt,
		MaxConns:        cfg.SMBMaxConns,
		MaxConnsPerAddr: cfg.MaxConnsPerAddr,
		IdleTimeout:     cfg.SMBIdleTimeout,
		Logger:          log.With("component", "smb2"),
	}
	return s, nil
}

// Table returns the session table the server answers from; an SMB server
// in the same process feeds it.
func (s *Server) Table() *session.Table { return s.table }

// Serve serves srvsvc on rpc and, when epmL is not nil, the endpoint mapper
// on epmL; it is ServeListeners without SMB.
func (s *Server) Serve(ctx context.Context, rpc, epmL net.Listener) error {
	return s.ServeListeners(ctx, Listeners{RPC: rpc, EPM: epmL})
}

// ServeListeners serves srvsvc on l.RPC, and when set the endpoint mapper
// on l.EPM (announcing l.RPC's port) and SMB2/3 on l.SMB. It returns when
// ctx is done (after a graceful Shutdown bounded by
// Config.ShutdownTimeout), when Shutdown or Close is called, or when a
// listener fails; the listeners are closed on return. A Server serves once.
func (s *Server) ServeListeners(ctx context.Context, l Listeners) error {
	rpc, epmL := l.RPC, l.EPM
	if rpc == nil {
		return errors.New("server: Serve needs an srvsvc listener")
	}
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("server: Serve called twice")
	}
	s.serving = true
	s.mu.Unlock()

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
	var hs *http.Server
	if l.Metrics != nil {
		n++
		hs = &http.Server{
			Handler:           s.MetricsHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			// A kept-alive scraper connection must not hold its place
			// for good.
			IdleTimeout: 2 * time.Minute,
			ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		// net/http retries temporary accept errors itself; the limiter
		// bounds the connections.
		ml := &netlimit.Listener{Listener: l.Metrics, Limiter: &netlimit.Limiter{
			Max:     intOr(s.cfg.MetricsMaxConns, DefaultMetricsMaxConns),
			PerAddr: intOr(s.cfg.MaxConnsPerAddr, DefaultMetricsMaxConnsPerAddr),
			Name:    "metrics",
			Logger:  s.log,
		}}
		go func() {
			err := hs.Serve(ml)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	select {
	case first = <-errc:
		n--
	case <-ctx.Done():
	}
	// Stop both: drain calls in progress, then close what is left.
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown timed out; closing connections", "timeout", timeout)
		_ = s.Close()
	}
	if hs != nil {
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close()
		}
	}
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

// Run listens on Config.RPCAddr (and Config.EPMAddr), writes the ready
// file, and serves until ctx is done; then it shuts down gracefully and
// returns nil. It refuses to serve the demo accounts on an address that
// is not loopback (ErrExposedDemoAccounts), before listening.
func (s *Server) Run(ctx context.Context) error {
	rpcAddr := s.cfg.RPCAddr
	if rpcAddr == "" {
		rpcAddr = DefaultRPCAddr
	}
	if s.cfg.Accounts == nil {
		for _, a := range []string{rpcAddr, s.cfg.EPMAddr, s.cfg.SMBAddr} {
			if a != "" && !IsLoopback(a) {
				return fmt.Errorf("%w: %s", ErrExposedDemoAccounts, a)
			}
		}
	}
	var lc net.ListenConfig
	rpcL, err := lc.Listen(ctx, "tcp", rpcAddr)
	if err != nil {
		return fmt.Errorf("server: srvsvc listener: %w", err)
	}
	var epmL net.Listener
	if s.cfg.EPMAddr != "" {
		if epmL, err = lc.Listen(ctx, "tcp", s.cfg.EPMAddr); err != nil {
			rpcL.Close()
			return fmt.Errorf("server: endpoint mapper listener: %w", err)
		}
	}
	var smbL, metricsL net.Listener
	closeAll := func() {
		for _, l := range []net.Listener{rpcL, epmL, smbL, metricsL} {
			if l != nil {
				l.Close()
			}
		}
	}
	if s.cfg.SMBAddr != "" {
		if smbL, err = lc.Listen(ctx, "tcp", s.cfg.SMBAddr); err != nil {
			closeAll()
			return fmt.Errorf("server: SMB listener: %w", err)
		}
	}
	if s.cfg.MetricsAddr != "" {
		if metricsL, err = lc.Listen(ctx, "tcp", s.cfg.MetricsAddr); err != nil {
			closeAll()
			return fmt.Errorf("server: metrics listener: %w", err)
		}
	}
	addrs := Addrs{RPC: rpcL.Addr().String()}
	if metricsL != nil {
		addrs.Metrics = metricsL.Addr().String()
	}
	if epmL != nil {
		addrs.EPM = epmL.Addr().String()
	}
	if smbL != nil {
		addrs.SMB = smbL.Addr().String()
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
	err = s.ServeListeners(ctx, Listeners{RPC: rpcL, EPM: epmL, SMB: smbL, Metrics: metricsL})
	s.log.Info("stopped")
	return err
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
