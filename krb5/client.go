package krb5

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Encryption types (RFC 3961, RFC 3962, RFC 4757).
const (
	ETypeAES128 int32 = 17 // aes128-cts-hmac-sha1-96
	ETypeAES256 int32 = 18 // aes256-cts-hmac-sha1-96
	ETypeRC4    int32 = 23 // rc4-hmac: the NT hash is the key
)

// ErrConfig: the Kerberos configuration cannot be used (no krb5.conf and
// no KDC given, unreadable file, unknown realm).
var ErrConfig = errors.New("krb5: configuration")

type credKind int

const (
	credPassword credKind = iota + 1
	credKey
	credKeytab
	credCCache
)

// Credential is what a client logs on with: build one with Password,
// AESKey, NTHash, Keytab or CCache.
type Credential struct {
	kind     credKind
	user     string
	realm    string
	password string
	key      []byte
	etype    int32
	path     string
}

// Password is a user's password. realm may be empty: the configuration's
// default realm is used.
func Password(user, realm, password string) Credential {
	return Credential{kind: credPassword, user: user, realm: realm, password: password}
}

// AESKey is a user's AES key (16 bytes for AES-128, 32 for AES-256), as
// derived from the password with the account's salt.
func AESKey(user, realm string, key []byte) Credential {
	et := ETypeAES256
	if len(key) == 16 {
		et = ETypeAES128
	}
	return Credential{kind: credKey, user: user, realm: realm, key: append([]byte(nil), key...), etype: et}
}

// NTHash is a user's NT hash, used as the RC4-HMAC key.
func NTHash(user, realm string, hash []byte) Credential {
	return Credential{kind: credKey, user: user, realm: realm, key: append([]byte(nil), hash...), etype: ETypeRC4}
}

// Keytab is a keytab file holding keys of user.
func Keytab(user, realm, path string) Credential {
	return Credential{kind: credKeytab, user: user, realm: realm, path: path}
}

// CCache is a credential cache file (MIT format, as kinit writes it).
// path may carry the "FILE:" prefix; empty means $KRB5CCNAME. The user
// and realm are the cache's.
func CCache(path string) Credential { return Credential{kind: credCCache, path: path} }

// Config says where the KDC is. The zero value reads krb5.conf from
// $KRB5_CONFIG or /etc/krb5.conf.
type Config struct {
	// Krb5Conf is a krb5.conf path; empty means $KRB5_CONFIG, else
	// /etc/krb5.conf when it exists.
	Krb5Conf string
	// Realm overrides the configuration's default realm; with KDC it
	// needs no krb5.conf at all.
	Realm string
	// KDC is the KDC's host or host:port (default port 88) for Realm,
	// replacing what krb5.conf says for it.
	KDC string
	// Clock gives the time for authenticators; nil means time.Now.
	Clock func() time.Time
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Client holds a user's ticket-granting ticket and obtains service
// tickets; safe for concurrent use. Close it when done.
type Client struct {
	cl     *client.Client
	user   string
	realm  string
	clock  func() time.Time
	logger *slog.Logger

	mu     sync.Mutex
	closed bool
}

// NewClient logs on with cred: an AS exchange with the KDC for passwords,
// keys and keytabs, or the cache's ticket-granting ticket. gokrb5 calls
// cannot be cancelled: when ctx ends first, NewClient returns and the
// exchange finishes in the background within the library's own network
// timeouts.
func NewClient(ctx context.Context, cred Credential, cfg Config) (*Client, error) {
	conf, err := loadConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{clock: cfg.Clock, logger: cfg.Logger}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	realm := cred.realm
	if realm == "" {
		realm = conf.LibDefaults.DefaultRealm
	}
	realm = strings.ToUpper(realm)
	settings := []func(*client.Settings){client.DisablePAFXFAST(true), client.Logger(log.New(io.Discard, "", 0))}
	switch cred.kind {
	case credPassword:
		if cred.user == "" || realm == "" {
			return nil, fmt.Errorf("%w: password credential needs a user and a realm", ErrCredential)
		}
		c.cl = client.NewWithPassword(cred.user, realm, cred.password, conf, settings...)
	case credKey:
		if cred.user == "" || realm == "" {
			return nil, fmt.Errorf("%w: key credential needs a user and a realm", ErrCredential)
		}
		want := 16
		if cred.etype == ETypeAES256 {
			want = 32
		}
		if len(cred.key) != want {
			return nil, fmt.Errorf("%w: key of %d bytes (want 16 for RC4 or AES-128, 32 for AES-256)", ErrCredential, len(cred.key))
		}
		kt, err := keyKeytab(cred.user, realm, cred.etype, cred.key)
		if err != nil {
			return nil, err
		}
		// Ask only for the etype of the key, so that the KDC's
		// pre-authentication hints name it.
		conf.LibDefaults.DefaultTktEnctypeIDs = []int32{cred.etype}
		conf.LibDefaults.PreferredPreauthTypes = []int{int(cred.etype)}
		c.cl = client.NewWithKeytab(cred.user, realm, kt, conf, settings...)
	case credKeytab:
		if cred.user == "" || realm == "" {
			return nil, fmt.Errorf("%w: keytab credential needs a user and a realm", ErrCredential)
		}
		kt, err := keytab.Load(cred.path)
		if err != nil {
			return nil, fmt.Errorf("%w: keytab %s: %v", ErrCredential, cred.path, err)
		}
		c.cl = client.NewWithKeytab(cred.user, realm, kt, conf, settings...)
	case credCCache:
		path := cred.path
		if path == "" {
			path = os.Getenv("KRB5CCNAME")
		}
		if p, ok := strings.CutPrefix(path, "FILE:"); ok {
			path = p
		} else if i := strings.IndexByte(path, ':'); i > 0 && !strings.Contains(path[:i], "/") {
			return nil, fmt.Errorf("%w: credential cache %q: only FILE caches are supported", ErrCredential, path)
		}
		if path == "" {
			return nil, fmt.Errorf("%w: no credential cache (KRB5CCNAME is empty)", ErrCredential)
		}
		cc, err := credentials.LoadCCache(path)
		if err != nil {
			return nil, fmt.Errorf("%w: credential cache %s: %v", ErrCredential, path, err)
		}
		tgtName := types.PrincipalName{NameType: 2, NameString: []string{"krbtgt", cc.DefaultPrincipal.Realm}}
		if tgt, ok := cc.GetEntry(tgtName); ok && !tgt.EndTime.IsZero() && tgt.EndTime.Before(c.clock()) {
			return nil, fmt.Errorf("credential cache %s: %w: the ticket-granting ticket of %s expired at %s; log on again (kinit)",
				path, ErrTicketTime, strings.Join(cc.DefaultPrincipal.PrincipalName.NameString, "/")+"@"+cc.DefaultPrincipal.Realm,
				tgt.EndTime.UTC().Format(time.RFC3339))
		}
		cl, err := client.NewFromCCache(cc, conf, settings...)
		if err != nil {
			return nil, fmt.Errorf("%w: credential cache %s: %v", ErrCredential, path, err)
		}
		c.cl = cl
		c.user = strings.Join(cc.DefaultPrincipal.PrincipalName.NameString, "/")
		c.realm = cc.DefaultPrincipal.Realm
		return c, nil
	default:
		return nil, fmt.Errorf("%w: empty credential", ErrCredential)
	}
	c.user, c.realm = cred.user, realm
	err = run(ctx, func() error { return c.cl.Login() })
	if kvno, ok := wantedKVNO(err); ok && cred.kind == credKey {
		// The library looks the key for the AS-REP up by the key version
		// the KDC names, which a bare key does not know: learn it from
		// the first answer and log on again.
		c.cl.Destroy()
		kt, kerr := keyKeytabVersion(cred.user, realm, cred.etype, cred.key, kvno)
		if kerr != nil {
			return nil, kerr
		}
		c.cl = client.NewWithKeytab(cred.user, realm, kt, conf, settings...)
		err = run(ctx, func() error { return c.cl.Login() })
	}
	if err != nil {
		c.cl.Destroy()
		return nil, classify("logon of "+c.Principal(), err)
	}
	c.logger.Debug("kerberos logon", "principal", c.Principal())
	return c, nil
}

var keyNotFound = regexp.MustCompile(`matching key not found in keytab\..* kvno: (\d+) etype`)

// wantedKVNO finds, in the library's error for an AS-REP that named a key
// version the keytab lacks, that key version.
func wantedKVNO(err error) (uint32, bool) {
	if err == nil {
		return 0, false
	}
	m := keyNotFound.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, perr := strconv.ParseUint(m[1], 10, 32)
	return uint32(n), perr == nil && n != 0
}

// run calls f and returns its error, or ctx's when ctx ends first (f then
// finishes in the background).
func run(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadConfig reads krb5.conf and applies the overrides of cfg.
func loadConfig(cfg Config) (*config.Config, error) {
	path := cfg.Krb5Conf
	if path == "" {
		path = os.Getenv("KRB5_CONFIG")
		if i := strings.IndexByte(path, ':'); i >= 0 {
			path = path[:i] // a list: the first file
		}
	}
	if path == "" {
		if _, err := os.Stat("/etc/krb5.conf"); err == nil {
			path = "/etc/krb5.conf"
		}
	}
	var conf *config.Config
	if path != "" {
		var err error
		if conf, err = config.Load(path); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
		}
	} else {
		if cfg.KDC == "" || cfg.Realm == "" {
			return nil, fmt.Errorf("%w: no krb5.conf: give the realm and the KDC", ErrConfig)
		}
		conf = config.New()
	}
	if cfg.Realm != "" {
		conf.LibDefaults.DefaultRealm = strings.ToUpper(cfg.Realm)
	}
	if cfg.KDC != "" {
		if conf.LibDefaults.DefaultRealm == "" {
			return nil, fmt.Errorf("%w: a KDC without a realm", ErrConfig)
		}
		kdc := cfg.KDC
		if _, _, err := net.SplitHostPort(kdc); err != nil {
			kdc = net.JoinHostPort(strings.Trim(kdc, "[]"), "88")
		}
		realm := conf.LibDefaults.DefaultRealm
		found := false
		for i := range conf.Realms {
			if conf.Realms[i].Realm == realm {
				conf.Realms[i].KDC = []string{kdc}
				found = true
			}
		}
		if !found {
			conf.Realms = append(conf.Realms, config.Realm{Realm: realm, KDC: []string{kdc}})
		}
		conf.LibDefaults.DNSLookupKDC = false
	}
	// TCP always: tickets with PACs outgrow UDP datagrams.
	conf.LibDefaults.UDPPreferenceLimit = 1
	return conf, nil
}

// Principal is the client's user@REALM.
func (c *Client) Principal() string { return c.user + "@" + c.realm }

// Realm is the client's realm.
func (c *Client) Realm() string { return c.realm }

// Close forgets the client's tickets and stops its ticket renewal.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.cl.Destroy()
	}
}

// DefaultSPN is the service principal name of the SMB service on host.
func DefaultSPN(host string) string { return "cifs/" + strings.TrimSuffix(host, ".") }

// Ticket is a service ticket with its session key.
type Ticket struct {
	SPN    string // the service principal name asked for
	Realm  string // the service's realm
	Client string // the client's user@REALM
	EType  int32  // encryption type of the ticket's session key

	tkt    messages.Ticket
	key    types.EncryptionKey
	cname  types.PrincipalName
	crealm string
}

// Ticket obtains a service ticket for spn (e.g. "cifs/host.example.com"),
// from the client's cache when it holds a valid one.
func (c *Client) Ticket(ctx context.Context, spn string) (*Ticket, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, errors.New("krb5: client closed")
	}
	var tkt messages.Ticket
	var key types.EncryptionKey
	err := run(ctx, func() error {
		var err error
		tkt, key, err = c.cl.GetServiceTicket(spn)
		return err
	})
	if err != nil {
		return nil, classify("service ticket for "+spn, err)
	}
	c.logger.Debug("kerberos service ticket", "spn", spn, "etype", key.KeyType)
	return &Ticket{
		SPN: spn, Realm: tkt.Realm, Client: c.Principal(), EType: key.KeyType,
		tkt: tkt, key: key, cname: c.cl.Credentials.CName(), crealm: c.cl.Credentials.Realm(),
	}, nil
}

// Initiator starts a security context for spn: it obtains the ticket and
// returns an Initiator that makes the AP-REQ.
func (c *Client) Initiator(ctx context.Context, spn string) (*Initiator, error) {
	t, err := c.Ticket(ctx, spn)
	if err != nil {
		return nil, err
	}
	return NewInitiator(t, c.clock), nil
}

// StringToKey derives a user's key of etype from the password with the
// default salt (REALM followed by the user name), as the KDC does for user
// accounts.
func StringToKey(user, realm, password string, etype int32) ([]byte, error) {
	cname := types.NewPrincipalName(1, user) // KRB_NT_PRINCIPAL
	key, _, err := crypto.GetKeyFromPassword(password, cname, strings.ToUpper(realm), etype, types.PADataSequence{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCredential, err)
	}
	return key.KeyValue, nil
}
