package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/spnego"
)

// DCE/RPC over an SMB2 named pipe (ncacn_np).
//
// Real servers (Windows, Samba) serve srvsvc only on the \PIPE\srvsvc named
// pipe of the IPC$ share. The SMB2/3 client is package smb2/pipeclient;
// this file turns one of its pipes into the byte stream package dcerpc
// runs on. Design decisions:
//
//   - One call, one round trip, as Windows' own client and Samba's
//     rpcclient do it. dcerpc.Client writes every PDU with a single Write
//     and then reads the answer. Write only holds the PDU; the Read that
//     follows sends it in an FSCTL_PIPE_TRANSCEIVE whose answer carries
//     the first response fragment. A second Write while a PDU is held
//     (a multi-fragment request) sends the held one as a plain SMB2 WRITE
//     first; a Read with nothing held (the further fragments of a long
//     answer) is an SMB2 READ; Close sends a PDU still held as a WRITE.
//     A transceive needs a pipe without unread answers (servers refuse it
//     with STATUS_PIPE_BUSY otherwise); dcerpc.Client reads every answer
//     whole before its next call, so that holds.
//   - Every transceive and READ asks for 65,536 bytes (less only when the
//     server's maximum transact or read size is smaller), more than any
//     DCE/RPC fragment (frag_length is 16 bits), so one exchange returns
//     one whole fragment. Should a message ever be longer, the server says
//     so (STATUS_BUFFER_OVERFLOW) and the next Read fetches the rest. The
//     fragment lands in an internal buffer and Read serves the caller's
//     small reads (dcerpc reads a 16-byte header, then the rest) from
//     there.
//   - The SMB logon is the caller's identity on the pipe: no DCE/RPC
//     authentication is needed on top (servers accept auth level none on
//     ncacn_np).
//   - Deadlines: SMBPipe has SetDeadline, which sets the deadline of the
//     SMB connection. dcerpc.Client applies each call's context through it,
//     and a cancelled context sets a deadline in the past. A deadline that
//     expires during an exchange breaks the SMB connection, which is the
//     intended outcome: an interrupted exchange leaves the pipe at an
//     unknown position anyway.
//   - Every logon with a key signs (AES-GMAC on SMB 3.1.1 when the server
//     offers it), whatever the server requires: Samba refuses an IPC$ tree
//     connect on a session that does not ask for signing. Messages are
//     encrypted when the session or the share says so. Guest and anonymous
//     sessions have no keys and cannot sign; a server that requires
//     encryption refuses them.
//   - A logon with credentials asks the server to require signing and
//     must end with a key: a guest outcome is refused (ErrGuestLogon, a
//     logon failure) unless SMBPipeOptions.AllowGuest accepts it, because
//     the answer that makes a session a guest one is unsigned and could
//     come from anyone on the path. Windows has refused such "insecure
//     guest logons" by default for years.

// DefaultSMBPort is the TCP port of SMB over TCP (direct hosting).
const DefaultSMBPort = 445

// pipeReadSize is the output size of every transceive and SMB2 READ on
// the pipe.
const pipeReadSize = 65536

// SMBPipeOptions tune DialSMBPipe. The zero value is ready to use.
type SMBPipeOptions struct {
	// Port is used when the address carries none (default 445).
	Port int
	// Pipe is the pipe name without \PIPE\ (default "srvsvc").
	Pipe string
	// Workstation is the name sent in the NTLM AUTHENTICATE message.
	Workstation string
	// Dial opens the TCP connection; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// CloseTimeout bounds the clean close (close handle, tree disconnect,
	// logoff); default 5 s.
	CloseTimeout time.Duration
	// AllowGuest accepts a logon with credentials that the server maps to
	// its guest account (see DialSMBPipe). By default such a logon fails
	// with KindLogonFailure, as Windows refuses insecure guest logons.
	AllowGuest bool
}

// SMBPipe is an open named pipe on an SMB server, used as the byte stream
// of a DCE/RPC association. Write takes one PDU per call; Read returns the
// bytes of the fragments the server sends, in order. It is not safe for
// concurrent Reads or concurrent Writes (dcerpc.Client serialises its
// calls); Close may interrupt a blocked Read from another goroutine.
type SMBPipe struct {
	server string
	conn   *pipeclient.Conn
	pipe   *pipeclient.Pipe
	closeT time.Duration

	held    []byte // the PDU the next Read sends in a transceive
	holding bool
	rbuf    []byte // the transceive and READ buffer, pipeReadSize bytes
	pend    []byte // unread part of the last fragment, aliases rbuf

	// closed and inflight let Close interrupt a Read or Write blocked in
	// an exchange: each side sets its own flag, then checks the other's.
	closed    atomic.Bool
	inflight  atomic.Int32
	closeOnce sync.Once
	closeErr  error

	mech auth.Mechanism // the mechanism of the logon
}

// Mechanism returns the security mechanism that logged the session on
// (auth.MechNTLM, auth.MechKerberos or auth.MechMSKerberos); "" for a
// null session.
func (p *SMBPipe) Mechanism() auth.Mechanism { return p.mech }

// usedMech remembers which of the offered mechanisms completed.
type usedMech struct {
	mu   sync.Mutex
	mech auth.Mechanism
}

func (u *usedMech) set(m auth.Mechanism) {
	u.mu.Lock()
	u.mech = m
	u.mu.Unlock()
}

func (u *usedMech) get() auth.Mechanism {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.mech
}

// started is an initiator whose first exchange was started already.
type started struct {
	auth.Initiator
	mu  sync.Mutex
	ctx auth.InitiatorContext
}

func (s *started) Initiate(ctx context.Context) (auth.InitiatorContext, error) {
	s.mu.Lock()
	c := s.ctx
	s.ctx = nil
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	return s.Initiator.Initiate(ctx)
}

// recordMech is the Kerberos initiator, reporting to used when its
// context completes. The Kerberos one turns its failures (a service ticket the
// KDC refuses, an AP-REP that does not verify) into logon failures.
type recordMech struct {
	auth.Initiator
	used *usedMech
}

func (r *recordMech) failed(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, auth.ErrLogonFailure) {
		return err
	}
	return fmt.Errorf("kerberos: %w: %w", auth.ErrLogonFailure, err)
}

func (r *recordMech) Initiate(ctx context.Context) (auth.InitiatorContext, error) {
	c, err := r.Initiator.Initiate(ctx)
	if err != nil {
		return nil, r.failed(err)
	}
	return &recordContext{c, r}, nil
}

type recordContext struct {
	auth.InitiatorContext
	r *recordMech
}

func (c *recordContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	out, done, err := c.InitiatorContext.Step(ctx, in)
	if err != nil {
		return nil, false, c.r.failed(err)
	}
	if done {
		c.r.used.set(c.r.Initiator.Mechanism())
	}
	return out, done, nil
}

// DialSMBPipe connects to the SMB server at addr ("host", "host:port",
// "[v6]" or "[v6]:port"), logs on with cred, tree connects to \\host\IPC$
// and opens the named pipe (srvsvc unless opt.Pipe says otherwise). ctx
// bounds the whole setup; it does not outlive DialSMBPipe.
//
// cred.User may be "DOMAIN\user" or "user@domain" when cred.Domain is empty.
// A user the server does not know may be mapped to its guest account
// (Samba's "map to guest = bad user"). A guest session has no key and
// nothing in it is signed, and the answer that makes a logon a guest one
// cannot be authenticated: a man in the middle could forge it for any
// logon and then answer the calls himself. So a logon with credentials
// must yield a signing session (the client asks the server to require
// signing) and a guest outcome fails with KindLogonFailure, unless
// opt.AllowGuest accepts it. A null session (no credentials) is unsigned
// by nature and always allowed.
//
// Errors are *Error (Kind unreachable, timeout, canceled, logon failure,
// access denied or protocol) with the NTSTATUS the server answered, if
// any, wrapping the SMB layer's *pipeclient.Error (the step that failed)
// or, before any SMB exchange, the dial error.
func DialSMBPipe(ctx context.Context, addr string, cred Credentials, opt SMBPipeOptions) (*SMBPipe, error) {
	host, port, err := splitSMBAddr(addr, opt.Port)
	if err != nil {
		return nil, &Error{Kind: KindProtocol, Op: "connect", Server: addr, Err: err}
	}
	server := net.JoinHostPort(host, strconv.Itoa(port))
	used := new(usedMech)
	if h, ok := cred.Kerberos.(interface{ ForHost(string) auth.Initiator }); ok {
		cred.Kerberos = h.ForHost(host)
	}
	if cred.Kerberos != nil && cred.NTLMFallback && cred.User != "" {
		// With a fallback, a Kerberos logon that cannot even start (no
		// ticket for the service: an unknown user or SPN, no KDC) is
		// left out, and NTLM is offered alone.
		kc, err := cred.Kerberos.Initiate(ctx)
		switch {
		case ctx.Err() != nil:
			return nil, smbError(ctx, "connect", server, ctx.Err())
		case err != nil:
			cred.Kerberos = nil
		default:
			cred.Kerberos = &started{Initiator: cred.Kerberos, ctx: kc}
		}
	}
	ini, err := smbAuth(cred, opt.Workstation, used)
	if err != nil {
		return nil, &Error{Kind: KindLogonFailure, Op: "connect", Server: server, Err: fmt.Errorf("smb logon: %w", err)}
	}
	pipe := opt.Pipe
	if pipe == "" {
		pipe = "srvsvc"
	}
	dial := opt.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", server)
	if err != nil {
		return nil, smbError(ctx, "connect", server, err)
	}
	conn, err := pipeclient.Dial(ctx, nc, pipeclient.Options{Host: host, Auth: ini, RequireSigning: !cred.IsAnonymous() && !opt.AllowGuest})
	if err != nil {
		if errors.Is(err, pipeclient.ErrNoKeys) && !cred.IsAnonymous() {
			err = fmt.Errorf("%w: %w", ErrGuestLogon, err)
		}
		return nil, smbError(ctx, "connect", server, err)
	}
	f, err := conn.OpenPipe(ctx, pipe)
	if err != nil {
		conn.Abort()
		return nil, smbError(ctx, "connect", server, err)
	}
	p := &SMBPipe{server: server, conn: conn, pipe: f, closeT: opt.CloseTimeout, rbuf: make([]byte, pipeReadSize), mech: used.get()}
	if p.mech == "" && !cred.IsAnonymous() {
		// Only the Kerberos initiator reports itself; the NTLM one is
		// passed as it is, so that SPNEGO sees its mechListMIC methods.
		p.mech = auth.MechNTLM
	}
	if p.closeT <= 0 {
		p.closeT = 5 * time.Second
	}
	return p, nil
}

// smbAuth builds the initiator of the SMB logon from the credentials:
// NTLM, or Kerberos (then NTLM with NTLMFallback) in SPNEGO. used learns
// which mechanism completed.
func smbAuth(c Credentials, workstation string, used *usedMech) (auth.Initiator, error) {
	if c.Kerberos != nil {
		if c.Anonymous {
			return nil, errors.New("anonymous logon with Kerberos")
		}
		mechs := []auth.Initiator{&recordMech{Initiator: c.Kerberos, used: used}}
		if c.NTLMFallback && c.User != "" {
			n, err := ntlmAuth(c, workstation)
			if err != nil {
				return nil, err
			}
			mechs = append(mechs, n)
		}
		return spnego.NewInitiator(mechs...)
	}
	return ntlmAuth(c, workstation)
}

// ntlmAuth builds the NTLM initiator of the SMB logon.
func ntlmAuth(c Credentials, workstation string) (*ntlm.Client, error) {
	if c.Anonymous || c.User == "" {
		if c.User != "" || c.Password != "" || len(c.NTHash) != 0 {
			return nil, errors.New("anonymous logon with a user, password or hash")
		}
		return &ntlm.Client{Workstation: workstation}, nil
	}
	if len(c.NTHash) != 0 && len(c.NTHash) != 16 {
		return nil, fmt.Errorf("NT hash of %d bytes, want 16", len(c.NTHash))
	}
	user, domain := c.User, c.Domain
	if domain == "" {
		user, domain = ntlm.SplitUser(user)
	}
	a := &ntlm.Client{User: user, Domain: domain, Workstation: workstation}
	if len(c.NTHash) != 0 {
		a.NTHash = append([]byte(nil), c.NTHash...)
	} else {
		a.Password = c.Password
	}
	return a, nil
}

// splitSMBAddr splits "host", "host:port", "[v6]" or "[v6]:port" (a bare
// IPv6 address is a host), applying the default port.
func splitSMBAddr(addr string, defPort int) (host string, port int, err error) {
	if defPort == 0 {
		defPort = DefaultSMBPort
	}
	if addr == "" {
		return "", 0, errors.New("no server address")
	}
	if ip := net.ParseIP(addr); ip != nil {
		return addr, defPort, nil
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		return addr[1 : len(addr)-1], defPort, nil
	}
	h, ps, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.ContainsAny(addr, "[]:") {
			return "", 0, fmt.Errorf("bad server address %q", addr)
		}
		return addr, defPort, nil
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 || n > 65535 || h == "" {
		return "", 0, fmt.Errorf("bad server address %q", addr)
	}
	return h, n, nil
}

// smbError classifies a failure of the SMB layer into an *Error. op is
// the client's step ("connect", "read", "write"); a *pipeclient.Error in
// err gives the SMB step and the NTSTATUS.
func smbError(ctx context.Context, op, server string, err error) *Error {
	e := &Error{Op: op, Server: server, Err: err}
	var pe *pipeclient.Error
	if errors.As(err, &pe) {
		e.NTStatus = pe.Status
	}
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		e.Kind = KindCanceled
		if !errors.Is(err, context.Canceled) {
			e.Err = fmt.Errorf("%w: %w", context.Canceled, err)
		}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind = KindTimeout
		if !errors.Is(err, context.DeadlineExceeded) {
			e.Err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// During the setup the connection's deadline is the context's, and
		// may fire a moment before the context's own timer; afterwards it
		// is the one dcerpc.Client sets from each call's context.
		e.Kind = KindTimeout
		e.Err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	case pe != nil && pe.Op == "session setup" && (isLogonStatus(pe.Status) || errors.Is(err, pipeclient.ErrNoKeys) || errors.Is(err, auth.ErrLogonFailure)):
		// The server refused the credentials, or logged them on as guest
		// or anonymous where keys are needed.
		e.Kind = KindLogonFailure
	case e.NTStatus == ntstatus.AccessDenied || e.NTStatus == ntstatus.NetworkAccessDenied:
		e.Kind = KindAccessDenied
		e.Status = session.StatusAccessDenied
	case errors.Is(err, pipeclient.ErrProtocol):
		e.Kind = KindProtocol
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), op == "connect" && pe == nil:
		e.Kind = KindUnreachable
	case op == "read" || op == "write":
		// A pipe the server closed or broke (STATUS_PIPE_BROKEN,
		// STATUS_PIPE_DISCONNECTED, ...), or a connection an earlier
		// failure broke: the connection is lost.
		e.Kind = KindUnreachable
	default:
		// No such pipe or share, an SMB1-only server, a server that
		// breaks the protocol.
		e.Kind = KindProtocol
	}
	return e
}

// Read reads bytes of the server's PDUs. When nothing is buffered it sends
// the PDU the last Write held in an FSCTL_PIPE_TRANSCEIVE, or, with none
// held, makes an SMB2 READ; either returns the next fragment whole.
func (p *SMBPipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(p.pend) == 0 {
		p.inflight.Add(1)
		defer p.inflight.Add(-1)
		if p.closed.Load() {
			return 0, smbError(context.Background(), "read", p.server, net.ErrClosed)
		}
		var n int
		var err error
		limit := min(len(p.rbuf), p.conn.MaxTransceive())
		if p.holding && len(p.held) > limit {
			// Too large for the server's transceive: WRITE, then READ.
			if err := p.flush(context.Background()); err != nil {
				return 0, err
			}
		}
		if p.holding {
			p.holding = false
			n, _, err = p.pipe.Transceive(context.Background(), p.held, p.rbuf[:limit])
		} else {
			n, _, err = p.pipe.Read(context.Background(), p.rbuf)
		}
		if err == nil && n == 0 {
			err = io.ErrNoProgress
		}
		if err != nil {
			return 0, smbError(context.Background(), "read", p.server, err)
		}
		p.pend = p.rbuf[:n]
	}
	n := copy(b, p.pend)
	p.pend = p.pend[n:]
	return n, nil
}

// Write takes b, one PDU, and holds it for the next Read's transceive. A
// PDU already held goes out first in an SMB2 WRITE.
func (p *SMBPipe) Write(b []byte) (int, error) {
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	if p.closed.Load() {
		return 0, smbError(context.Background(), "write", p.server, net.ErrClosed)
	}
	if len(b) > p.pipe.MaxWrite() {
		return 0, smbError(context.Background(), "write", p.server,
			&pipeclient.Error{Op: "write", Err: fmt.Errorf("%w: PDU of %d bytes", pipeclient.ErrTooLarge, len(b))})
	}
	if err := p.flush(context.Background()); err != nil {
		return 0, err
	}
	p.held = append(p.held[:0], b...)
	p.holding = true
	return len(b), nil
}

// flush sends a held PDU in a plain WRITE.
func (p *SMBPipe) flush(ctx context.Context) error {
	if !p.holding {
		return nil
	}
	p.holding = false
	if _, err := p.pipe.Write(ctx, p.held); err != nil {
		return smbError(ctx, "write", p.server, err)
	}
	return nil
}

// SetDeadline sets the deadline of the SMB connection for reads and
// writes; the zero time clears it. Once a deadline expires during an
// exchange the connection is unusable.
func (p *SMBPipe) SetDeadline(t time.Time) error {
	return p.conn.SetDeadline(t)
}

// Server returns the host:port the pipe is connected to.
func (p *SMBPipe) Server() string { return p.server }

// Close sends a PDU still held, closes the pipe handle, disconnects the
// tree, logs off and closes the connection, within
// SMBPipeOptions.CloseTimeout. The connection is closed in any case; the
// error is the first step that failed. A Close while a Read or Write waits
// for the server closes the connection at once, without the clean steps,
// failing that call; it returns nil. Close is idempotent.
func (p *SMBPipe) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if p.inflight.Load() > 0 {
			// A Read or Write is waiting for the server: break it. The
			// connection is closed then, and the server ends the session
			// when it sees it close: there is nothing left to send (and
			// the state a held PDU lives in is the interrupted call's).
			p.conn.Abort()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.closeT)
		defer cancel()
		p.conn.SetDeadline(time.Time{})
		var first error
		note := func(err error) {
			if err != nil && first == nil {
				first = err
			}
		}
		if p.holding {
			p.holding = false
			_, err := p.pipe.Write(ctx, p.held)
			note(err)
		}
		note(p.pipe.Close(ctx))
		note(p.conn.Close(ctx))
		p.closeErr = first
	})
	return p.closeErr
}

// smbTransport is ncacn_np: DCE/RPC in the \PIPE\srvsvc named pipe of an
// SMB2/3 session, authenticated by the SMB logon.
type smbTransport struct{}

func (smbTransport) rpcAuth() bool { return false }

func (smbTransport) open(ctx context.Context, ep endpoint, o *Options) (io.ReadWriteCloser, error) {
	port := ep.port
	if port == 0 {
		port = DefaultSMBPort
	}
	return DialSMBPipe(ctx, net.JoinHostPort(ep.host, strconv.Itoa(port)), o.Credentials, SMBPipeOptions{
		Workstation: o.Workstation,
		Dial:        o.Dial,
		AllowGuest:  o.AllowGuest,
	})
}

// isLogonStatus reports whether a session setup status means the server
// refused the credentials (rather than the connection or the protocol).
func isLogonStatus(s ntstatus.Status) bool {
	switch s {
	case ntstatus.LogonFailure, ntstatus.AccountRestriction, ntstatus.InvalidLogonHours,
		ntstatus.InvalidWorkstation, ntstatus.PasswordExpired, ntstatus.AccountDisabled,
		ntstatus.NoSuchUser, ntstatus.WrongPassword, ntstatus.AccountExpired,
		ntstatus.PasswordMustChange, ntstatus.AccountLockedOut, ntstatus.LogonTypeNotGranted,
		ntstatus.AccessDenied, ntstatus.NetworkAccessDenied:
		return true
	}
	return false
}
