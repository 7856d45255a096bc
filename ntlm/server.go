package ntlm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	authn "github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/session"
)

// DefaultTimestampWindow is how far the client's NTLMv2 timestamp may be
// from the acceptor's clock, in either direction, when Server names no
// window. It is the MaxLifetime Windows applies (36 hours): clients copy
// the MsvAvTimestamp of our CHALLENGE into their response, so honest
// clients land within milliseconds, and only clients that fill in their own
// clock need the slack. Replays are stopped by the single-use challenge,
// not by this window.
const DefaultTimestampWindow = 36 * time.Hour

// Server is an NTLM acceptor configuration. Its zero value plus Accounts is
// usable; fields are read, never written, by contexts, so one Server serves
// any number of concurrent contexts.
type Server struct {
	// Accounts is the local account database. Nil means no accounts:
	// only anonymous logons (and guest, never, as guest needs Accounts)
	// succeed.
	Accounts *Accounts
	// ComputerName is the NetBIOS computer name put in the CHALLENGE
	// (TargetName and MsvAvNbComputerName); default "NETSESSION".
	ComputerName string
	// DomainName is the NetBIOS domain name (MsvAvNbDomainName); default
	// Accounts.Domain, else ComputerName.
	DomainName string
	// DNSComputerName and DNSDomainName fill the DNS AV pairs; default
	// the NetBIOS names in lower case.
	DNSComputerName, DNSDomainName string
	// TimestampWindow bounds |client timestamp - now|; 0 means
	// DefaultTimestampWindow.
	TimestampWindow time.Duration
	// AllowNTLMv1 accepts NTLMv1 responses (with or without extended
	// session security). Off by default: NTLMv1 is crackable offline.
	// LM-only responses are refused whatever this says.
	AllowNTLMv1 bool
	// RefuseAnonymous refuses null-session logons; by default they are
	// accepted and reported as anonymous callers.
	RefuseAnonymous bool
	// Throttle bounds password guessing (asked before each credential
	// check, told its outcome) and holds back failed answers; nil never
	// throttles. *Throttle implements it.
	Throttle authn.Throttle
	// Logger receives one record per failed logon (never a secret);
	// nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of server challenges; nil means crypto/rand.
	Rand io.Reader
	// Version is advertised when the client asks for it; nil means a
	// Windows Server 2022 version.
	Version *Version
}

// Logon is the outcome of a successful logon.
type Logon struct {
	// Identity is who logged on: the account's name, the domain as the
	// client sent it, the account's local groups, guest or anonymous.
	// The local accounts file knows no SIDs.
	Identity authn.Identity
	// SessionKey is the exported session key (16 bytes), which SMB2
	// derives its signing keys from; nil for guest logons.
	SessionKey []byte
	// ClientUser and ClientDomain are the names exactly as the client
	// sent them; Workstation likewise.
	ClientUser, ClientDomain, Workstation string
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) names() (nbComputer, nbDomain, dnsComputer, dnsDomain string) {
	nbComputer = s.ComputerName
	if nbComputer == "" {
		nbComputer = "NETSESSION"
	}
	nbDomain = s.DomainName
	if nbDomain == "" && s.Accounts != nil {
		nbDomain = s.Accounts.Domain
	}
	if nbDomain == "" {
		nbDomain = nbComputer
	}
	dnsComputer, dnsDomain = s.DNSComputerName, s.DNSDomainName
	if dnsComputer == "" {
		dnsComputer = strings.ToLower(nbComputer)
	}
	if dnsDomain == "" {
		dnsDomain = strings.ToLower(nbDomain)
	}
	return
}

// Mechanism returns auth.MechNTLM.
func (s *Server) Mechanism() authn.Mechanism { return authn.MechNTLM }

// Accept starts an acceptor exchange with peer: NewContext(peer.Source).
func (s *Server) Accept(_ context.Context, peer authn.Peer) (authn.AcceptorContext, error) {
	return s.NewContext(peer.Source), nil
}

// NewContext starts an acceptor exchange for one connection or one
// DCE/RPC association. source identifies the peer for throttling and logs
// (typically its IP address without port).
func (s *Server) NewContext(source string) *ServerContext {
	return &ServerContext{srv: s, source: source}
}

type ctxState int

const (
	stateInitial ctxState = iota
	stateChallenged
	stateDone
	stateFailed
)

// ServerContext is one acceptor exchange: NEGOTIATE in, CHALLENGE out,
// AUTHENTICATE in. Step is not safe for concurrent use; once done, the
// signing and sealing methods follow the rules of Security.
type ServerContext struct {
	srv    *Server
	source string
	state  ctxState
	// account is the throttle's name for the account being tried; ""
	// before AUTHENTICATE and for null sessions.
	account string

	negotiate, challenge []byte // raw messages, for the MIC
	serverChallenge      [8]byte
	offered              NegotiateFlags
	hadMIC               bool
	// signWithoutESS: the NEGOTIATE asked for signing or sealing without
	// extended session security; only a null session may follow.
	signWithoutESS bool

	logon Logon
	sec   *Security

	// challengeHook, when set (tests only), replaces the generated
	// CHALLENGE bytes, so that captured exchanges can be replayed.
	challengeHook func(neg *NegotiateMessage) []byte
}

// Step consumes the client's next token and returns the reply. done is
// true once the logon succeeded; a refused logon returns an error wrapping
// ErrLogonFailure (see LogonError). The context is single-use: after
// AUTHENTICATE, successful or not, its challenge is spent and every further
// Step fails with ErrChallengeReused.
func (c *ServerContext) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	switch c.state {
	case stateInitial:
		out, err := c.acceptNegotiate(in)
		if err != nil {
			c.state = stateFailed
			return nil, false, err
		}
		c.state = stateChallenged
		return out, false, nil
	case stateChallenged:
		// Whatever happens next, this challenge is spent.
		c.state = stateFailed
		if err := c.acceptAuthenticate(in); err != nil {
			return nil, false, err
		}
		c.state = stateDone
		return nil, true, nil
	default:
		return nil, false, &LogonError{Reason: ErrChallengeReused}
	}
}

func (c *ServerContext) acceptNegotiate(in []byte) ([]byte, error) {
	neg, err := ParseNegotiate(in)
	if err != nil {
		return nil, err
	}
	s := c.srv
	nf := neg.Flags
	if !nf.Has(FlagUnicode) {
		return nil, fmt.Errorf("%w: client does not offer Unicode", ErrUnsupported)
	}
	if nf.Has(FlagDatagram) {
		return nil, fmt.Errorf("%w: connectionless NTLM", ErrUnsupported)
	}
	// Signing or sealing without extended session security is only good
	// enough for a null session, which has no key to sign with anyway
	// (Samba's clients ask for it when logging on anonymously). Which
	// logon comes is known only at AUTHENTICATE: offer no signing now and
	// refuse any other logon then.
	c.signWithoutESS = nf&flagsSignOrSeal != 0 && !nf.Has(FlagExtendedSessionSecurity)
	if nf.Has(FlagSeal) && !nf.Has(Flag128) && !c.signWithoutESS {
		// 40- and 56-bit RC4 keys are refused, as Windows does by default
		// (NTLMMinServerSec requiring 128-bit encryption).
		return nil, fmt.Errorf("%w: sealing without 128-bit keys", ErrUnsupported)
	}
	flags := FlagUnicode | FlagNTLM | FlagTargetInfo | FlagTargetTypeServer | FlagRequestTarget
	flags |= nf & (FlagSign | FlagSeal | FlagAlwaysSign | FlagExtendedSessionSecurity | Flag128 | Flag56 | FlagKeyExch | FlagVersion)
	if c.signWithoutESS {
		flags &^= FlagSign | FlagSeal | FlagAlwaysSign
	}
	if _, err := io.ReadFull(c.rand(), c.serverChallenge[:]); err != nil {
		return nil, fmt.Errorf("ntlm: server challenge: %w", err)
	}
	nbComputer, nbDomain, dnsComputer, dnsDomain := s.names()
	var ts [8]byte
	binary.LittleEndian.PutUint64(ts[:], toFiletime(s.now()))
	msg := &ChallengeMessage{
		Flags:           flags,
		TargetName:      nbComputer,
		ServerChallenge: c.serverChallenge,
		TargetInfo: AVPairs{
			{AvNbDomainName, encodeUTF16(nbDomain)},
			{AvNbComputerName, encodeUTF16(nbComputer)},
			{AvDNSDomainName, encodeUTF16(dnsDomain)},
			{AvDNSComputerName, encodeUTF16(dnsComputer)},
			{AvTimestamp, ts[:]},
		},
	}
	if flags.Has(FlagVersion) {
		v := defaultVersion()
		if s.Version != nil {
			v = *s.Version
		}
		msg.Version = &v
	}
	out := msg.Marshal()
	if c.challengeHook != nil {
		out = c.challengeHook(neg)
		cm, err := ParseChallenge(out)
		if err != nil {
			return nil, err
		}
		c.serverChallenge, flags = cm.ServerChallenge, cm.Flags
	}
	c.negotiate = append([]byte(nil), in...)
	c.challenge = out
	c.offered = flags
	return out, nil
}

func (c *ServerContext) rand() io.Reader {
	if c.srv.Rand != nil {
		return c.srv.Rand
	}
	return rand.Reader
}

// ntlmv2Blob is the parsed NTLMv2_CLIENT_CHALLENGE.
type ntlmv2Blob struct {
	timestamp uint64
	pairs     AVPairs
}

func parseNTLMv2Blob(b []byte) (*ntlmv2Blob, error) {
	const what = "NTLMv2_CLIENT_CHALLENGE"
	if len(b) < 28+4 {
		return nil, malformed(what, "%d bytes, too short", len(b))
	}
	if b[0] != 1 || b[1] != 1 {
		return nil, malformed(what, "response version %d.%d, want 1.1", b[0], b[1])
	}
	pairs, err := ParseAVPairs(b[28:])
	if err != nil {
		return nil, err
	}
	return &ntlmv2Blob{timestamp: binary.LittleEndian.Uint64(b[8:16]), pairs: pairs}, nil
}

func (c *ServerContext) acceptAuthenticate(in []byte) error {
	s := c.srv
	now := s.now()
	auth, err := ParseAuthenticate(in)
	if err != nil {
		c.fail(nil, err)
		return err
	}
	flags := auth.Flags & c.offered
	nt, lm := auth.NtChallengeResponse, auth.LmChallengeResponse
	// The throttle is asked before anything is verified, under the name
	// of the account tried (all unknown names share one); a null session
	// has none and is neither checked nor counted.
	if auth.User != "" || len(nt) != 0 {
		c.account = UnknownAccount
		if acc, ok := s.Accounts.Lookup(auth.User); ok {
			c.account = accountKey(acc.Name)
		}
		if d := c.check(now); !d.Allowed {
			return c.fail(auth, fmt.Errorf("%w (retry in %v)", d.Reason, d.RetryAfter.Round(time.Millisecond)))
		}
	}

	// Anonymous: no NT response and an LM response that is empty or one
	// zero byte (MS-NLMP 3.2.5.1.2), with no user name.
	if len(nt) == 0 && (len(lm) == 0 || (len(lm) == 1 && lm[0] == 0)) {
		if auth.User != "" {
			return c.fail(auth, ErrWrongPassword)
		}
		if s.RefuseAnonymous {
			return c.fail(auth, ErrAnonymousRefused)
		}
		if flags&flagsSignOrSeal != 0 && !flags.Has(FlagExtendedSessionSecurity) {
			// Samba's clients drop extended session security from the
			// AUTHENTICATE of a null session; a null session has nothing
			// to sign with, so it gets no signing rather than a refusal.
			flags &^= flagsSignOrSeal | FlagAlwaysSign
		}
		exported := make([]byte, 16) // session base key of a null session: Z(16)
		if flags.Has(FlagKeyExch) {
			if len(auth.EncryptedRandomSessionKey) != 16 {
				return c.fail(auth, malformed("AUTHENTICATE", "key exchange negotiated without a 16-byte EncryptedRandomSessionKey"))
			}
			exported = rc4K(exported, auth.EncryptedRandomSessionKey)
		}
		return c.succeed(auth, flags, authn.Identity{Anonymous: true, Domain: auth.Domain}, exported)
	}
	if c.signWithoutESS {
		return c.fail(auth, fmt.Errorf("%w: signing or sealing without extended session security", ErrUnsupported))
	}
	// NTLMv1 (24-byte NT response, with or without NTLM2 session
	// response) and LM-only logons.
	if len(nt) == 24 && s.AllowNTLMv1 {
		return c.acceptNTLMv1(auth, flags)
	}
	if len(nt) <= 24 {
		return c.fail(auth, ErrNTLMv1)
	}
	if len(nt) < 16+28+4 {
		return c.fail(auth, malformed("AUTHENTICATE", "NTLMv2 response of %d bytes", len(nt)))
	}
	blob, err := parseNTLMv2Blob(nt[16:])
	if err != nil {
		return c.fail(auth, err)
	}

	acc, known := s.Accounts.Lookup(auth.User)
	if !known {
		if s.Accounts != nil && s.Accounts.Guest {
			caller := authn.Identity{User: "Guest", Domain: s.Accounts.Domain, Guest: true}
			return c.succeed(auth, flags, caller, nil)
		}
		// Spend the same work as for a known user, so that response
		// time does not tell which names exist.
		_ = hmacMD5(nil, make([]byte, 16), c.serverChallenge[:], nt[16:])
		return c.fail(auth, ErrUnknownUser)
	}

	// NTOWFv2 over the user and domain exactly as the client sent them.
	key := NTOWFv2(acc.NTHash, auth.User, auth.Domain)
	proof := hmacMD5(nil, key[:], c.serverChallenge[:], nt[16:])
	if subtle.ConstantTimeCompare(proof, nt[:16]) != 1 {
		return c.fail(auth, ErrWrongPassword)
	}

	window := s.TimestampWindow
	if window <= 0 {
		window = DefaultTimestampWindow
	}
	if d := fromFiletime(blob.timestamp).Sub(now); d > window || d < -window {
		return c.fail(auth, ErrStaleTimestamp)
	}

	baseKey := hmacMD5(nil, key[:], nt[:16])
	exported := baseKey // KeyExchangeKey = SessionBaseKey in NTLMv2
	if flags.Has(FlagKeyExch) {
		if len(auth.EncryptedRandomSessionKey) != 16 {
			return c.fail(auth, malformed("AUTHENTICATE", "key exchange negotiated without a 16-byte EncryptedRandomSessionKey"))
		}
		exported = rc4K(baseKey, auth.EncryptedRandomSessionKey)
	}

	// The MIC is required whenever the client's own (proof-protected) AV
	// pairs say it is there; the position of the payload never decides.
	if avf, ok := blob.pairs.Flags(); ok && avf&AvFlagMICPresent != 0 {
		if auth.MIC == nil {
			return c.fail(auth, ErrMICMissing)
		}
		zeroed := append([]byte(nil), in...)
		clear(zeroed[authenticateMICOffset:authenticateMICEnd])
		want := hmacMD5(nil, exported, c.negotiate, c.challenge, zeroed)
		if subtle.ConstantTimeCompare(want, auth.MIC) != 1 {
			return c.fail(auth, ErrMICMismatch)
		}
		c.hadMIC = true
	}

	caller := authn.Identity{User: acc.Name, Domain: auth.Domain, Groups: append([]string(nil), acc.Groups...)}
	return c.succeed(auth, flags, caller, exported)
}

func (c *ServerContext) acceptNTLMv1(auth *AuthenticateMessage, flags NegotiateFlags) error {
	acc, known := c.srv.Accounts.Lookup(auth.User)
	if !known {
		return c.fail(auth, ErrUnknownUser)
	}
	kx := verifyNTLMv1(acc.NTHash, flags, c.serverChallenge, auth.NtChallengeResponse, auth.LmChallengeResponse)
	if kx == nil {
		return c.fail(auth, ErrWrongPassword)
	}
	exported := kx
	if flags.Has(FlagKeyExch) {
		if len(auth.EncryptedRandomSessionKey) != 16 {
			return c.fail(auth, malformed("AUTHENTICATE", "key exchange negotiated without a 16-byte EncryptedRandomSessionKey"))
		}
		exported = rc4K(kx, auth.EncryptedRandomSessionKey)
	}
	caller := authn.Identity{User: acc.Name, Domain: auth.Domain, Groups: append([]string(nil), acc.Groups...)}
	return c.succeed(auth, flags, caller, exported)
}

func (c *ServerContext) succeed(auth *AuthenticateMessage, flags NegotiateFlags, id authn.Identity, exported []byte) error {
	if exported != nil {
		sec, err := NewSecurity(exported, flags, RoleServer)
		if err != nil {
			return c.fail(auth, err)
		}
		c.sec = sec
	}
	if !id.Anonymous && !id.Guest {
		c.record(true)
	}
	c.srv.logger().Info("ntlm logon",
		slog.String("source", c.source),
		slog.String("user", auth.User),
		slog.String("domain", auth.Domain),
		slog.String("workstation", auth.Workstation),
		slog.Bool("anonymous", id.Anonymous),
		slog.Bool("guest", id.Guest))
	c.logon = Logon{
		Identity:     id,
		SessionKey:   bytes.Clone(exported),
		ClientUser:   auth.User,
		ClientDomain: auth.Domain,
		Workstation:  auth.Workstation,
	}
	c.negotiate, c.challenge = nil, nil
	clear(c.serverChallenge[:])
	return nil
}

// fail records and logs a refused logon and returns the error to give the
// caller: a *LogonError for refusals, the decode error itself otherwise.
func (c *ServerContext) fail(auth *AuthenticateMessage, reason error) error {
	s := c.srv
	// Only a verified password that is wrong (or names no account) is a
	// guess; a throttled attempt was not verified and counts for nothing.
	var delay time.Duration
	if c.account != "" && (errors.Is(reason, ErrWrongPassword) || errors.Is(reason, ErrUnknownUser)) {
		delay = c.record(false)
	}
	c.negotiate, c.challenge = nil, nil
	clear(c.serverChallenge[:])
	le := &LogonError{Reason: reason, Delay: delay}
	if auth != nil {
		le.User, le.Domain, le.Workstation = auth.User, auth.Domain, auth.Workstation
	}
	s.logger().Warn("ntlm logon refused",
		slog.String("source", c.source),
		slog.String("user", le.User),
		slog.String("domain", le.Domain),
		slog.String("workstation", le.Workstation),
		slog.String("reason", reason.Error()),
		slog.Duration("answer_delay", delay))
	var de *DecodeError
	if errors.As(reason, &de) || errors.Is(reason, ErrUnsupported) {
		return reason
	}
	return le
}

// Done reports whether the logon succeeded.
func (c *ServerContext) Done() bool { return c.state == stateDone }

// Logon returns the logon result once Done.
func (c *ServerContext) Logon() (Logon, bool) {
	if c.state != stateDone {
		return Logon{}, false
	}
	l := c.logon
	l.SessionKey = bytes.Clone(l.SessionKey)
	return l, true
}

// Caller returns the caller identity as the session table takes it once
// Done, the zero (anonymous) Caller before.
func (c *ServerContext) Caller() session.Caller {
	if c.state != stateDone {
		return session.Caller{}
	}
	return c.logon.Identity.Caller()
}

// Result returns the logon's identity and full session key once Done.
func (c *ServerContext) Result() (authn.Result, bool) {
	l, ok := c.Logon()
	if !ok {
		return authn.Result{}, false
	}
	return authn.Result{Mechanism: authn.MechNTLM, Identity: l.Identity, SessionKey: l.SessionKey}, true
}

// check asks the throttle whether the logon of c.account is verified.
func (c *ServerContext) check(now time.Time) authn.Decision {
	if c.srv.Throttle == nil {
		return authn.Decision{Allowed: true}
	}
	return c.srv.Throttle.Check(c.source, c.account, now)
}

// record tells the throttle the outcome of a verified logon of c.account
// and returns how long the failing answer is held back.
func (c *ServerContext) record(success bool) time.Duration {
	if c.srv.Throttle == nil {
		return 0
	}
	return c.srv.Throttle.Record(c.source, c.account, success, c.srv.now())
}

// SessionKey returns the exported session key once Done (nil for guest).
func (c *ServerContext) SessionKey() []byte {
	if c.state != stateDone {
		return nil
	}
	return bytes.Clone(c.logon.SessionKey)
}

// Flags returns the negotiated flags once Done.
func (c *ServerContext) Flags() NegotiateFlags {
	if c.sec == nil {
		return 0
	}
	return c.sec.Flags()
}

// Security returns the session security once Done; nil for guest logons
// and before completion.
func (c *ServerContext) Security() *Security {
	if c.state != stateDone {
		return nil
	}
	return c.sec
}

func (c *ServerContext) security() (*Security, error) {
	if c.state != stateDone {
		return nil, fmt.Errorf("%w: context not complete", ErrState)
	}
	if c.sec == nil {
		return nil, fmt.Errorf("%w: no session key (guest logon)", ErrNotNegotiated)
	}
	return c.sec, nil
}

// Sign signs msg with the next server-to-client sequence number.
func (c *ServerContext) Sign(msg []byte) ([]byte, error) {
	s, err := c.security()
	if err != nil {
		return nil, err
	}
	return s.Sign(msg)
}

// Verify checks a client signature with the next client-to-server sequence
// number.
func (c *ServerContext) Verify(msg, sig []byte) error {
	s, err := c.security()
	if err != nil {
		return err
	}
	return s.Verify(msg, sig)
}

// SealWithin is Security.SealWithin on the server-to-client direction.
func (c *ServerContext) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	s, err := c.security()
	if err != nil {
		return nil, err
	}
	return s.SealWithin(msg, lo, hi)
}

// UnsealWithin is Security.UnsealWithin on the client-to-server direction.
func (c *ServerContext) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	s, err := c.security()
	if err != nil {
		return err
	}
	return s.UnsealWithin(msg, lo, hi, sig)
}
