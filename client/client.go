package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// LevelAuto asks Enum, EnumAll and GetInfo to find the most detailed level
// the server grants: Enum tries 502, 10, 1, 0 and GetInfo 2, 10, 1, 0,
// moving on after ERROR_INVALID_LEVEL, ERROR_NOT_SUPPORTED or
// ERROR_ACCESS_DENIED. It is not a level on the wire.
const LevelAuto session.Level = 0xFFFFFFFF

// AutoLevels is the order level auto tries for enumeration: 502 has
// everything; 10 is what the older Windows default lets any user see; 1 is
// what Samba serves; 0 is the last resort.
func AutoLevels() []session.Level {
	return []session.Level{session.Level502, session.Level10, session.Level1, session.Level0}
}

// autoGetLevels is the order for GetInfo, which has no level 502.
func autoGetLevels() []session.Level {
	return []session.Level{session.Level2, session.Level10, session.Level1, session.Level0}
}

// Credentials are whom to log on as. The zero value, like Anonymous, is a
// null session.
type Credentials struct {
	// User may be "DOMAIN\user" or "user@domain" when Domain is empty.
	User, Domain string
	// Password, or NTHash (16 bytes) to log on with the hash alone.
	Password string
	NTHash   []byte
	// Anonymous asks for a null session; User, Password and NTHash must
	// then be empty.
	Anonymous bool
	// Kerberos, when not nil, logs on over SMB with this initiator (a
	// *krb5.Mechanism) in SPNEGO; an initiator with a ForHost(host string)
	// auth.Initiator method is first given the server's host name (the
	// Kerberos one then asks for a ticket for cifs/HOST unless it names
	// its SPN). Only it is offered, so a server without
	// Kerberos fails the logon, unless NTLMFallback is set: then NTLM
	// with User and Password or NTHash is offered after it and the server
	// chooses. Over TCP an initiator with a DCEForHost(host string,
	// confidential bool) auth.Initiator method (the Kerberos one) speaks DCE-style Kerberos
	// (a ticket for host/HOST unless it names its SPN) under auth type 16,
	// or in SPNEGO (9) with Options.SPNEGO or NTLMFallback; any other
	// initiator is refused there (ErrKerberosTransport), or, with
	// NTLMFallback, NTLM is used.
	Kerberos auth.Initiator
	// NTLMFallback offers NTLM after Kerberos; see Kerberos.
	NTLMFallback bool
}

// ErrKerberosTransport: Kerberos was asked for over ncacn_ip_tcp with an
// initiator that cannot speak DCE-style Kerberos (one without a
// DCEForHost method); it may work over SMB (TransportSMB).
var ErrKerberosTransport = errors.New("client: this Kerberos initiator does not speak DCE-style Kerberos for ncacn_ip_tcp: use transport smb")

// IsAnonymous reports whether c makes a null session.
func (c Credentials) IsAnonymous() bool { return c.Kerberos == nil && (c.Anonymous || c.User == "") }

// ParseNTHash parses 32 hex digits, or impacket's LMHASH:NTHASH form.
func ParseNTHash(s string) ([]byte, error) {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("client: NT hash must be 32 hex digits")
	}
	return b, nil
}

func (c Credentials) validate() error {
	if c.Anonymous && (c.User != "" || c.Password != "" || len(c.NTHash) > 0) {
		return fmt.Errorf("client: anonymous credentials with a user, password or hash")
	}
	if len(c.NTHash) != 0 && len(c.NTHash) != 16 {
		return fmt.Errorf("client: NT hash of %d bytes, want 16", len(c.NTHash))
	}
	if c.Kerberos != nil && c.Anonymous {
		return fmt.Errorf("client: anonymous credentials with Kerberos")
	}
	return nil
}

// ntlm returns the NTLM initiator configuration for c.
func (c Credentials) ntlm(workstation string) *ntlm.Client {
	user, domain := c.User, c.Domain
	if domain == "" {
		user, domain = ntlm.SplitUser(user)
	}
	return &ntlm.Client{User: user, Domain: domain, Password: c.Password, NTHash: c.NTHash, Workstation: workstation}
}

// MapperFunc asks the endpoint mapper listening at addr (HOST:PORT) for
// the TCP port of the srvsvc interface.
type MapperFunc func(ctx context.Context, addr string) (port int, err error)

// Options configure Dial. The zero value opens \PIPE\srvsvc over SMB
// (port 445 unless the server names one) with a null session and no
// deadlines.
type Options struct {
	// Transport is TransportSMB or TransportTCP; "" is DefaultTransport
	// (SMB).
	Transport string
	// Credentials to log on with.
	Credentials Credentials
	// Auth is the DCE/RPC protection over TCP: dcerpc.AuthLevelNone,
	// AuthLevelConnect, AuthLevelIntegrity or AuthLevelPrivacy. 0 means
	// integrity with credentials, none for a null session. It is ignored
	// over SMB, where the SMB session protects the pipe.
	Auth dcerpc.AuthLevel
	// SPNEGO wraps NTLMSSP or Kerberos in SPNEGO (auth type 9) instead of
	// raw NTLMSSP (auth type 10) or DCE-style Kerberos (16).
	SPNEGO bool
	// AllowGuest accepts, over SMB, a logon the server maps to its guest
	// account (an unknown user on Samba with "map to guest = bad user").
	// Such a session is unsigned and cannot be told from a forgery; by
	// default it fails with KindLogonFailure (see DialSMBPipe).
	AllowGuest bool
	// Workstation is the name sent in the NTLM AUTHENTICATE message.
	Workstation string
	// Timeout bounds each network exchange: connecting and binding, and
	// every NetrSessionEnum or NetrSessionDel call (each page of an
	// enumeration separately). 0 means no deadline beyond the context's.
	Timeout time.Duration
	// PrefMaxLen is the preferred maximum length of one NetrSessionEnum
	// answer in bytes; 0 means everything in one call. A small value makes
	// the server page.
	PrefMaxLen uint32
	// Mapper finds the port over TCP when the server names none; nil
	// asks the endpoint mapper with package epm (ept_map). MapperAddr is
	// where the mapper listens (default HOST:135).
	Mapper     MapperFunc
	MapperAddr string
	// Dial opens network connections; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives debug records of the exchange; nil discards.
	Logger *slog.Logger
}

func (o *Options) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if o.Dial != nil {
		return o.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Client is a connection to one server's srvsvc interface. Its methods
// may be called from several goroutines; calls are serialised on the
// connection.
type Client struct {
	server string
	opts   Options
	rpc    *dcerpc.Client
	stub   *srvs.Client
	log    *slog.Logger
	// count counts the stream's bytes for debug records; nil when they
	// are off.
	count *counter
	// unconfirmed is true while DCE/RPC authentication has not been
	// confirmed by an answered call (NTLMSSP ends with auth3, which the
	// server does not answer).
	unconfirmed atomic.Bool
	// mech is the mechanism that authenticated the connection.
	mech auth.Mechanism
}

// Mechanism returns the security mechanism that authenticated the
// connection: auth.MechNTLM, auth.MechKerberos or auth.MechMSKerberos;
// "" for a null session.
func (c *Client) Mechanism() auth.Mechanism { return c.mech }

// Dial connects to server (HOST, HOST:PORT, [IPv6]:PORT), binds the srvsvc
// interface and authenticates. Without a port, TCP asks the endpoint
// mapper and SMB uses 445. Errors are *Error.
func Dial(ctx context.Context, server string, opts Options) (*Client, error) {
	fail := func(op string, err error, authed bool) (*Client, error) {
		return nil, wrapError(ctx, op, server, err, authed)
	}
	ep, err := splitServer(server)
	if err != nil {
		return nil, err
	}
	if err := opts.Credentials.validate(); err != nil {
		return nil, err
	}
	tr, err := transportFor(opts.Transport)
	if err != nil {
		return nil, err
	}
	var dcfg dcerpc.ClientConfig
	authed := false
	used := new(usedMech)
	if tr.rpcAuth() {
		level := opts.Auth
		if level == 0 {
			level = dcerpc.AuthLevelIntegrity
			if opts.Credentials.IsAnonymous() {
				level = dcerpc.AuthLevelNone
			}
		}
		if opts.Credentials.Kerberos != nil {
			if level == dcerpc.AuthLevelNone {
				return nil, fmt.Errorf("client: Kerberos over ncacn_ip_tcp needs auth level connect, integrity or privacy")
			}
			ini, ok, err := tcpKerberos(ctx, ep.host, &opts, level, used)
			switch {
			case err != nil && errors.Is(err, auth.ErrLogonFailure):
				return nil, &Error{Kind: KindLogonFailure, Op: "connect", Server: server, Err: err}
			case err != nil:
				return nil, wrapError(ctx, "connect", server, err, true)
			case ok:
				dcfg.Auth, dcfg.AuthContextID = ini, 1
				authed = true
			case !opts.Credentials.NTLMFallback:
				return nil, &Error{Kind: KindLogonFailure, Op: "connect", Server: server, Err: ErrKerberosTransport}
			default:
				opts.logger().Debug("this Kerberos initiator does not speak DCE-style Kerberos: using NTLM", "server", server)
				opts.Credentials.Kerberos = nil
			}
		}
		if level != dcerpc.AuthLevelNone && !authed {
			typ := dcerpc.AuthTypeNTLM
			if opts.SPNEGO {
				typ = dcerpc.AuthTypeSPNEGO
			}
			ini, err := rpcauth.Initiator(ctx, opts.Credentials.ntlm(opts.Workstation), typ, level)
			if err != nil {
				return nil, fmt.Errorf("client: %w", err)
			}
			dcfg.Auth, dcfg.AuthContextID = ini, 1
			authed = true
		}
	}
	cctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	log := opts.logger()
	start := time.Now()
	stream, err := tr.open(cctx, ep, &opts)
	if err != nil {
		return fail("connect", err, false)
	}
	log.Debug("connected", "server", server, "transport", cmpOr(opts.Transport, DefaultTransport), "duration", time.Since(start).Round(time.Microsecond))
	raw := stream
	stream, count := counted(ctx, log, stream)
	rpc := dcerpc.NewClient(stream, dcfg)
	start = time.Now()
	stub, err := srvs.Bind(cctx, rpc)
	if err != nil {
		stream.Close()
		return fail("bind", err, authed)
	}
	log.Debug("bound", "server", server, "duration", time.Since(start).Round(time.Microsecond))
	logProtection(ctx, log, server, raw, &opts, rpc, used.get())
	// The SRVSVC_HANDLE: servers ignore it, but real clients send the
	// server's name in UNC form, and so do we.
	stub.ServerName = UNC(ep.host)
	if strings.Contains(ep.host, ":") {
		stub.ServerName = `\[` + ep.host + `]`
	}
	stub.MaxPages = maxPages
	c := &Client{server: server, opts: opts, rpc: rpc, stub: stub, log: log, count: count}
	if p, ok := raw.(*SMBPipe); ok {
		c.mech = p.Mechanism()
	} else if authed {
		c.mech = used.get()
		if c.mech == "" {
			c.mech = auth.MechNTLM
		}
	}
	c.unconfirmed.Store(authed)
	return c, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// Server returns the server as given to Dial.
func (c *Client) Server() string { return c.server }

// Close closes the connection.
func (c *Client) Close() error { return c.rpc.Close() }

// call runs one exchange under the per-call deadline and classifies its
// error. level is the call's SESSION_INFO level, for the debug record.
func (c *Client) call(ctx context.Context, op string, level callLevel, f func(ctx context.Context) error) *Error {
	cctx, cancel := withTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var sent, recv int64
	if c.count != nil {
		sent, recv = c.count.sent.Load(), c.count.recv.Load()
	}
	start := time.Now()
	err := f(cctx)
	c.logCall(ctx, op, level, start, sent, recv, err)
	if err == nil {
		c.unconfirmed.Store(false)
		return nil
	}
	e := wrapError(ctx, op, c.server, err, c.unconfirmed.Load())
	if e.IsStatus() {
		c.unconfirmed.Store(false)
	}
	if e.Kind == KindLogonFailure && e.Fault == dcerpc.StatusAccessDenied && c.opts.Auth == dcerpc.AuthLevelConnect {
		// A refused level and a refused logon look the same: report the
		// fault, and say that either may be the cause.
		e.Kind = KindFault
		e.Err = fmt.Errorf("%w: %w", ErrConnectLevel, e.Err)
	}
	return e
}

// Filter qualifies an enumeration; empty fields do not qualify.
type Filter struct {
	// Client: sessions from this client only. A missing leading `\\`
	// is added.
	Client string
	// User: sessions of this user only. Either side may carry a domain
	// ("DOMAIN\user", as a Samba AD DC reports its users): "alice"
	// matches "alice" and "CORP\alice", and "CORP\alice" matches both
	// too, but not "OTHER\alice". The server is asked for the bare
	// name, which is what Windows keeps.
	User string
	// NoMachineAccounts leaves out the sessions of machine accounts (user
	// names ending in $); it is applied by the client alone.
	NoMachineAccounts bool
}

// userMatches reports whether a session's user name passes the user
// filter want (see Filter.User); names compare case-insensitively.
func userMatches(got, want string) bool {
	if want == "" || strings.EqualFold(got, want) {
		return true
	}
	gd, gu, gotDom := strings.Cut(got, `\`)
	wd, wu, wantDom := strings.Cut(want, `\`)
	if !gotDom {
		gu = gd
	}
	if !wantDom {
		wu = wd
	}
	if !strings.EqualFold(gu, wu) {
		return false
	}
	return !gotDom || !wantDom || strings.EqualFold(gd, wd)
}

// bareUser is the user name without its domain.
func bareUser(u string) string {
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		return u[i+1:]
	}
	return u
}

// UNC returns name with a leading `\\`, as the protocol wants client
// names; "" stays "".
func UNC(name string) string {
	if name == "" || strings.HasPrefix(name, `\\`) {
		return name
	}
	return `\\` + name
}

// Session is one session as a server reported it, with the level that
// answered: the fields that level does not carry are zero (see
// Level.Fields to tell a zero that was sent from one that was not).
type Session struct {
	session.Info
	Level session.Level
	// Received is when the answer that carried the session arrived: the
	// instant Time and IdleTime count back from.
	Received time.Time
}

// ClientHost returns the client name without `\\`, IPv6 brackets or zone.
func (s Session) ClientHost() string { return session.NormalizeClient(s.ClientName) }

// Result is the outcome of EnumAll.
type Result struct {
	// Level is the level that answered (for LevelAuto, the first one the
	// server granted).
	Level    session.Level
	Sessions []Session
	// Tried lists the levels auto tried before Level and why each was
	// refused.
	Tried []Attempt
	// Pages is the number of NetrSessionEnum calls that returned entries
	// or completed the enumeration at Level.
	Pages int
}

// maxPages bounds one enumeration against a server that keeps answering
// ERROR_MORE_DATA (the stub's MaxPages).
const maxPages = 1 << 20

// Enum lists the sessions at level (0, 1, 2, 10, 502 or LevelAuto) that
// pass f, calling NetrSessionEnum as many times as the server pages. With
// a filter, a not-found status is an empty list, not an error. On failure
// the iterator yields one zero Session with an *Error and stops.
func (c *Client) Enum(ctx context.Context, level session.Level, f Filter) iter.Seq2[Session, error] {
	return func(yield func(Session, error) bool) {
		_, err := c.enum(ctx, level, f, func(s Session) bool { return yield(s, nil) }, nil)
		if err != nil {
			yield(Session{}, err)
		}
	}
}

// EnumAll is Enum collected: every session, the level that answered and
// the levels auto tried. On failure it returns what was read before it
// with the *Error.
func (c *Client) EnumAll(ctx context.Context, level session.Level, f Filter) (*Result, error) {
	var out []Session
	// Room for each page's entries is made once, not by appending.
	grow := func(n int) { out = slices.Grow(out, n) }
	res, err := c.enum(ctx, level, f, func(s Session) bool { out = append(out, s); return true }, grow)
	res.Sessions = out
	if err != nil {
		return res, err
	}
	return res, nil
}

// enum runs Enum; grow, when not nil, is told how many entries a page
// brings before they are yielded.
func (c *Client) enum(ctx context.Context, level session.Level, f Filter, yield func(Session) bool, grow func(n int)) (*Result, error) {
	levels := []session.Level{level}
	if level == LevelAuto {
		levels = AutoLevels()
	}
	res := &Result{Level: levels[0]}
	for i, l := range levels {
		res.Level = l
		err := c.enumLevel(ctx, l, f, res, yield, grow)
		if err == nil {
			return res, nil
		}
		if i < len(levels)-1 && fallback(err) && res.Pages == 0 {
			c.log.Debug("level refused, trying the next", "server", c.server, "level", l, "status", statusName(err.Status))
			res.Tried = append(res.Tried, Attempt{Level: l, Status: err.Status})
			continue
		}
		return res, autoError(err, res.Tried)
	}
	panic("unreachable")
}

// autoError completes the error that ended level auto: Tried lists every
// level tried, and when the last level was refused as invalid or not
// supported after an earlier one was denied, the denial is what is
// reported, since it says more about why nothing came back.
func autoError(err *Error, before []Attempt) *Error {
	if len(before) == 0 {
		return err
	}
	if fallback(err) {
		err.Tried = append(append([]Attempt(nil), before...), Attempt{Level: err.Level, Status: err.Status})
		if err.Kind != KindAccessDenied {
			for _, a := range before {
				if a.Status == session.StatusAccessDenied {
					err.Kind, err.Status, err.Level = KindAccessDenied, a.Status, a.Level
					err.Err = &srvs.StatusError{Op: "NetrSessionEnum", Level: uint32(a.Level), Status: a.Status}
					break
				}
			}
		}
		return err
	}
	err.Tried = append([]Attempt(nil), before...)
	return err
}

// fallback reports whether level auto moves on after err.
func fallback(err *Error) bool {
	switch err.Kind {
	case KindAccessDenied, KindInvalidLevel, KindNotSupported:
		return true
	}
	return false
}

// enumLevel pages through one level with the stub's Pager, each call
// under its own deadline. Pages counts successful pages. On top of the
// pager it checks the level of every answer, applies the filter locally
// (Samba ignores the qualifiers), and takes a not-found status on the
// first page of a filtered enumeration for an empty list.
func (c *Client) enumLevel(ctx context.Context, level session.Level, f Filter, res *Result, yield func(Session) bool, grow func(n int)) *Error {
	budget := c.opts.PrefMaxLen
	if budget == 0 {
		budget = session.MaxPreferredLength
	}
	filtered := f.Client != "" || f.User != ""
	p := c.stub.Pager(level, UNC(f.Client), bareUser(f.User), budget)
	for !p.Done() {
		var page *srvs.SessionEnumResponse
		if e := c.call(ctx, "NetrSessionEnum", callLevel{uint32(level), true}, func(ctx context.Context) error {
			var err error
			page, err = p.Next(ctx)
			var se *srvs.StatusError
			if filtered && res.Pages == 0 && errors.As(err, &se) && statusKind(se.Status) == KindNotFound {
				return nil // nothing matches: page has no entries, and p is done
			}
			return err
		}); e != nil {
			if !e.HasLevel {
				e.Level, e.HasLevel = level, true
			}
			return e
		}
		if page.Level != level {
			return &Error{Kind: KindProtocol, Op: "NetrSessionEnum", Server: c.server, Level: level, HasLevel: true,
				Err: fmt.Errorf("client: answer at level %d for a call at level %d", page.Level, level)}
		}
		res.Pages++
		received := time.Now()
		c.log.Debug("page", "server", c.server, "level", uint32(level), "page", res.Pages, "entries", len(page.Entries), "total", page.TotalEntries, "more", !p.Done())
		if grow != nil {
			grow(len(page.Entries))
		}
		for i := range page.Entries {
			// Samba ignores the qualifiers and answers every session:
			// apply them here too (a no-op against servers that honour them).
			if filtered && !matches(&page.Entries[i], level, f) {
				continue
			}
			if f.NoMachineAccounts && strings.HasSuffix(page.Entries[i].UserName, "$") {
				continue
			}
			if !yield(Session{Info: page.Entries[i], Level: level, Received: received}) {
				return nil
			}
		}
	}
	return nil
}

// matches applies f to one entry at level: the client as the session
// package compares it, the user as userMatches does (when the level
// carries the field).
func matches(in *session.Info, level session.Level, f Filter) bool {
	if !in.Matches(level, f.Client, "") {
		return false
	}
	return !level.Fields().Has(session.FieldUserName) || userMatches(in.UserName, f.User)
}

// GetInfo is NetSessionGetInfo: the first session from client (a missing
// `\\` is added) for user, at level 0, 1, 2, 10 or LevelAuto (2, 10, 1, 0).
// No match is an *Error of KindNotFound.
func (c *Client) GetInfo(ctx context.Context, client, user string, level session.Level) (Session, error) {
	levels := []session.Level{level}
	if level == LevelAuto {
		levels = autoGetLevels()
	}
	var tried []Attempt
	for i, l := range levels {
		var in srvs.SessionInfo
		e := c.call(ctx, "NetrSessionEnum", callLevel{uint32(l), true}, func(ctx context.Context) error {
			var err error
			in, err = c.stub.GetInfo(ctx, UNC(client), user, l)
			return err
		})
		if e == nil {
			return Session{Info: in, Level: l, Received: time.Now()}, nil
		}
		if !e.HasLevel {
			e.Level, e.HasLevel = l, true
		}
		if i == len(levels)-1 || !fallback(e) {
			return Session{}, autoError(e, tried)
		}
		tried = append(tried, Attempt{Level: l, Status: e.Status})
	}
	panic("unreachable")
}

// Delete is NetSessionDel: it closes every session from client (a missing
// `\\` is added) of user; one of the two may be empty, not both.
func (c *Client) Delete(ctx context.Context, client, user string) error {
	if client == "" && user == "" {
		// Refused locally: Samba would close every session.
		return &Error{Kind: KindStatus, Op: "NetrSessionDel", Server: c.server, Status: session.StatusInvalidParameter,
			Err: &srvs.StatusError{Op: "NetrSessionDel", Status: session.StatusInvalidParameter}}
	}
	if e := c.call(ctx, "NetrSessionDel", callLevel{}, func(ctx context.Context) error {
		return c.stub.Delete(ctx, UNC(client), user)
	}); e != nil {
		return e
	}
	return nil
}

var _ io.Closer = (*Client)(nil)
