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
	"time"

	"github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
)

// DCE/RPC over an SMB2 named pipe (ncacn_np).
//
// Real servers (Windows, Samba) serve srvsvc only on the \PIPE\srvsvc named
// pipe of the IPC$ share. The SMB2/3 client is github.com/cloudsoda/go-smb2;
// this file turns one of its pipe handles into the byte stream package
// dcerpc runs on. Design decisions:
//
//   - One PDU, one SMB2 WRITE. dcerpc.Client writes every PDU with a single
//     Write, so a write never splits or joins PDUs on the pipe.
//   - Every SMB2 READ asks for 65,536 bytes, more than any DCE/RPC fragment
//     (frag_length is 16 bits), so one READ returns one whole fragment.
//     A smaller READ would be answered with STATUS_BUFFER_OVERFLOW, which
//     go-smb2 reports as an error and drops the data with it. The fragment
//     lands in an internal buffer and Read serves the caller's small reads
//     (dcerpc reads a 16-byte header, then the rest) from there.
//   - A call costs one SMB2 WRITE exchange plus one READ per response
//     fragment, where Windows' own client and Samba's rpcclient send the
//     request in an FSCTL_PIPE_TRANSCEIVE ioctl whose answer carries the
//     first fragment: one round trip fewer per call. go-smb2 keeps its
//     ioctl unexported. Against Samba on loopback the WRITE exchange is
//     about 0.13 ms of a 0.31 ms call that returns an error status, and
//     lost in the noise of a 3 ms enumeration of 200 sessions; over a
//     network it is one round-trip time per call.
//   - The SMB logon is the caller's identity on the pipe: no DCE/RPC
//     authentication is needed on top (servers accept auth level none on
//     ncacn_np).
//   - Deadlines: SMBPipe has SetDeadline, which sets the TCP connection's
//     deadline. dcerpc.Client applies each call's context through it, and a
//     cancelled context sets a deadline in the past. A deadline that expires
//     breaks the SMB connection (go-smb2's receiver stops), which is the
//     intended outcome: an interrupted exchange leaves the pipe at an unknown
//     position anyway.
//   - Signing and encryption follow what the server asks for (go-smb2 signs
//     when the server requires it and encrypts when the session or share
//     says so). Guest and anonymous sessions cannot sign; a server that
//     requires signing refuses them. There is no option to insist on
//     signing when the server does not require it: go-smb2 checks that
//     demand against the first session setup answer only, so a server that
//     maps an unknown user to guest on the last leg would still yield an
//     unsigned guest session, and the option would promise what it cannot
//     hold.

// DefaultSMBPort is the TCP port of SMB over TCP (direct hosting).
const DefaultSMBPort = 445

// pipeReadSize is the size of every SMB2 READ on the pipe.
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
}

// SMBError is the SMB-level detail of a transport failure: which step
// failed and the NTSTATUS the server answered, if any. DialSMBPipe and the
// pipe's Read and Write return it inside an *Error that carries the Kind
// (unreachable, timeout, canceled, logon failure, access denied,
// protocol). errors.Is sees through both to the cause: context errors, an
// expired deadline (os.ErrDeadlineExceeded), the net package's errors.
type SMBError struct {
	Op     string // "connect", "logon", "tree connect", "open", "read", "write", "close"
	Server string // host:port
	Status uint32 // the NTSTATUS the server answered, 0 if none
	Err    error
}

func (e *SMBError) Error() string {
	var b strings.Builder
	b.WriteString("smb ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		if name := ntStatusName(e.Status); name != "" {
			fmt.Fprintf(&b, ": %s (0x%08X)", name, e.Status)
		} else {
			fmt.Fprintf(&b, ": NTSTATUS 0x%08X", e.Status)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *SMBError) Unwrap() error { return e.Err }

// SMBPipe is an open named pipe on an SMB server, used as the byte stream
// of a DCE/RPC association. Write sends one PDU per call; Read returns the
// bytes of the fragments the server sends, in order. It is not safe for
// concurrent Reads or concurrent Writes (dcerpc.Client serialises its
// calls).
type SMBPipe struct {
	server string
	conn   net.Conn
	sess   *smb2.Session
	share  *smb2.Share
	file   *smb2.File
	cancel context.CancelFunc
	closeT time.Duration

	rbuf []byte // the SMB2 READ buffer, pipeReadSize bytes
	pend []byte // unread part of the last fragment, aliases rbuf

	closeOnce sync.Once
	closeErr  error
}

// DialSMBPipe connects to the SMB server at addr ("host", "host:port",
// "[v6]" or "[v6]:port"), logs on with cred, tree connects to \\host\IPC$
// and opens the named pipe (srvsvc unless opt.Pipe says otherwise). ctx
// bounds the whole setup; it does not outlive DialSMBPipe.
//
// cred.User may be "DOMAIN\user" or "user@domain" when cred.Domain is empty.
// A user the server does not know may be mapped to its guest account
// (Samba's "map to guest = bad user"); the logon then succeeds as guest.
//
// Errors are *Error (Kind unreachable, timeout, canceled, logon failure,
// access denied or protocol) wrapping an *SMBError.
func DialSMBPipe(ctx context.Context, addr string, cred Credentials, opt SMBPipeOptions) (*SMBPipe, error) {
	host, port, err := splitSMBAddr(addr, opt.Port)
	if err != nil {
		return nil, &Error{Kind: KindProtocol, Op: "connect", Server: addr, Err: err}
	}
	server := net.JoinHostPort(host, strconv.Itoa(port))
	ini, err := smbInitiator(cred, opt.Workstation)
	if err != nil {
		return nil, &Error{Kind: KindLogonFailure, Op: "connect", Server: server,
			Err: &SMBError{Op: "logon", Server: server, Err: err}}
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
	conn, err := dial(ctx, "tcp", server)
	if err != nil {
		return nil, smbError(ctx, "connect", server, err)
	}
	// The context bounds the setup through the connection's deadline, so
	// that every step (negotiate, logon, tree connect, create) is covered
	// whatever go-smb2 does with ctx.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		conn.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	// go-smb2 runs share and file operations on the context given to
	// WithContext; life ends them when the pipe is closed.
	life, cancel := context.WithCancel(context.Background())
	p := &SMBPipe{server: server, conn: conn, closeT: opt.CloseTimeout, cancel: cancel}
	if p.closeT <= 0 {
		p.closeT = 5 * time.Second
	}
	fail := func(op string, err error) (*SMBPipe, error) {
		if !stop() {
			<-fired
		}
		p.abort()
		return nil, smbError(ctx, op, server, err)
	}

	dialer := &smb2.Dialer{
		Initiator: ini,
	}
	sess, err := dialer.DialConn(ctx, conn, host)
	if err != nil {
		return fail("logon", err)
	}
	p.sess = sess.WithContext(life)
	share, err := p.sess.Mount(`\\` + host + `\IPC$`)
	if err != nil {
		return fail("tree connect", err)
	}
	p.share = share.WithContext(life)
	f, err := p.share.OpenFile(pipe, os.O_RDWR, 0)
	if err != nil {
		return fail("open", err)
	}
	p.file = f
	if !stop() {
		<-fired
	}
	if err := ctx.Err(); err != nil {
		p.abort()
		return nil, smbError(ctx, "open", server, err)
	}
	conn.SetDeadline(time.Time{})
	p.rbuf = make([]byte, pipeReadSize)
	return p, nil
}

// smbInitiator builds go-smb2's NTLM initiator from the credentials.
func smbInitiator(c Credentials, workstation string) (*smb2.NTLMInitiator, error) {
	if c.Anonymous || c.User == "" {
		if c.User != "" || c.Password != "" || len(c.NTHash) != 0 {
			return nil, errors.New("anonymous logon with a user, password or hash")
		}
		return &smb2.NTLMInitiator{Workstation: workstation}, nil
	}
	if len(c.NTHash) != 0 && len(c.NTHash) != 16 {
		return nil, fmt.Errorf("NT hash of %d bytes, want 16", len(c.NTHash))
	}
	user, domain := c.User, c.Domain
	if domain == "" {
		user, domain = ntlm.SplitUser(user)
	}
	ini := &smb2.NTLMInitiator{User: user, Domain: domain, Workstation: workstation}
	if len(c.NTHash) != 0 {
		ini.Hash = append([]byte(nil), c.NTHash...)
	} else {
		ini.Password = c.Password
	}
	return ini, nil
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

// smbError classifies a failure of step op into an *Error wrapping an
// *SMBError.
func smbError(ctx context.Context, op, server string, err error) *Error {
	se := &SMBError{Op: op, Server: server, Err: smbCause(err)}
	var re *smb2.ResponseError
	switch {
	case errors.As(err, &re):
		se.Status = re.Code
	case errors.Is(err, os.ErrPermission):
		// go-smb2 turns STATUS_ACCESS_DENIED into os.ErrPermission and
		// the name-not-found statuses into os.ErrNotExist.
		se.Status = statusAccessDenied
	case errors.Is(err, os.ErrNotExist):
		se.Status = statusObjectNameNotFound
	}
	e := &Error{Op: "connect", Server: server, Err: se}
	if op == "read" || op == "write" {
		e.Op = op
	}
	var te *smb2.TransportError
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		e.Kind = KindCanceled
		se.Err = fmt.Errorf("%w: %w", context.Canceled, se.Err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind = KindTimeout
		se.Err = fmt.Errorf("%w: %w", context.DeadlineExceeded, se.Err)
	case errors.Is(se.Err, os.ErrDeadlineExceeded):
		// During the setup the connection's deadline is the context's, and
		// may fire a moment before the context's own timer; afterwards it
		// is the one dcerpc.Client sets from each call's context.
		e.Kind = KindTimeout
		se.Err = fmt.Errorf("%w: %w", context.DeadlineExceeded, se.Err)
	case op == "logon" && (isLogonStatus(se.Status) || isRefusedSetup(err)):
		e.Kind = KindLogonFailure
	case se.Status == statusAccessDenied || se.Status == statusNetworkAccessDenied:
		e.Kind = KindAccessDenied
		e.Status = session.StatusAccessDenied
	case errors.As(err, &te), errors.As(err, &ne), op == "connect":
		e.Kind = KindUnreachable
	case op == "read" || op == "write":
		// A pipe the server closed or broke (STATUS_PIPE_BROKEN,
		// STATUS_PIPE_DISCONNECTED, ...): the connection is lost.
		e.Kind = KindUnreachable
	default:
		// No such pipe or share, an SMB1-only server, an answer go-smb2
		// cannot use.
		e.Kind = KindProtocol
	}
	return e
}

// isRefusedSetup recognises go-smb2's report of a first session setup
// response that is neither MORE_PROCESSING_REQUIRED nor SUCCESS: the server
// refused the logon at once. go-smb2 reports it as an InvalidResponseError
// carrying only text.
func isRefusedSetup(err error) bool {
	var ie *smb2.InvalidResponseError
	return errors.As(err, &ie) && strings.HasPrefix(ie.Message, "expected status:")
}

// smbCause exposes the cause go-smb2 hides: its TransportError has no
// Unwrap, so errors.Is(err, os.ErrDeadlineExceeded) would not see an
// expired deadline through it.
func smbCause(err error) error {
	var te *smb2.TransportError
	if errors.As(err, &te) && te.Err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return &os.PathError{Op: pe.Op, Path: pe.Path, Err: te.Err}
		}
		return te.Err
	}
	return err
}

// Read reads bytes of the server's PDUs. When nothing is buffered it makes
// one SMB2 READ of 65,536 bytes, which returns the next fragment whole.
func (p *SMBPipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(p.pend) == 0 {
		n, err := p.file.Read(p.rbuf)
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, smbError(context.Background(), "read", p.server, err)
		}
		p.pend = p.rbuf[:n]
	}
	n := copy(b, p.pend)
	p.pend = p.pend[n:]
	return n, nil
}

// Write sends b, one PDU, in one SMB2 WRITE.
func (p *SMBPipe) Write(b []byte) (int, error) {
	n, err := p.file.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, smbError(context.Background(), "write", p.server, err)
	}
	return n, nil
}

// SetDeadline sets the deadline of the SMB connection for reads and
// writes; the zero time clears it. Once a deadline expires the connection
// is unusable.
func (p *SMBPipe) SetDeadline(t time.Time) error {
	return p.conn.SetDeadline(t)
}

// Server returns the host:port the pipe is connected to.
func (p *SMBPipe) Server() string { return p.server }

// Close closes the pipe handle, disconnects the tree, logs off and closes
// the connection, within SMBPipeOptions.CloseTimeout. The connection is
// closed in any case; the error is the first step that failed. Close is
// idempotent.
func (p *SMBPipe) Close() error {
	p.closeOnce.Do(func() {
		p.conn.SetDeadline(time.Now().Add(p.closeT))
		var first error
		note := func(op string, err error) {
			if err != nil && first == nil {
				first = &SMBError{Op: op, Server: p.server, Err: smbCause(err)}
			}
		}
		note("close", p.file.Close())
		note("tree disconnect", p.share.Umount())
		note("logoff", p.sess.Logoff()) // also closes go-smb2's transport
		p.cancel()
		if err := p.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			note("close", err)
		}
		p.closeErr = first
	})
	return p.closeErr
}

// abort tears down a half-built pipe without waiting for the server.
func (p *SMBPipe) abort() {
	p.closeOnce.Do(func() {
		p.conn.SetDeadline(time.Unix(1, 0))
		if p.sess != nil {
			p.sess.Logoff() // stops go-smb2's goroutines
		}
		p.cancel()
		p.conn.Close()
		p.closeErr = net.ErrClosed
	})
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
	})
}

// NTSTATUS values the transport names or classifies.
const (
	statusAccessDenied        uint32 = 0xC0000022
	statusObjectNameNotFound  uint32 = 0xC0000034
	statusObjectPathNotFound  uint32 = 0xC000003A
	statusNoSuchUser          uint32 = 0xC0000064
	statusWrongPassword       uint32 = 0xC000006A
	statusLogonFailure        uint32 = 0xC000006D
	statusAccountRestriction  uint32 = 0xC000006E
	statusInvalidLogonHours   uint32 = 0xC000006F
	statusInvalidWorkstation  uint32 = 0xC0000070
	statusPasswordExpired     uint32 = 0xC0000071
	statusAccountDisabled     uint32 = 0xC0000072
	statusNetworkAccessDenied uint32 = 0xC00000CA
	statusBadNetworkName      uint32 = 0xC00000CC
	statusLogonTypeNotGranted uint32 = 0xC000015B
	statusAccountExpired      uint32 = 0xC0000193
	statusPasswordMustChange  uint32 = 0xC0000224
	statusAccountLockedOut    uint32 = 0xC0000234
	statusPipeBroken          uint32 = 0xC000014B
	statusPipeDisconnected    uint32 = 0xC00000B0
)

func ntStatusName(s uint32) string {
	switch s {
	case statusAccessDenied:
		return "STATUS_ACCESS_DENIED"
	case statusObjectNameNotFound:
		return "STATUS_OBJECT_NAME_NOT_FOUND"
	case statusObjectPathNotFound:
		return "STATUS_OBJECT_PATH_NOT_FOUND"
	case statusNoSuchUser:
		return "STATUS_NO_SUCH_USER"
	case statusWrongPassword:
		return "STATUS_WRONG_PASSWORD"
	case statusLogonFailure:
		return "STATUS_LOGON_FAILURE"
	case statusAccountRestriction:
		return "STATUS_ACCOUNT_RESTRICTION"
	case statusInvalidLogonHours:
		return "STATUS_INVALID_LOGON_HOURS"
	case statusInvalidWorkstation:
		return "STATUS_INVALID_WORKSTATION"
	case statusPasswordExpired:
		return "STATUS_PASSWORD_EXPIRED"
	case statusAccountDisabled:
		return "STATUS_ACCOUNT_DISABLED"
	case statusNetworkAccessDenied:
		return "STATUS_NETWORK_ACCESS_DENIED"
	case statusBadNetworkName:
		return "STATUS_BAD_NETWORK_NAME"
	case statusLogonTypeNotGranted:
		return "STATUS_LOGON_TYPE_NOT_GRANTED"
	case statusAccountExpired:
		return "STATUS_ACCOUNT_EXPIRED"
	case statusPasswordMustChange:
		return "STATUS_PASSWORD_MUST_CHANGE"
	case statusAccountLockedOut:
		return "STATUS_ACCOUNT_LOCKED_OUT"
	case statusPipeBroken:
		return "STATUS_PIPE_BROKEN"
	case statusPipeDisconnected:
		return "STATUS_PIPE_DISCONNECTED"
	}
	return ""
}

// isLogonStatus reports whether a session setup status means the server
// refused the credentials (rather than the connection or the protocol).
func isLogonStatus(s uint32) bool {
	switch s {
	case statusLogonFailure, statusAccountRestriction, statusInvalidLogonHours,
		statusInvalidWorkstation, statusPasswordExpired, statusAccountDisabled,
		statusNoSuchUser, statusWrongPassword, statusAccountExpired,
		statusPasswordMustChange, statusAccountLockedOut, statusLogonTypeNotGranted,
		statusAccessDenied, statusNetworkAccessDenied:
		return true
	}
	return false
}
