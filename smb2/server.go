package smb2

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/netlimit"
	"github.com/netsession/netsession/session"
)

// DefaultTransport is the sesi502_transport of sessions when
// Server.Transport is empty: the name Windows reports for SMB directly
// over TCP.
const DefaultTransport = `\Device\NetbiosSmb`

// Defaults for the zero fields of Limits and Timeouts (see limits.go for
// what each bounds and why it is that number).
const (
	DefaultMaxCredits           = 512
	DefaultMaxIOSize            = 65536
	DefaultMaxConns             = 1024
	DefaultMaxConnsPerAddr      = 256
	DefaultMaxSessionsPerConn   = 64
	DefaultMaxOpensPerConn      = 64
	DefaultMaxMessageSize       = 1 << 20
	DefaultMaxPipeBuffer        = 256 << 10
	DefaultNegotiateTimeout     = 10 * time.Second
	DefaultSetupTimeout         = 30 * time.Second
	DefaultIdleTimeout          = 15 * time.Minute
	DefaultMessageTimeout       = 30 * time.Second
	DefaultWriteTimeout         = 30 * time.Second
	DefaultPipeTimeout          = 30 * time.Second
	DefaultLogoffGrace          = 5 * time.Second
	DefaultMaxSessionPipeMemory = 1 << 20
	DefaultMaxConnPipeMemory    = 4 << 20
	DefaultPipeIdleTimeout      = 5 * time.Minute
	maxOpensPerSession          = 256
	maxTreesPerSession          = 64
)

// SigningPolicy says when the server insists on signed messages.
type SigningPolicy uint8

const (
	// SigningRequired (the zero value) requires every message of a
	// session that has a key to be signed, as Windows 11 24H2 does.
	// Guest and anonymous sessions have no key and stay unsigned.
	SigningRequired SigningPolicy = iota
	// SigningEnabled signs when the client asks for it.
	SigningEnabled
)

// Server is an SMB 2 and 3 server for the IPC$ share and its named pipes.
// Its zero value with Table and Auth (and RPC or Pipes) set is usable;
// fields must not change once serving has started.
type Server struct {
	// Table receives a session for every successful session setup; it
	// must not be nil. Sessions deleted from it (NetSessionDel) are
	// logged off.
	Table *session.Table
	// Auth accepts the security tokens of SESSION_SETUP: a mechanism
	// (an *ntlm.Server) is wrapped in SPNEGO; a *spnego.Acceptor over
	// several mechanisms (NTLM, Kerberos) is used as is, and its
	// NegTokenInit2 is the NEGOTIATE response's security buffer. nil
	// refuses every logon.
	Auth auth.Acceptor
	// RPC serves the srvsvc pipe when Pipes is nil.
	RPC *dcerpc.Server
	// Pipes maps lower-case pipe names to the services that serve them
	// (a PipeHandler on a goroutine per pipe, RPCService inline, or any
	// PipeService); nil means {"srvsvc": RPCService(RPC)} when RPC is
	// set.
	Pipes map[string]PipeService
	// AllowGuest and AllowAnonymous admit logons the acceptor maps to the
	// guest account or recognises as null sessions. Such sessions have no
	// key and are never signed.
	AllowGuest, AllowAnonymous bool
	// Signing is the signing policy; the zero value requires signing.
	Signing SigningPolicy
	// Encryption is the SMB 3.x encryption policy; the zero value never
	// encrypts.
	Encryption EncryptionPolicy
	// Transport is the transport name recorded for sessions (sesi502);
	// "" means DefaultTransport.
	Transport string
	// ServerGUID identifies the server in NEGOTIATE; zero means a random
	// value chosen once per Server.
	ServerGUID [16]byte
	// Limits bound what a connection, and the server, may hold; each
	// zero field means its documented default.
	Limits Limits
	// Timeouts bound how long a connection may take over each phase;
	// each zero field means its documented default.
	Timeouts Timeouts
	// Logger receives connection and session events; nil discards.
	Logger *slog.Logger
	// Now is the clock for NEGOTIATE's SystemTime; nil means time.Now.
	Now func() time.Time

	once      sync.Once
	guid      [16]byte
	lim       Limits   // Limits with the defaults filled in
	tmo       Timeouts // Timeouts with the defaults filled in
	limiter   *netlimit.Limiter
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  bool
	wg        sync.WaitGroup
	stats     counters
	// frames holds the buffers of frames larger than a connection keeps
	// (*[]byte), shared by the connections between answers.
	frames sync.Pool
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("smb2: server closed")

func (s *Server) init() {
	s.once.Do(func() {
		s.guid = s.ServerGUID
		if s.guid == ([16]byte{}) {
			_, _ = rand.Read(s.guid[:])
		}
		s.lim = s.Limits.withDefaults()
		s.tmo = s.Timeouts.withDefaults()
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.limiter = &netlimit.Limiter{Max: s.lim.MaxConns, PerAddr: s.lim.MaxConnsPerAddr, Name: "smb2", Logger: s.Logger}
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) transport() string {
	if s.Transport != "" {
		return s.Transport
	}
	return DefaultTransport
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// pipe returns the service of the pipe a CREATE names.
func (s *Server) pipe(name string) (PipeService, string, bool) {
	name = strings.ToLower(strings.TrimLeft(name, `\`))
	if s.Pipes != nil {
		svc := s.Pipes[name]
		return svc, name, svc != nil
	}
	if name == "srvsvc" && s.RPC != nil {
		return RPCService(s.RPC), name, true
	}
	return nil, "", false
}

// Serve accepts connections on l and serves each in its own goroutine
// until ctx is cancelled, Shutdown or Close; it closes l when it returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var backoff netlimit.Backoff
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if netlimit.Temporary(err) {
				d := backoff.Next()
				s.logger().Warn("smb2 accept", slog.Any("err", err), slog.Duration("retry_in", d))
				netlimit.Sleep(ctx, d)
				continue
			}
			return err
		}
		backoff.Reset()
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			_ = s.ServeConn(ctx, nc)
		}()
	}
}

// ServeConn serves one connection in the caller's goroutine and closes it
// when done. It returns nil when the peer went away or the server shut
// down, or the error that ended the connection.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) error {
	s.init()
	c := newConn(s, nc)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return ErrServerClosed
	}
	release, err := s.limiter.Acquire(nc.RemoteAddr())
	if err != nil {
		s.mu.Unlock()
		// Counted before the close, so that a client seeing the close
		// also sees it counted. The limiter logs a summary.
		s.stats.connsRejected.Add(1)
		nc.Close()
		c.cancel()
		if errors.Is(err, netlimit.ErrTooManyFromAddr) {
			return ErrTooManyConnsFromAddr
		}
		return ErrTooManyConns
	}
	defer release()
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.stats.connsAccepted.Add(1)
	s.stats.connsOpen.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.stats.connsOpen.Add(-1)
		s.wg.Done()
	}()
	return c.serve(ctx)
}

// Shutdown stops accepting, lets every connection finish the request it
// is processing, closes them and waits for them, or until ctx is done (then
// it closes what remains and returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop((*conn).drain)
	done := make(chan struct{})
	go func() { s.waitConns(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

func (s *Server) waitConns() { s.wg.Wait() }

// Close stops everything at once: listeners and connections are closed.
// Sessions leave the table as their connections end.
func (s *Server) Close() error {
	s.stop((*conn).kill)
	s.waitConns()
	return nil
}

// stop refuses new connections, closes the listeners and applies end to
// every connection (drain or kill).
func (s *Server) stop(end func(*conn)) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		end(c)
	}
}

// String returns "required" or "enabled".
func (p SigningPolicy) String() string {
	if p == SigningEnabled {
		return "enabled"
	}
	return "required"
}

// ParseSigningPolicy parses "required" or "enabled" (as String writes
// them), for command-line flags.
func ParseSigningPolicy(s string) (SigningPolicy, error) {
	switch strings.ToLower(s) {
	case "required":
		return SigningRequired, nil
	case "enabled":
		return SigningEnabled, nil
	}
	return 0, fmt.Errorf("smb2: signing policy %q: want required or enabled", s)
}
