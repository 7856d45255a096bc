package pipeclient_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/spnego"
	"github.com/netsession/netsession/srvs"
)

// toyMech is a test-only shared-secret mechanism, the stand-in for a
// mechanism such as Kerberos that none of smb2, pipeclient or dcerpc
// knows: the initiator sends its name and a nonce, the acceptor a nonce,
// the initiator HMAC-SHA256(secret, nonces) as proof. The session key is
// 32 bytes, the identity carries SIDs only (no group names), as a PAC
// would give.
const toyMech auth.Mechanism = "1.3.6.1.4.1.32473.1"

type toyAccount struct {
	secret    string
	sid       string
	groupSIDs []string
}

type toyAcceptor struct {
	accounts map[string]toyAccount
	throttle auth.Throttle
}

func (*toyAcceptor) Mechanism() auth.Mechanism { return toyMech }

func (a *toyAcceptor) Accept(_ context.Context, peer auth.Peer) (auth.AcceptorContext, error) {
	return &toyAcceptorContext{acc: a, peer: peer}, nil
}

type toyAcceptorContext struct {
	acc            *toyAcceptor
	peer           auth.Peer
	user           string
	cnonce, snonce []byte
	result         *auth.Result
	key            []byte
}

func toyMAC(key string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

var errToy = fmt.Errorf("toy: %w", auth.ErrLogonFailure)

func (c *toyAcceptorContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch {
	case c.cnonce == nil:
		name, nonce, ok := bytes.Cut(in, []byte{0})
		if !ok || len(nonce) != 16 {
			return nil, false, errors.New("toy: bad first token")
		}
		c.user, c.cnonce = string(name), nonce
		if c.acc.throttle != nil {
			if _, ok := c.acc.throttle.Allow(ctx, c.peer.Source, c.user); !ok {
				return nil, false, fmt.Errorf("%w: throttled", errToy)
			}
		}
		c.snonce = make([]byte, 16)
		rand.Read(c.snonce)
		return c.snonce, false, nil
	case c.result == nil:
		a, ok := c.acc.accounts[c.user]
		good := ok && hmac.Equal(in, toyMAC(a.secret, []byte("proof"), c.cnonce, c.snonce))
		if c.acc.throttle != nil {
			c.acc.throttle.Record(c.peer.Source, c.user, good)
		}
		if !good {
			return nil, false, errToy
		}
		c.key = toyMAC(a.secret, []byte("key"), c.cnonce, c.snonce)
		c.result = &auth.Result{
			Mechanism:  toyMech,
			Identity:   auth.Identity{User: c.user, Domain: "TOY", UserSID: a.sid, GroupSIDs: a.groupSIDs},
			SessionKey: bytes.Clone(c.key),
		}
		return nil, true, nil
	}
	return nil, false, errors.New("toy: exchange finished")
}

func (c *toyAcceptorContext) Result() (auth.Result, bool) {
	if c.result == nil {
		return auth.Result{}, false
	}
	return *c.result, true
}

// The mechListMIC of the toy: HMAC over the list with the session key.
func (c *toyAcceptorContext) CanMIC() bool      { return c.key != nil }
func (c *toyAcceptorContext) MICRequired() bool { return false }
func (c *toyAcceptorContext) MICDone()          {}
func (c *toyAcceptorContext) GetMIC(msg []byte) ([]byte, error) {
	return toyMAC(string(c.key), []byte("acceptor"), msg), nil
}
func (c *toyAcceptorContext) VerifyMIC(msg, mic []byte) error {
	if !hmac.Equal(mic, toyMAC(string(c.key), []byte("initiator"), msg)) {
		return errors.New("toy: bad MIC")
	}
	return nil
}

type toyInitiator struct{ user, secret string }

func (*toyInitiator) Mechanism() auth.Mechanism { return toyMech }
func (*toyInitiator) Anonymous() bool           { return false }
func (i *toyInitiator) Initiate(context.Context) (auth.InitiatorContext, error) {
	return &toyInitiatorContext{ini: i}, nil
}

type toyInitiatorContext struct {
	ini    *toyInitiator
	cnonce []byte
	key    []byte
}

func (c *toyInitiatorContext) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if c.cnonce == nil {
		c.cnonce = make([]byte, 16)
		rand.Read(c.cnonce)
		return append([]byte(c.ini.user+"\x00"), c.cnonce...), false, nil
	}
	if c.key != nil || len(in) != 16 {
		return nil, false, errors.New("toy: unexpected token")
	}
	c.key = toyMAC(c.ini.secret, []byte("key"), c.cnonce, in)
	return toyMAC(c.ini.secret, []byte("proof"), c.cnonce, in), true, nil
}

func (c *toyInitiatorContext) SessionKey() []byte { return bytes.Clone(c.key) }
func (c *toyInitiatorContext) CanMIC() bool       { return c.key != nil }
func (c *toyInitiatorContext) MICRequired() bool  { return true }
func (c *toyInitiatorContext) MICDone()           {}
func (c *toyInitiatorContext) GetMIC(msg []byte) ([]byte, error) {
	return toyMAC(string(c.key), []byte("initiator"), msg), nil
}
func (c *toyInitiatorContext) VerifyMIC(msg, mic []byte) error {
	if !hmac.Equal(mic, toyMAC(string(c.key), []byte("acceptor"), msg)) {
		return errors.New("toy: bad MIC")
	}
	return nil
}

const toyDomain = "S-1-5-21-3623811015-3361044348-30300820"

func toyAccounts() map[string]toyAccount {
	return map[string]toyAccount{
		"dadmin": {secret: "s3cret", sid: toyDomain + "-1105", groupSIDs: []string{toyDomain + "-513", toyDomain + "-512"}},
		"duser":  {secret: "pa55", sid: toyDomain + "-1106", groupSIDs: []string{toyDomain + "-513"}},
	}
}

// TestToyMechanism plugs a mechanism that smb2, pipeclient and dcerpc do
// not know into SPNEGO beside NTLM, on the SMB2 server and on the client,
// with no change to their code: the logon signs and encrypts with
// AES-256-GCM (derived from the mechanism's full 32-byte key), the
// identity's SIDs reach the pipe handler's Caller and the session table's
// access policy (Domain Admins by SID may enumerate at level 502, a plain
// domain user may not), NTLM still works through the same acceptor, and
// the throttling hook is shared by both mechanisms.
func TestToyMechanism(t *testing.T) {
	var mu sync.Mutex
	var seen []session.Caller
	whoami := func(ctx context.Context, conn net.Conn, c session.Caller) error {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		buf := make([]byte, 16)
		if _, err := conn.Read(buf); err != nil {
			return nil
		}
		_, _ = fmt.Fprintf(conn, "%s %s %s", c.User, c.SID, strings.Join(c.GroupSIDs, ","))
		return nil
	}
	th := &ntlm.Throttle{BaseDelay: time.Hour}
	accounts, err := ntlm.NewAccounts("NETSESS", false, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1")})
	if err != nil {
		t.Fatal(err)
	}
	acceptor, err := spnego.NewAcceptor(&ntlm.Server{Accounts: accounts, Throttle: th}, &toyAcceptor{accounts: toyAccounts(), throttle: th})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(s *smb2.Server) {
		s.Auth = acceptor
		s.Encryption = smb2.EncryptionRequired
		s.Pipes["whoami"] = whoami
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	enum := func(t *testing.T, ini auth.Initiator) (*pipeclient.Conn, *srvs.EnumResult, error) {
		t.Helper()
		c, err := f.dial(t, pipeclient.Options{Auth: ini, Ciphers: []uint16{pipeclient.CipherAES256GCM}, RequireEncryption: true})
		if err != nil {
			t.Fatal(err)
		}
		if on, cipher := c.Encrypting(); !on || cipher != pipeclient.CipherAES256GCM || c.Guest() {
			t.Fatalf("encrypting %v cipher %#x, guest %v", on, cipher, c.Guest())
		}
		p, err := c.OpenPipe(ctx, "srvsvc")
		if err != nil {
			t.Fatal(err)
		}
		cl, err := srvs.Bind(ctx, dcerpc.NewClient(&rpcStream{p: p}))
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.EnumAll(ctx, 502, "", "", srvs.MaxPreferredLength)
		return c, res, err
	}

	t.Run("Domain Admins by SID", func(t *testing.T) {
		c, res, err := enum(t, spnego.MustInitiator(&toyInitiator{user: "dadmin", secret: "s3cret"}))
		if err != nil {
			t.Fatalf("level 502 as a Domain Admin: %v", err)
		}
		// The session table lists the toy logon under its user name.
		var users []string
		for _, e := range res.Entries {
			users = append(users, e.UserName)
		}
		if !slices.Contains(users, "dadmin") {
			t.Fatalf("sessions listed: %q", users)
		}
		p, err := c.OpenPipe(ctx, "whoami")
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 512)
		n, _, err := p.Transceive(ctx, []byte("?"), out)
		if err != nil {
			t.Fatal(err)
		}
		want := "dadmin " + toyDomain + "-1105 " + toyDomain + "-513," + toyDomain + "-512"
		if got := string(out[:n]); got != want {
			t.Fatalf("the pipe handler saw %q, want %q", got, want)
		}
		mu.Lock()
		last := seen[len(seen)-1]
		mu.Unlock()
		if session.ClassOf(last) != session.ClassAdmin || len(last.Groups) != 0 {
			t.Fatalf("caller %+v is class %v", last, session.ClassOf(last))
		}
	})
	t.Run("Domain Users only", func(t *testing.T) {
		_, _, err := enum(t, spnego.MustInitiator(&toyInitiator{user: "duser", secret: "pa55"}))
		if !errors.Is(err, session.StatusAccessDenied) {
			t.Fatalf("level 502 as a plain domain user: %v, want ERROR_ACCESS_DENIED", err)
		}
	})
	t.Run("NTLM through the same acceptor", func(t *testing.T) {
		// alice is no administrator: the call is refused by the policy,
		// after a successful NTLM logon with AES-256 encryption.
		if _, _, err := enum(t, &ntlm.Client{User: "alice", Password: "AlicePass1"}); !errors.Is(err, session.StatusAccessDenied) {
			t.Fatal(err)
		}
	})
	t.Run("one throttle for both mechanisms", func(t *testing.T) {
		_, err := f.dial(t, pipeclient.Options{Auth: &toyInitiator{user: "dadmin", secret: "wrong"}})
		var pe *pipeclient.Error
		if !errors.As(err, &pe) || pe.Status != ntstatus.LogonFailure {
			t.Fatalf("wrong toy secret: %v", err)
		}
		// The source now serves a penalty, for NTLM too.
		if _, err := f.dial(t, pipeclient.Options{Auth: &ntlm.Client{User: "alice", Password: "AlicePass1"}}); !errors.As(err, &pe) || pe.Status != ntstatus.LogonFailure {
			t.Fatalf("NTLM logon during the toy's penalty: %v", err)
		}
	})
}
