package pipeclient

import (
	"bufio"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/spnego"
)

var le = binary.LittleEndian

// Dialects the client offers, lowest first (the values of the wire
// format's one definition).
const (
	Dialect202 = wire.Dialect202
	Dialect210 = wire.Dialect210
	Dialect300 = wire.Dialect300
	Dialect302 = wire.Dialect302
	Dialect311 = wire.Dialect311
)

// Signing algorithms, as Conn.SigningAlgorithm reports them.
const (
	SigningHMACSHA256 = smbcrypto.AlgHMACSHA256
	SigningAESCMAC    = smbcrypto.AlgAESCMAC
	SigningAESGMAC    = smbcrypto.AlgAESGMAC
)

// Ciphers, as Conn.Cipher reports them and Options.Ciphers lists them.
const (
	CipherAES128CCM = smbcrypto.CipherAES128CCM
	CipherAES128GCM = smbcrypto.CipherAES128GCM
	CipherAES256CCM = smbcrypto.CipherAES256CCM
	CipherAES256GCM = smbcrypto.CipherAES256GCM
)

// Sizes.
const (
	// MaxIO bounds every READ, WRITE and transceive of the client,
	// whatever larger sizes the server announces.
	MaxIO = 1 << 20
	// maxFrame bounds a received message: MaxIO of payload plus headers.
	maxFrame = MaxIO + 4096
	// creditTarget is the number of credits the client asks the server
	// to keep available: more than one request in flight never happens,
	// so a few spare ones only cover multi-credit requests.
	creditTarget = 16
	// unsolicitedID is the MessageId of an oplock break notification.
	unsolicitedID = ^uint64(0)
	// maxInterim bounds the interim responses accepted for one request.
	maxInterim = 16
)

// Options configure Dial. Host is required.
type Options struct {
	// Host names the server in the IPC$ path (\\Host\IPC$).
	Host string
	// Auth logs the session on: a mechanism's credentials (an
	// *ntlm.Client; one without user, password and hash makes an
	// anonymous logon), wrapped in SPNEGO unless it is SPNEGO already
	// (a *spnego.Initiator offering several). Required.
	Auth auth.Initiator
	// Dialects to offer; nil offers 2.0.2, 2.1, 3.0, 3.0.2 and 3.1.1.
	Dialects []uint16
	// Ciphers to offer in SMB 3.1.1, most preferred first; nil offers
	// AES-128-GCM, AES-128-CCM, AES-256-GCM, AES-256-CCM.
	Ciphers []uint16
	// SigningAlgorithms to offer in SMB 3.1.1, most preferred first; nil
	// offers AES-GMAC then AES-CMAC.
	SigningAlgorithms []uint16
	// RequireSigning refuses a session that cannot sign: a guest or
	// anonymous logon fails with ErrNoKeys. Sessions with a key always
	// sign, and say so in NEGOTIATE only when this is set.
	RequireSigning bool
	// RequireEncryption encrypts every request after the logon and
	// insists on encrypted answers; a server or session that cannot
	// encrypt fails with ErrNoKeys.
	RequireEncryption bool
	// ClientGUID identifies the client; zero picks a random one.
	ClientGUID [16]byte
	// Logger receives debug records of the connection's life; nil: none.
	Logger *slog.Logger
}

// Conn is a logged-on SMB2/3 connection with a tree connect to IPC$. It
// runs one request at a time: every method sends a request and waits for
// its final answer before another may start (callers are serialised by a
// mutex), which keeps message IDs, credits and the pre-authentication
// hash simple and makes concurrent use safe if not parallel.
type Conn struct {
	nc  net.Conn
	br  *bufio.Reader
	log *slog.Logger

	mu     sync.Mutex // held for each exchange
	broken error      // set once the connection cannot be used

	dlMu sync.Mutex
	base time.Time // the caller's deadline (SetDeadline)

	opt       Options
	guid      [16]byte
	secMode   uint16 // what the client sent
	caps      uint32
	dialects  []uint16
	dialect   uint16
	srvMode   uint16
	srvCaps   uint32
	srvGUID   [16]byte
	maxRead   uint32
	maxWrite  uint32
	maxTrans  uint32
	largeMTU  bool
	signAlg   uint16
	cipherID  uint16
	preauth   [smbcrypto.PreauthSize]byte
	nextMID   uint64
	highMID   uint64 // message IDs below this are granted
	sessionID uint64
	treeID    uint32
	flags     uint16 // session flags
	signer    *smbcrypto.Signer
	signing   bool // sign requests, require signed answers
	anonymous bool // the credentials make a null session
	encrypt   bool // encrypt requests, require encrypted answers
	enc, dec  cipher.AEAD
	nonceCtr  uint64
	salt      [4]byte

	wbuf []byte // request being built: 4-byte frame header, then the message
	ebuf []byte // encrypted request
	rbuf []byte // last received frame
}

// Dial sets up an SMB session on nc: NEGOTIATE, SESSION_SETUP (NTLM in
// SPNEGO), TREE_CONNECT to \\Host\IPC$ and, for 3.0 and 3.0.2 sessions
// with keys, FSCTL_VALIDATE_NEGOTIATE_INFO. ctx bounds the whole setup.
// On failure nc is closed. Errors are *Error.
func Dial(ctx context.Context, nc net.Conn, opt Options) (*Conn, error) {
	c := &Conn{
		nc:      nc,
		br:      bufio.NewReaderSize(nc, 64<<10),
		log:     opt.Logger,
		opt:     opt,
		highMID: 1,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.setup(ctx); err != nil {
		c.nc.Close()
		c.broken = ErrClosed
		return nil, err
	}
	return c, nil
}

func (c *Conn) setup(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The host goes into the TREE_CONNECT path, whose length field is
	// 16 bits: a name or address, nothing that could reshape the path.
	if h := c.opt.Host; h == "" || len(h) > 255 || strings.ContainsAny(h, "\\/\x00") {
		return &Error{Op: "negotiate", Err: fmt.Errorf("bad host name %q for the IPC$ path", h)}
	}
	if err := c.negotiate(ctx); err != nil {
		return err
	}
	if err := c.sessionSetup(ctx); err != nil {
		return err
	}
	if err := c.treeConnect(ctx); err != nil {
		return err
	}
	if c.dialect == Dialect300 || c.dialect == Dialect302 {
		if c.signer != nil {
			if err := c.validateNegotiate(ctx); err != nil {
				return err
			}
		}
	}
	c.log.Debug("smb2 client session",
		slog.String("dialect", fmt.Sprintf("%04x", c.dialect)),
		slog.Bool("signing", c.signing), slog.Bool("encrypt", c.encrypt),
		slog.Bool("guest", c.flags&wire.SessionIsGuest != 0), slog.Bool("anonymous", c.flags&wire.SessionIsNull != 0))
	return nil
}

// Dialect returns the negotiated dialect.
func (c *Conn) Dialect() uint16 { return c.dialect }

// Signing reports whether requests are signed, and with which algorithm.
func (c *Conn) Signing() (bool, uint16) { return c.signing, c.signAlg }

// Encrypting reports whether messages are encrypted, and with which cipher.
func (c *Conn) Encrypting() (bool, uint16) { return c.encrypt, c.cipherID }

// Guest reports whether the server logged the session on as guest or
// anonymous (no keys, no signing).
func (c *Conn) Guest() bool { return c.flags&(wire.SessionIsGuest|wire.SessionIsNull) != 0 }

// MaxTransceive is the largest transceive output (and input) the client
// will ask for.
func (c *Conn) MaxTransceive() int { return int(c.maxTrans) }

// SetDeadline sets a deadline for every exchange from now on, on top of
// each call's context; the zero time clears it. An exchange that misses
// it breaks the connection.
func (c *Conn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.base = t
	c.dlMu.Unlock()
	return c.nc.SetDeadline(t)
}

func (c *Conn) negotiate(ctx context.Context) error {
	const op = "negotiate"
	c.dialects = c.opt.Dialects
	if len(c.dialects) == 0 {
		c.dialects = []uint16{Dialect202, Dialect210, Dialect300, Dialect302, Dialect311}
	}
	for _, d := range c.dialects {
		switch d {
		case Dialect202, Dialect210, Dialect300, Dialect302, Dialect311:
		default:
			return &Error{Op: op, Err: fmt.Errorf("unknown dialect %#04x", d)}
		}
	}
	c.guid = c.opt.ClientGUID
	if c.guid == ([16]byte{}) {
		if _, err := rand.Read(c.guid[:]); err != nil {
			return &Error{Op: op, Err: err}
		}
	}
	c.secMode = wire.SigningEnabled
	if c.opt.RequireSigning {
		c.secMode |= wire.SigningRequired
	}
	c.caps = wire.CapEncryption | wire.CapLargeMTU
	req := wire.NegotiateRequestBody{
		SecurityMode: c.secMode,
		Capabilities: c.caps,
		ClientGUID:   c.guid,
		Dialects:     c.dialects,
	}
	ciphers := c.opt.Ciphers
	if len(ciphers) == 0 {
		ciphers = []uint16{CipherAES128GCM, CipherAES128CCM, CipherAES256GCM, CipherAES256CCM}
	}
	signAlgs := c.opt.SigningAlgorithms
	if len(signAlgs) == 0 {
		signAlgs = []uint16{SigningAESGMAC, SigningAESCMAC}
	}
	if slices.Contains(c.dialects, Dialect311) {
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return &Error{Op: op, Err: err}
		}
		pre := le.AppendUint16(nil, 1)
		pre = le.AppendUint16(pre, uint16(len(salt)))
		pre = le.AppendUint16(pre, wire.HashSHA512)
		req.Contexts = append(req.Contexts,
			wire.NegotiateContext{Type: wire.CtxPreauthIntegrity, Data: append(pre, salt...)},
			wire.NegotiateContext{Type: wire.CtxEncryption, Data: idList(ciphers)},
			wire.NegotiateContext{Type: wire.CtxSigning, Data: idList(signAlgs)},
		)
	}
	var reqMsg []byte
	resp, _, err := c.do(ctx, exch{op: op, cmd: wire.CmdNegotiate, body: req.Append, sent: func(m []byte) { reqMsg = slices.Clone(m) }})
	if err != nil {
		return err
	}
	r, err := wire.ParseNegotiateResponse(resp)
	if err != nil {
		return c.fail(op, protocolError("%v", err))
	}
	if !slices.Contains(c.dialects, r.Dialect) {
		return c.fail(op, protocolError("server chose dialect %#04x, which was not offered", r.Dialect))
	}
	c.dialect = r.Dialect
	c.srvMode = r.SecurityMode
	c.srvCaps = r.Capabilities
	c.srvGUID = r.ServerGUID
	c.largeMTU = c.dialect > Dialect202 && r.Capabilities&wire.CapLargeMTU != 0
	limit := uint32(65536)
	if c.largeMTU {
		limit = MaxIO
	}
	c.maxRead, c.maxWrite, c.maxTrans = min(r.MaxReadSize, limit), min(r.MaxWriteSize, limit), min(r.MaxTransactSize, limit)
	if c.maxRead < 4096 || c.maxWrite < 4096 || c.maxTrans < 4096 {
		return c.fail(op, protocolError("maximum sizes read %d, write %d, transact %d", r.MaxReadSize, r.MaxWriteSize, r.MaxTransactSize))
	}
	switch {
	case c.dialect < Dialect300:
		c.signAlg = SigningHMACSHA256
	default:
		c.signAlg = SigningAESCMAC
	}
	if c.dialect == Dialect300 || c.dialect == Dialect302 {
		if r.Capabilities&wire.CapEncryption != 0 {
			c.cipherID = CipherAES128CCM
		}
	}
	if c.dialect != Dialect311 {
		return nil
	}
	// SMB 3.1.1: exactly one preauth context naming SHA-512, at most one
	// cipher and one signing algorithm, each among those offered.
	data, ok, dup := r.Context(wire.CtxPreauthIntegrity)
	if !ok || dup {
		return c.fail(op, protocolError("3.1.1 answer with %d preauth integrity contexts", count(ok, dup)))
	}
	algs, err := wire.ParseIDList(data, 2)
	if err != nil || len(algs) != 1 || algs[0] != wire.HashSHA512 {
		return c.fail(op, protocolError("preauth integrity context %x", data))
	}
	if data, ok, dup := r.Context(wire.CtxEncryption); ok {
		ids, err := wire.ParseIDList(data, 0)
		if dup || err != nil || len(ids) != 1 {
			return c.fail(op, protocolError("encryption context %x", data))
		}
		if ids[0] != 0 && !slices.Contains(ciphers, ids[0]) {
			return c.fail(op, protocolError("server chose cipher %#04x, which was not offered", ids[0]))
		}
		c.cipherID = ids[0]
	}
	if data, ok, dup := r.Context(wire.CtxSigning); ok {
		ids, err := wire.ParseIDList(data, 0)
		if dup || err != nil || len(ids) != 1 || !slices.Contains(signAlgs, ids[0]) {
			return c.fail(op, protocolError("signing context %x", data))
		}
		c.signAlg = ids[0]
	}
	c.preauth = smbcrypto.PreauthUpdate(smbcrypto.PreauthUpdate([smbcrypto.PreauthSize]byte{}, reqMsg), resp)
	return nil
}

func count(ok, dup bool) int {
	switch {
	case dup:
		return 2
	case ok:
		return 1
	}
	return 0
}

func idList(ids []uint16) []byte {
	b := le.AppendUint16(nil, uint16(len(ids)))
	for _, id := range ids {
		b = le.AppendUint16(b, id)
	}
	return b
}

func (c *Conn) sessionSetup(ctx context.Context) error {
	const op = "session setup"
	mech := c.opt.Auth
	if mech == nil {
		return &Error{Op: op, Err: errors.New("no Options.Auth initiator")}
	}
	if mech.Mechanism() != auth.MechSPNEGO {
		neg, err := spnego.NewInitiator(mech)
		if err != nil {
			return &Error{Op: op, Err: err}
		}
		mech = neg
	}
	sec, err := mech.Initiate(ctx)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	token, done, err := sec.Step(ctx, nil)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	c.anonymous = mech.Anonymous()
	preauth := c.preauth
	// Every session with a key signs, and says so: Samba refuses an
	// IPC$ tree connect on a session that does not require signing.
	secMode := uint8(wire.SigningEnabled | wire.SigningRequired)
	for leg := 0; ; leg++ {
		if leg > 4 {
			return c.fail(op, protocolError("logon takes more than %d legs", leg))
		}
		body := func(b []byte) []byte { return wire.AppendSessionSetupRequest(b, secMode, 0, token) }
		resp, h, err := c.exchange(ctx, exch{op: op, cmd: wire.CmdSessionSetup, body: body, sent: func(m []byte) {
			if c.dialect == Dialect311 {
				preauth = smbcrypto.PreauthUpdate(preauth, m)
			}
		}, setup: true})
		if err != nil {
			return err
		}
		st := ntstatus.Status(h.Status)
		if st != ntstatus.Success && st != ntstatus.MoreProcessingRequired {
			return &Error{Op: op, Status: st, Err: refusal(ctx, sec, resp)}
		}
		if leg == 0 {
			if h.SessionID == 0 {
				return c.fail(op, protocolError("session id 0"))
			}
			c.sessionID = h.SessionID
		} else if h.SessionID != c.sessionID {
			return c.fail(op, protocolError("session id changed from %#x to %#x", c.sessionID, h.SessionID))
		}
		r, err := wire.ParseSessionSetupResponse(resp)
		if err != nil {
			return c.fail(op, protocolError("%v", err))
		}
		if st == ntstatus.MoreProcessingRequired {
			if c.dialect == Dialect311 {
				preauth = smbcrypto.PreauthUpdate(preauth, resp)
			}
			if token, done, err = sec.Step(ctx, r.SecurityBuffer); err != nil {
				return &Error{Op: op, Err: err}
			}
			continue
		}
		return c.finishSetup(ctx, sec, done, r, resp, preauth)
	}
}

// refusal is the cause of a refused SESSION_SETUP: ErrStatus, joined
// with the mechanism's reading of the security buffer when the refusal
// carries one (SPNEGO's reject with a Kerberos KRB-ERROR saying why).
func refusal(ctx context.Context, sec auth.InitiatorContext, resp []byte) error {
	r, err := wire.ParseSessionSetupResponse(resp)
	if err != nil || len(r.SecurityBuffer) == 0 {
		return ErrStatus // an ERROR response, or nothing to read
	}
	if _, _, err := sec.Step(ctx, r.SecurityBuffer); err != nil {
		return fmt.Errorf("%w: %w", ErrStatus, err)
	}
	return ErrStatus
}

// finishSetup handles the successful last SESSION_SETUP answer.
func (c *Conn) finishSetup(ctx context.Context, sec auth.InitiatorContext, done bool, r *wire.SessionSetupResponse, resp []byte, preauth [smbcrypto.PreauthSize]byte) error {
	const op = "session setup"
	c.flags = r.Flags
	if c.anonymous {
		// Not every server flags a null session (Samba does not).
		c.flags |= wire.SessionIsNull
	}
	if c.Guest() {
		// A guest or anonymous session has no keys: nothing is signed,
		// nothing is encrypted, and the acceptor's final token (if any)
		// cannot be checked against a key the server does not share.
		if c.opt.RequireSigning || c.opt.RequireEncryption || r.Flags&wire.SessionEncryptData != 0 {
			return &Error{Op: op, Err: fmt.Errorf("%w: the server logged the session on as guest or anonymous", ErrNoKeys)}
		}
		return nil
	}
	if len(r.SecurityBuffer) > 0 || !done {
		if _, _, err := sec.Step(ctx, r.SecurityBuffer); err != nil {
			return c.fail(op, fmt.Errorf("%w: final logon token: %w", ErrProtocol, err))
		}
	}
	key := sec.SessionKey()
	if len(key) == 0 {
		return c.fail(op, protocolError("no session key"))
	}
	keys := smbcrypto.DeriveKeys(c.dialect, key, preauth[:])
	signer, err := smbcrypto.NewSigner(c.signAlg, keys.Signing)
	if err != nil {
		return c.fail(op, err)
	}
	c.signer = signer
	// The last answer is signed in 3.1.1 (it seals the pre-authentication
	// hash), and otherwise when the server signs it.
	h, _ := wire.ParseHeader(resp)
	if c.dialect == Dialect311 || h.Flags&wire.FlagSigned != 0 {
		if h.Flags&wire.FlagSigned == 0 {
			return c.fail(op, protocolError("unsigned final SESSION_SETUP answer"))
		}
		if err := signer.Verify(resp); err != nil {
			return c.fail(op, fmt.Errorf("%w: final SESSION_SETUP answer: %w", ErrProtocol, err))
		}
	}
	c.signing = true
	if r.Flags&wire.SessionEncryptData != 0 || c.opt.RequireEncryption {
		if err := c.startEncryption(key, preauth); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) startEncryption(key []byte, preauth [smbcrypto.PreauthSize]byte) error {
	const op = "session setup"
	if c.cipherID == 0 || c.dialect < Dialect300 {
		return &Error{Op: op, Err: fmt.Errorf("%w: no cipher agreed (dialect %#04x)", ErrNoKeys, c.dialect)}
	}
	c2s, s2c, err := smbcrypto.CipherKeys(c.dialect, key, preauth[:], c.cipherID)
	if err != nil {
		return c.fail(op, err)
	}
	if c.enc, err = smbcrypto.NewCipher(c.cipherID, c2s); err != nil {
		return c.fail(op, err)
	}
	if c.dec, err = smbcrypto.NewCipher(c.cipherID, s2c); err != nil {
		return c.fail(op, err)
	}
	if _, err := rand.Read(c.salt[:]); err != nil {
		return c.fail(op, err)
	}
	c.encrypt = true
	return nil
}

func (c *Conn) treeConnect(ctx context.Context) error {
	const op = "tree connect"
	path := `\\` + c.opt.Host + `\IPC$`
	body := func(b []byte) []byte { return wire.AppendTreeConnectRequest(b, path) }
	resp, h, err := c.do(ctx, exch{op: op, cmd: wire.CmdTreeConnect, body: body})
	if err != nil {
		return err
	}
	r, err := wire.ParseTreeConnectResponse(resp)
	if err != nil {
		return c.fail(op, protocolError("%v", err))
	}
	if r.ShareType != wire.ShareTypePipe {
		return c.fail(op, protocolError("IPC$ is share type %d, not a pipe share", r.ShareType))
	}
	c.treeID = h.TreeID
	const shareFlagEncryptData = 0x00008000
	if r.ShareFlags&shareFlagEncryptData != 0 && !c.encrypt {
		if c.signer == nil {
			return &Error{Op: op, Err: fmt.Errorf("%w: the share requires encryption", ErrNoKeys)}
		}
		return &Error{Op: op, Err: fmt.Errorf("%w: the share requires encryption the session did not set up", ErrNoKeys)}
	}
	return nil
}

// validateNegotiate protects a 3.0 or 3.0.2 negotiation against downgrade
// (MS-SMB2 3.2.5.5): the server repeats, in a signed answer, what it
// negotiated.
func (c *Conn) validateNegotiate(ctx context.Context) error {
	const op = "validate negotiate"
	in := wire.AppendValidateNegotiateInfo(nil, &wire.ValidateNegotiateInfo{
		Capabilities: c.caps, GUID: c.guid, SecurityMode: c.secMode, Dialects: c.dialects,
	})
	all := wire.FileID{Persistent: ^uint64(0), Volatile: ^uint64(0)}
	out, _, err := c.ioctl(ctx, exch{op: op, sign: true}, wire.FsctlValidateNegotiateInfo, all, in, 24)
	if err != nil {
		return err
	}
	v, err := wire.ParseValidateNegotiateResponse(out)
	if err != nil {
		return c.fail(op, protocolError("%v", err))
	}
	if v.Capabilities != c.srvCaps || v.GUID != c.srvGUID || v.SecurityMode != c.srvMode || v.Dialect != c.dialect {
		return c.fail(op, protocolError("negotiation does not validate: %+v", v))
	}
	return nil
}

// exch describes one request.
type exch struct {
	op       string
	cmd      uint16
	body     func([]byte) []byte
	sent     func(msg []byte) // sees the request as sent (pre-authentication hash)
	setup    bool             // SESSION_SETUP: never signed nor encrypted
	sign     bool             // sign even when the session does not
	overflow bool             // for do: STATUS_BUFFER_OVERFLOW is a success
	// payload sizes for the credit charge: bytes sent and bytes expected.
	in, out int
}

// do runs exchange and turns a failure status into an *Error wrapping
// ErrStatus, which leaves the connection usable: the answer comes back
// only with STATUS_SUCCESS, or STATUS_BUFFER_OVERFLOW when x.overflow.
func (c *Conn) do(ctx context.Context, x exch) ([]byte, wire.Header, error) {
	resp, h, err := c.exchange(ctx, x)
	if err != nil {
		return nil, h, err
	}
	if st := ntstatus.Status(h.Status); st != ntstatus.Success && !(x.overflow && st == ntstatus.BufferOverflow) {
		return nil, h, &Error{Op: x.op, Status: st, Err: ErrStatus}
	}
	return resp, h, nil
}

// ioctl runs the FSCTL ctl on fid with input in and returns its output
// (at most maxOut bytes, aliasing the answer until the next exchange).
// x gives the step and the options; its command and body are set here.
func (c *Conn) ioctl(ctx context.Context, x exch, ctl uint32, fid wire.FileID, in []byte, maxOut int) (out []byte, more bool, err error) {
	x.cmd = wire.CmdIoctl
	x.body = func(b []byte) []byte { return wire.AppendIoctlRequest(b, ctl, fid, in, uint32(maxOut)) }
	x.in, x.out = len(in), maxOut
	resp, h, err := c.do(ctx, x)
	if err != nil {
		return nil, false, err
	}
	r, err := wire.ParseIoctlResponse(resp)
	if err != nil {
		return nil, false, c.fail(x.op, protocolError("%v", err))
	}
	if r.CtlCode != ctl || r.FileID != fid {
		return nil, false, c.fail(x.op, protocolError("answer for control %#x on file %x, not %#x on %x", r.CtlCode, r.FileID, ctl, fid))
	}
	if len(r.Output) > maxOut {
		return nil, false, c.fail(x.op, protocolError("%d bytes of output, %d asked for", len(r.Output), maxOut))
	}
	return r.Output, ntstatus.Status(h.Status) == ntstatus.BufferOverflow, nil
}

// fail breaks the connection and returns the error.
func (c *Conn) fail(op string, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Op: op, Err: err}
	}
	if c.broken == nil {
		c.broken = e
		c.nc.Close()
	}
	return e
}

// exchange sends one request and returns the final answer (the whole
// message, aliasing c.rbuf until the next exchange) and its header. A
// failure status is not an error here; a transport failure, a cancelled
// context or a protocol violation is, and breaks the connection. c.mu
// must be held.
func (c *Conn) exchange(ctx context.Context, x exch) ([]byte, wire.Header, error) {
	var h wire.Header
	if c.broken != nil {
		cause := c.broken
		if !errors.Is(cause, ErrClosed) {
			cause = fmt.Errorf("%w: %w", ErrClosed, cause)
		}
		return nil, h, &Error{Op: x.op, Err: cause}
	}
	if err := ctx.Err(); err != nil {
		return nil, h, &Error{Op: x.op, Err: err}
	}
	charge := uint64(1)
	if c.largeMTU {
		charge = uint64(max(x.in, x.out, 1)-1)/65536 + 1
	}
	avail := c.highMID - c.nextMID
	if avail < charge {
		return nil, h, &Error{Op: x.op, Err: fmt.Errorf("%w: %d granted, %d needed", ErrCredits, avail, charge)}
	}
	ask := charge
	if left := avail - charge; left < creditTarget {
		ask += creditTarget - left
	}
	mid := c.nextMID
	c.nextMID += charge
	h = wire.Header{
		Command:   x.cmd,
		Credit:    uint16(ask),
		MessageID: mid,
		SessionID: c.sessionID,
	}
	if c.largeMTU {
		h.CreditCharge = uint16(charge)
	}
	if x.cmd != wire.CmdNegotiate && x.cmd != wire.CmdSessionSetup && x.cmd != wire.CmdTreeConnect {
		h.TreeID = c.treeID
	}
	b := c.wbuf[:0]
	b = append(b, 0, 0, 0, 0)
	b = h.Append(b)
	b = x.body(b)
	msg := b[4:]
	encrypt := c.encrypt && !x.setup
	if !encrypt && !x.setup && c.signer != nil && (c.signing || x.sign) {
		c.signer.Sign(msg)
	}
	if x.sent != nil {
		x.sent(msg)
	}
	out := b
	if encrypt {
		var nonce [16]byte
		c.nonceCtr++
		le.PutUint64(nonce[:], c.nonceCtr)
		copy(nonce[8:], c.salt[:])
		out = smbcrypto.Seal(append(c.ebuf[:0], 0, 0, 0, 0), c.enc, nonce[:c.enc.NonceSize()], c.sessionID, msg)
		c.ebuf = out
	}
	c.wbuf = b
	n := len(out) - 4
	if n > 0xFFFFFF {
		// Unreachable with the sizes bounded by MaxIO; the message ID
		// is spent, so the connection cannot go on.
		return nil, h, c.fail(x.op, fmt.Errorf("%w: request of %d bytes", ErrTooLarge, n))
	}
	out[0], out[1], out[2], out[3] = 0, byte(n>>16), byte(n>>8), byte(n)

	stop := c.arm(ctx)
	resp, rh, err := c.roundTrip(out, mid, x, encrypt)
	if cerr := stop(); cerr != nil && err != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	if err != nil {
		return nil, rh, c.fail(x.op, err)
	}
	return resp, rh, nil
}

// arm applies ctx's deadline and cancellation to the connection for one
// exchange. The returned function restores the caller's deadline and
// returns the context's error when ctx ended the exchange (its deadline
// may pass on the socket a moment before ctx's own timer fires).
func (c *Conn) arm(ctx context.Context) func() error {
	c.dlMu.Lock()
	base := c.base
	c.dlMu.Unlock()
	dl, has := ctx.Deadline()
	applied := has && (base.IsZero() || dl.Before(base))
	if applied {
		c.nc.SetDeadline(dl)
	}
	expired := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if applied && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
		return nil
	}
	if ctx.Done() == nil {
		return func() error {
			if applied {
				c.nc.SetDeadline(base)
			}
			return nil
		}
	}
	fired := make(chan struct{})
	stopAF := context.AfterFunc(ctx, func() {
		c.nc.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	return func() error {
		if !stopAF() {
			// ctx ended: the exchange failed for it, or had just
			// completed, and then the connection is still good and must
			// not keep the past deadline.
			<-fired
			c.nc.SetDeadline(base)
			return ctx.Err()
		}
		if applied {
			c.nc.SetDeadline(base)
		}
		return expired()
	}
}

// roundTrip writes the frame and reads answers until the final one to mid.
func (c *Conn) roundTrip(frame []byte, mid uint64, x exch, encrypted bool) ([]byte, wire.Header, error) {
	var h wire.Header
	if _, err := c.nc.Write(frame); err != nil {
		return nil, h, err
	}
	for interim := 0; ; {
		msg, sealed, err := c.readMessage()
		if err != nil {
			return nil, h, err
		}
		h, err = wire.ParseHeader(msg)
		if err != nil {
			return nil, h, protocolError("%v", err)
		}
		if h.Flags&wire.FlagServerToRedir == 0 {
			return nil, h, protocolError("answer without the response flag")
		}
		if h.NextCommand != 0 {
			return nil, h, protocolError("compounded answer to a single request")
		}
		if h.MessageID == unsolicitedID && h.Command == wire.CmdOplockBreak {
			continue // no oplocks are asked for; a stray break is ignored
		}
		if h.MessageID != mid || h.Command != x.cmd {
			return nil, h, protocolError("answer to message %d command %d while waiting for %d command %d", h.MessageID, h.Command, mid, x.cmd)
		}
		if encrypted && !sealed {
			return nil, h, protocolError("unencrypted answer on an encrypted session")
		}
		if (sealed || !x.setup && x.cmd != wire.CmdNegotiate) && h.SessionID != c.sessionID {
			return nil, h, protocolError("answer for session %#x", h.SessionID)
		}
		granted := c.highMID + uint64(h.Credit)
		if granted < c.highMID || granted-c.nextMID > 1<<16 {
			return nil, h, protocolError("credit grant of %d", h.Credit)
		}
		c.highMID = granted
		if ntstatus.Status(h.Status) == ntstatus.Pending {
			// An interim answer: the final one follows with the same
			// MessageId. Interim answers are not signed. One without
			// the async flag is not an answer to report as a status:
			// the final one would come later and meet the next request.
			if h.Flags&wire.FlagAsyncCommand == 0 {
				return nil, h, protocolError("STATUS_PENDING answer without the async flag")
			}
			if interim++; interim > maxInterim {
				return nil, h, protocolError("%d interim answers", interim)
			}
			continue
		}
		if !sealed && !x.setup && c.signer != nil {
			signed := h.Flags&wire.FlagSigned != 0
			switch {
			case signed:
				if err := c.signer.Verify(msg); err != nil {
					return nil, h, fmt.Errorf("%w: %w", ErrProtocol, err)
				}
			case c.signing || x.sign:
				return nil, h, protocolError("unsigned answer (status %v) on a signed session", ntstatus.Status(h.Status))
			}
		}
		return msg, h, nil
	}
}

// readMessage reads one frame and decrypts it if needed.
func (c *Conn) readMessage() (msg []byte, sealed bool, err error) {
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return nil, false, err
		}
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		if hdr[0] == 0x85 && n == 0 {
			continue // NBSS keep-alive
		}
		if hdr[0] != 0 {
			return nil, false, protocolError("frame type %#x", hdr[0])
		}
		if n < wire.HeaderSize || n > maxFrame {
			return nil, false, protocolError("message of %d bytes", n)
		}
		if cap(c.rbuf) < n {
			c.rbuf = make([]byte, n, max(n, 2*cap(c.rbuf)))
		}
		msg = c.rbuf[:n]
		if _, err := io.ReadFull(c.br, msg); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		switch string(msg[:4]) {
		case wire.ProtocolSMB2:
			return msg, false, nil
		case wire.ProtocolTransform:
			if c.dec == nil {
				return nil, false, protocolError("encrypted answer on a session without keys")
			}
			th, err := smbcrypto.ParseTransformHeader(msg)
			if err != nil {
				return nil, false, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			if th.SessionID != c.sessionID {
				return nil, false, protocolError("encrypted answer for session %#x", th.SessionID)
			}
			plain, err := smbcrypto.Open(c.dec, th, msg)
			if err != nil {
				return nil, false, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			if len(plain) < wire.HeaderSize || string(plain[:4]) != wire.ProtocolSMB2 {
				return nil, false, protocolError("encrypted message is not SMB2")
			}
			return plain, true, nil
		}
		return nil, false, protocolError("protocol id %x", msg[:4])
	}
}

// Close disconnects the tree, logs off and closes the connection, within
// ctx. The connection is closed in any case; the error is the first step
// that failed. A Close while another goroutine's exchange is in flight
// breaks that exchange. Close is idempotent.
func (c *Conn) Close(ctx context.Context) error {
	if !c.mu.TryLock() {
		c.nc.Close()
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.broken != nil {
		c.broken = ErrClosed
		return nil
	}
	var first error
	if c.treeID != 0 {
		_, _, first = c.do(ctx, exch{op: "tree disconnect", cmd: wire.CmdTreeDisconnect, body: wire.AppendSmallRequest})
	}
	if c.broken == nil {
		if _, _, err := c.do(ctx, exch{op: "logoff", cmd: wire.CmdLogoff, body: wire.AppendSmallRequest}); first == nil {
			first = err
		}
	}
	if err := c.nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) && first == nil {
		first = &Error{Op: "close", Err: err}
	}
	c.broken = ErrClosed
	return first
}

// Abort closes the connection at once, without logging off: the server
// ends the session when it sees the connection close. An exchange in
// flight on another goroutine fails.
func (c *Conn) Abort() {
	c.nc.Close()
	c.mu.Lock()
	c.broken = ErrClosed
	c.mu.Unlock()
}
