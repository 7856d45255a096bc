package dcerpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/internal/netlimit"
	"github.com/netsession/netsession/session"
)

// Defaults for the zero values of Server's limits.
const (
	DefaultMaxRecvFrag        = 5840
	DefaultMaxXmitFrag        = MaxFragSize
	DefaultMaxReassembledSize = 1 << 20
	DefaultMaxContexts        = 64
	DefaultIdleTimeout        = 5 * time.Minute
	DefaultHandshakeTimeout   = 30 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
)

// Defaults for what unauthenticated clients, and all clients together,
// may make the server hold (see the Server fields of the same names).
const (
	// DefaultMaxConns bounds the connections Serve holds at once: far
	// more than the clients of a session server, and few enough that,
	// with DefaultMaxRecvFrag for each and the request budget below, the
	// server cannot be made to hold more than about 70 MiB.
	DefaultMaxConns = 1024
	// DefaultMaxConnsPerAddr is a quarter of DefaultMaxConns: one client
	// machine (or a NAT in front of many) cannot keep the others out,
	// and a load test of 200 associations from one address still runs.
	DefaultMaxConnsPerAddr = 256
	// DefaultMaxUnauthReassembledSize caps the request an association
	// that has not authenticated may reassemble. An anonymous caller has
	// only small calls to make: an ept_map request is about 150 octets,
	// a NetrSessionEnum request under 1 KiB even with names of the
	// longest allowed length; 16 KiB leaves a wide margin over both
	// while 100 hostile connections hold at most 1.6 MiB.
	DefaultMaxUnauthReassembledSize = 16 << 10
	// DefaultMaxBufferedRequests is the budget of request octets being
	// reassembled across all associations: 64 requests of the largest
	// size (DefaultMaxReassembledSize) at once.
	DefaultMaxBufferedRequests = 64 << 20
	// DefaultReassemblyTimeout is the time from the first fragment of a
	// request to its last: a client sends the fragments of one request
	// back to back, and even the largest one (1 MiB) takes a second at
	// 10 Mbit/s. Fragments that arrive meanwhile, empty ones included,
	// do not extend it.
	DefaultReassemblyTimeout = 30 * time.Second
)

// Handler serves the calls on one registered interface.
//
// ServeRPC gets the reassembled request stub and returns the response stub.
// To answer with a fault instead it returns a *Fault (or ErrBadStub,
// ErrOpRange); any other error becomes a fault with StatusCantPerform.
// A status the method itself returns (such as a NET_API_STATUS) belongs in
// the response stub, not in an error. call.Stub is only valid until
// ServeRPC returns. ctx is cancelled when the server is closed or the
// connection ends.
type Handler interface {
	ServeRPC(ctx context.Context, call *Call) ([]byte, error)
}

// StubReleaser is implemented by a Handler that wants its response stubs
// back: the server calls ReleaseStub with each stub ServeRPC returned once
// it has been written (fragmented, signed or sealed and handed to the
// transport), so that its memory can hold a later answer. The server does
// not touch the stub afterwards. A Handler that wraps another forwards it.
type StubReleaser interface {
	ReleaseStub(stub []byte)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, call *Call) ([]byte, error)

// ServeRPC calls f.
func (f HandlerFunc) ServeRPC(ctx context.Context, call *Call) ([]byte, error) { return f(ctx, call) }

// Interface is a registration: calls on presentation contexts bound to
// Syntax go to Handler.
type Interface struct {
	// Syntax is the interface UUID and version. A bind matches when the
	// UUID and major version are equal and the requested minor version is
	// not above Syntax.Minor.
	Syntax  SyntaxID
	Handler Handler
	// NumOpnums, when positive, makes the server answer opnums at or above
	// it with nca_s_op_rng_error without calling Handler.
	NumOpnums int
}

// Call is one reassembled request, with the identity and security in
// effect.
type Call struct {
	Opnum     uint16
	Stub      []byte
	CallID    uint32
	ContextID uint16
	// Object is the object UUID, when HasObject (PFC_OBJECT_UUID).
	Object    UUID
	HasObject bool
	// Syntax is the interface the context was bound to.
	Syntax       SyntaxID
	AssocGroupID uint32
	// Caller is the authenticated identity: the security context's when the
	// association is authenticated, otherwise the one the connection was
	// given (ConnConfig.Caller), otherwise anonymous.
	Caller     session.Caller
	RemoteAddr string
	AuthType   AuthType
	AuthLevel  AuthLevel
}

// Limits bound what a Server holds for its clients. Every zero field
// means the default of the same name (DefaultMaxRecvFrag for MaxRecvFrag,
// and so on).
type Limits struct {
	// MaxRecvFrag and MaxXmitFrag bound the fragments the server receives
	// (DefaultMaxRecvFrag, what Windows accepts over TCP, which bounds the
	// buffer of a connection) and sends (DefaultMaxXmitFrag, the largest
	// there is, so that a client that can receive large fragments gets a
	// large answer in one; rpcclient, impacket and Windows offer 4280 or
	// 5840 and get that). A bind negotiates them down to the client's
	// values, never below MinFragSize.
	MaxRecvFrag uint16
	MaxXmitFrag uint16
	// MaxReassembledSize caps a reassembled request stub. A request over
	// it gets a fault and the connection is closed.
	MaxReassembledSize int
	// MaxUnauthReassembledSize is the cap instead for an association
	// whose caller is anonymous or guest, by its own security context or
	// by its transport's.
	MaxUnauthReassembledSize int
	// MaxBufferedRequests bounds the request octets being reassembled
	// across all connections at once (negative: no bound). A fragment
	// that would go over it gets a fault (nca_s_fault_remote_no_memory)
	// and its connection is closed.
	MaxBufferedRequests int64
	// MaxConns bounds the connections Serve serves at once, and
	// MaxConnsPerAddr those from one IP address (an IPv6 address counts
	// by its /64) (negative: no bound). A connection over either is
	// closed as soon as it is accepted; refusals are logged at most once
	// per address every few seconds, with a count. ServeConn is not
	// counted.
	MaxConns        int
	MaxConnsPerAddr int
	// MaxContexts caps the presentation contexts of one association; more
	// are rejected with local_limit_exceeded.
	MaxContexts int
}

// Timeouts bound how long a Server waits for its clients. Every zero
// field means the default of the same name (DefaultIdleTimeout for Idle,
// and so on); a negative one means none.
type Timeouts struct {
	// Idle closes a connection that sends nothing for that long between
	// PDUs.
	Idle time.Duration
	// Handshake is the time a new connection has to complete its bind.
	Handshake time.Duration
	// Read bounds reading the rest of a PDU once its header has arrived,
	// Write writing one PDU.
	Read  time.Duration
	Write time.Duration
	// Reassembly bounds the time from a request's first fragment to its
	// last; then the connection is closed. Fragments do not extend it.
	Reassembly time.Duration
}

// withDefaults returns l with every zero field set to its default: the one
// place the defaults are applied.
func (l Limits) withDefaults() Limits {
	fragSize(&l.MaxRecvFrag, DefaultMaxRecvFrag)
	fragSize(&l.MaxXmitFrag, DefaultMaxXmitFrag)
	or(&l.MaxReassembledSize, DefaultMaxReassembledSize)
	or(&l.MaxUnauthReassembledSize, DefaultMaxUnauthReassembledSize)
	or(&l.MaxBufferedRequests, DefaultMaxBufferedRequests)
	or(&l.MaxConns, DefaultMaxConns)
	or(&l.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	or(&l.MaxContexts, DefaultMaxContexts)
	return l
}

// withDefaults returns t with every zero field set to its default: the
// one place the defaults are applied.
func (t Timeouts) withDefaults() Timeouts {
	or(&t.Idle, DefaultIdleTimeout)
	or(&t.Handshake, DefaultHandshakeTimeout)
	or(&t.Read, DefaultReadTimeout)
	or(&t.Write, DefaultWriteTimeout)
	or(&t.Reassembly, DefaultReassemblyTimeout)
	return t
}

// fragSize sets a fragment size *v to def when it is zero, and raises it
// to MinFragSize, below which no implementation need go.
func fragSize(v *uint16, def uint16) {
	or(v, def)
	*v = max(*v, MinFragSize)
}

// or sets *v to def when it is zero.
func or[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server serves connection-oriented DCE/RPC. The zero value is usable:
// register interfaces, then call Serve or ServeConn. Fields must not change
// once serving has started.
type Server struct {
	// Limits bound what the server holds; each zero field means its
	// documented default.
	Limits Limits
	// Timeouts bound how long it waits; each zero field means its
	// documented default.
	Timeouts Timeouts
	// SecondaryAddr is the port_spec of bind_ack: the TCP port as a
	// decimal string for ncacn_ip_tcp, `\PIPE\srvsvc` for ncacn_np. A
	// connection can override it (ConnConfig.SecondaryAddr).
	SecondaryAddr string
	// Auth maps an auth_type to the mechanism that accepts it. A bind with
	// an auth_type not in the map gets a bind_nak (reason 8).
	Auth map[AuthType]AuthAcceptor
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger

	setupOnce sync.Once
	lim       Limits   // Limits with the defaults filled in
	tmo       Timeouts // Timeouts with the defaults filled in
	limiter   *netlimit.Limiter
	// buffered is the request octets being reassembled, all
	// connections together (the budget of MaxBufferedRequests).
	buffered atomic.Int64

	mu        sync.Mutex
	ifaces    map[ifaceKey]*Interface
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	closing   atomic.Bool
	assoc     atomic.Uint32
	wg        sync.WaitGroup
	// answers holds message answers given back by MessageConn.Recycle
	// (*[]byte), shared by the associations: one that goes idle keeps
	// none.
	answers sync.Pool
}

type ifaceKey struct {
	uuid  UUID
	major uint16
}

// Register adds an interface. It fails if the UUID and major version are
// already registered or the handler is nil.
func (s *Server) Register(iface Interface) error {
	if iface.Handler == nil {
		return errors.New("dcerpc: Register with a nil handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ifaces == nil {
		s.ifaces = make(map[ifaceKey]*Interface)
	}
	k := ifaceKey{iface.Syntax.UUID, iface.Syntax.Major}
	if _, dup := s.ifaces[k]; dup {
		return fmt.Errorf("dcerpc: interface %s already registered", iface.Syntax)
	}
	s.ifaces[k] = &iface
	return nil
}

func (s *Server) lookup(a SyntaxID) *Interface {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.ifaces[ifaceKey{a.UUID, a.Major}]
	if i == nil || a.Minor > i.Syntax.Minor {
		return nil
	}
	return i
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Serve accepts connections on l and serves each in its own goroutine until
// ctx is done, Shutdown or Close is called, or Accept fails permanently.
// Like net/http, it closes l when it returns. After Shutdown or Close it
// returns ErrServerClosed; after ctx is done, ctx.Err(). Connections
// inherit ctx: cancelling it ends them too.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if !s.trackListener(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrackListener(l)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	lim := s.connLimiter()
	var backoff netlimit.Backoff
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if netlimit.Temporary(err) {
				d := backoff.Next()
				s.logger().Warn("dcerpc: accept", "err", err, "retry_in", d)
				netlimit.Sleep(ctx, d)
				continue
			}
			return err
		}
		backoff.Reset()
		release, err := lim.Acquire(nc.RemoteAddr())
		if err != nil {
			nc.Close()
			continue
		}
		c, ok := s.newConn(ctx, nc, nc, ConnConfig{}, nil)
		if !ok {
			release()
			nc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.wg.Done()
			defer release()
			c.serve()
		}()
	}
}

// setup fills in the defaults and builds the limiter of Serve's
// connections, once, on first use.
func (s *Server) setup() {
	s.setupOnce.Do(func() {
		s.lim = s.Limits.withDefaults()
		s.tmo = s.Timeouts.withDefaults()
		s.limiter = &netlimit.Limiter{
			Max:     s.lim.MaxConns,
			PerAddr: s.lim.MaxConnsPerAddr,
			Name:    "dcerpc",
			Logger:  s.Logger,
		}
	})
}

// connLimiter is the limiter of Serve's connections.
func (s *Server) connLimiter() *netlimit.Limiter {
	s.setup()
	return s.limiter
}

// BufferedRequestBytes returns the request octets being reassembled on
// all connections now: what Limits.MaxBufferedRequests bounds.
func (s *Server) BufferedRequestBytes() int64 { return s.buffered.Load() }

// ServeConn serves one connection in the calling goroutine until the peer
// closes it, a protocol error ends it, ctx is done or the server is closed.
// It always closes nc. It returns nil for an orderly end. The timeouts are
// applied with nc's deadlines; a conn whose SetDeadline fails simply gets
// none. cfg says what the transport knows of the client; its zero value
// will do.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn, cfg ConnConfig) error {
	c, ok := s.newConn(ctx, nc, nc, cfg, nil)
	if !ok {
		nc.Close()
		return ErrServerClosed
	}
	defer s.wg.Done()
	return c.serve()
}

// Shutdown stops accepting, closes idle connections, and waits for the
// calls in progress to be answered and their connections to close. If ctx
// ends first it returns ctx.Err() and leaves the rest running (call Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			s.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes all listeners and connections immediately and cancels the
// context of running handlers. It does not wait for them to return.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.cancel()
		c.out.Close()
	}
	return nil
}

func (s *Server) trackListener(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrackListener(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
}

// closeIdle closes connections waiting for a PDU and returns how many
// connections remain.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if !c.active.Load() {
			c.cancel()
			c.out.Close()
		}
	}
	return len(s.conns)
}

// newConn registers a connection that answers through out: a stream
// connection (nc, the same as out) or a message association (nc nil).
// init, if not nil, runs under the server's lock before Shutdown or Close
// can see the connection.
func (s *Server) newConn(ctx context.Context, nc net.Conn, out io.WriteCloser, cfg ConnConfig, init func(*serverConn)) (*serverConn, bool) {
	s.setup()
	if cfg.SecondaryAddr == "" {
		cfg.SecondaryAddr = s.SecondaryAddr
	}
	if cfg.RemoteAddr == "" && nc != nil && nc.RemoteAddr() != nil {
		cfg.RemoteAddr = nc.RemoteAddr().String()
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &serverConn{
		srv:      s,
		nc:       nc,
		out:      out,
		ctx:      cctx,
		cancel:   cancel,
		cfg:      cfg,
		log:      s.logger().With("remote", cfg.RemoteAddr),
		start:    time.Now(),
		maxRecv:  int(s.lim.MaxRecvFrag),
		maxXmit:  int(s.lim.MaxXmitFrag),
		contexts: make(map[uint16]*presContext),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		cancel()
		return nil, false
	}
	if s.conns == nil {
		s.conns = make(map[*serverConn]struct{})
	}
	if init != nil {
		init(c)
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c, true
}

func (s *Server) removeConn(c *serverConn) {
	c.dropCall()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// ConnConfig configures one connection given to ServeConn or
// NewMessageConn. The zero value serves it with the Server's settings and
// the connection's own address.
type ConnConfig struct {
	// Caller is the identity the transport established (for ncacn_np,
	// the SMB session's user). Calls see it unless the association
	// authenticates; the zero value is anonymous.
	Caller session.Caller
	// SecondaryAddr, when not empty, overrides Server.SecondaryAddr for
	// this connection.
	SecondaryAddr string
	// RemoteAddr is the peer address reported in Call.RemoteAddr and in
	// logs; "" means the connection's RemoteAddr (none for a message
	// association).
	RemoteAddr string
	// MaxPending bounds the answers a message association
	// (NewMessageConn) keeps for its client to take, in octets: once that
	// many wait, Write answers no further PDU (they stay buffered, see
	// MessageConn.Pending) until Next makes room, as a stream connection
	// stops reading while its client does not take the answers. An
	// answer already begun is always finished, so one answer may pass
	// the bound. 0 means no bound. A stream connection ignores it.
	MaxPending int
}
