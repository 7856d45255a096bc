package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/spnego"
)

// Security is how the LDAP connection is protected. A domain controller with
// default settings refuses simple, NTLM and Kerberos binds on a plain
// connection without signing or sealing: a simple bind runs over TLS, an
// NTLM or Kerberos bind over TLS (Windows) or sealed (Windows and Samba,
// which refuses SASL binds inside TLS).
type Security int

const (
	// LDAPS connects with TLS from the start (port 636 by default).
	LDAPS Security = iota
	// StartTLS connects in clear (port 389 by default) and upgrades with
	// the StartTLS extended operation before binding.
	StartTLS
	// Sealed connects in clear (port 389 by default) and binds with NTLM
	// inside SPNEGO (SASL GSS-SPNEGO) or with Kerberos (SASL GSSAPI),
	// with sealing: every message after the bind is signed and encrypted
	// by the security context (a SASL security layer: NTLM's sealing, or
	// Kerberos Wrap tokens with confidentiality). A DC with default
	// settings (Samba's included) takes SASL binds this way only,
	// refusing them over TLS. It needs no certificate and works with
	// BindNTLM and BindKerberos.
	Sealed
	// Signed is Sealed with integrity only, for BindKerberos: the
	// messages after the bind travel in clear, each in a signed Kerberos
	// Wrap token. Prefer Sealed; Signed exists for servers that offer
	// no confidentiality.
	Signed
)

// String names the security as the command line spells it.
func (s Security) String() string {
	switch s {
	case LDAPS:
		return "ldaps"
	case StartTLS:
		return "starttls"
	case Sealed:
		return "sealed"
	case Signed:
		return "signed"
	}
	return fmt.Sprintf("Security(%d)", int(s))
}

// BindMethod is how the connection authenticates.
type BindMethod int

const (
	// BindNTLM authenticates with NTLM (password or NT hash).
	BindNTLM BindMethod = iota
	// BindSimple sends the user and password in a simple bind (over TLS
	// only). The user is a UPN (user@realm), DOMAIN\user or a DN.
	BindSimple
	// BindKerberos authenticates with Kerberos as SASL GSSAPI (RFC
	// 4752), with a ticket for Config.SPN from Config.Kerberos and mutual
	// authentication; Sealed or Signed protects every later message with
	// the context's Wrap tokens, over TLS the bind chooses no layer.
	BindKerberos
)

// String names the method.
func (m BindMethod) String() string {
	switch m {
	case BindNTLM:
		return "ntlm"
	case BindSimple:
		return "simple"
	case BindKerberos:
		return "kerberos"
	}
	return fmt.Sprintf("BindMethod(%d)", int(m))
}

// DefaultPageSize is the page size of a search when Config.PageSize is 0.
const DefaultPageSize = 500

// DefaultTimeout bounds one LDAP request when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Config says how to reach and bind to a domain controller.
type Config struct {
	// Server is the domain controller: HOST or HOST:PORT (default port 636
	// for LDAPS, 389 for StartTLS).
	Server string
	// Security is LDAPS (the zero value), StartTLS, Sealed or Signed.
	Security Security
	// CAFile is a PEM file of the certificates that may sign the DC's
	// certificate (Samba writes its own CA to tls/ca.pem in its private
	// directory). Empty means the system roots.
	CAFile string
	// RootCAs, when not nil, is used instead of CAFile.
	RootCAs *x509.CertPool
	// ServerName is the name the certificate must carry; empty means the
	// host part of Server.
	ServerName string
	// Insecure skips the certificate check. The connection is still
	// encrypted, but anyone on the path can read the credentials.
	Insecure bool
	// Bind is the bind method; User, Domain (NetBIOS or DNS) and Password
	// or NTHash are the credentials. An empty User binds anonymously
	// (most DCs then refuse to search).
	Bind     BindMethod
	User     string
	Domain   string
	Password string
	NTHash   []byte
	// Kerberos gives the service ticket of a BindKerberos bind (a
	// *krb5.Client); the user and password fields are then unused.
	Kerberos krb5.TicketSource
	// SPN is the DC's LDAP service principal for BindKerberos; empty
	// means DefaultSPN of ServerName, or of the host part of Server.
	SPN string
	// PageSize is the paged-search page size (0: DefaultPageSize).
	PageSize uint32
	// Timeout bounds each request (0: DefaultTimeout).
	Timeout time.Duration
	// Dial opens the TCP connection; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// stepFunc is one step of a security context: the token to send for the
// token received (nil at first), and whether the context is complete.
type stepFunc func(ctx context.Context, in []byte) (out []byte, done bool, err error)

// Errors of Dial, matched with errors.Is.
var (
	// ErrConfig is a Config that cannot work (no server, a sealed
	// connection with a simple bind, a Kerberos bind without tickets, an
	// unreadable CA file).
	ErrConfig = errors.New("directory: configuration")
	// ErrConnect is a DC that could not be reached or a TLS handshake
	// that failed (a certificate not signed by the CA, for one).
	ErrConnect = errors.New("directory: connect")
	// ErrBind is a bind the DC refused.
	ErrBind = errors.New("directory: bind refused")
	// ErrSearch is a search that failed.
	ErrSearch = errors.New("directory: search failed")
	// ErrNotFound is a name the directory does not know.
	ErrNotFound = errors.New("directory: not found")
	// ErrAmbiguous is a name that matched more than one object.
	ErrAmbiguous = errors.New("directory: ambiguous name")
)

// Domain describes the domain a connection serves.
type Domain struct {
	// BaseDN is the domain's naming context, e.g. DC=ad,DC=example.
	BaseDN string
	// DNSName is the domain's DNS name (lower case), NetBIOSName its
	// NetBIOS name (upper case), SID its SID.
	DNSName     string
	NetBIOSName string
	SID         string
}

// Conn is a bound LDAP connection to a domain controller. It is safe for
// concurrent use.
type Conn struct {
	l       *ldap.Conn
	cfg     Config
	domain  Domain
	log     *slog.Logger
	timeout time.Duration
	pages   atomic.Int64
}

// Dial connects to cfg.Server over TLS, binds, and reads the domain's names
// and SID from the root DSE and the configuration partition.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	host, port, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		host = strings.Trim(cfg.Server, "[]")
		port = "636"
		if cfg.Security != LDAPS {
			port = "389"
		}
	}
	tc, err := tlsConfig(cfg, host)
	if err != nil {
		return nil, err
	}
	dial := cfg.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: timeout}
		dial = d.DialContext
	}
	addr := net.JoinHostPort(host, port)
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, addr, err)
	}
	// The context bounds the whole of Dial: closing the socket interrupts
	// whatever request is in progress.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	var conn net.Conn
	switch cfg.Security {
	case Sealed, Signed:
		conn = raw
	case LDAPS:
		tconn := tls.Client(raw, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("%w: %s: TLS: %w%s", ErrConnect, addr, err, serialHint(err))
		}
		conn = tconn
	default:
		if conn, err = startTLS(ctx, raw, tc); err != nil {
			raw.Close()
			return nil, fmt.Errorf("%w: %s: StartTLS: %w%s", ErrConnect, addr, ctxErr(ctx, err), serialHint(err))
		}
	}
	c := &Conn{cfg: cfg, log: log, timeout: timeout}
	// SASL binds run on the connection before go-ldap takes it.
	if cfg.Bind != BindSimple {
		conn.SetDeadline(time.Now().Add(timeout))
		layer, maxSend, err := c.saslBind(ctx, conn, host)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: %s bind as %s: %w", ErrBind, cfg.Bind, c.bindUser(), ctxErr(ctx, err))
		}
		conn.SetDeadline(time.Time{})
		if layer != nil {
			conn = &saslConn{Conn: conn, layer: layer, maxSend: maxSend}
		}
	}
	c.l = ldap.NewConn(conn, true)
	c.l.Start()
	c.l.SetTimeout(timeout)
	if err := c.setup(); err != nil {
		c.l.Close()
		return nil, ctxErr(ctx, err)
	}
	return c, nil
}

// checkConfig refuses combinations that cannot bind.
func checkConfig(cfg Config) error {
	switch {
	case cfg.Server == "":
		return fmt.Errorf("%w: no server", ErrConfig)
	case cfg.Security == Sealed && cfg.Bind == BindSimple:
		return fmt.Errorf("%w: a sealed connection needs an NTLM or Kerberos bind", ErrConfig)
	case cfg.Security == Signed && cfg.Bind != BindKerberos:
		return fmt.Errorf("%w: a signed connection needs a Kerberos bind", ErrConfig)
	case cfg.Bind == BindKerberos && cfg.Kerberos == nil:
		return fmt.Errorf("%w: a Kerberos bind without a Kerberos client", ErrConfig)
	}
	return nil
}

// bindUser names the account of the bind, for messages.
func (c *Conn) bindUser() string {
	if c.cfg.Bind == BindKerberos {
		if p, ok := c.cfg.Kerberos.(interface{ Principal() string }); ok {
			return p.Principal()
		}
		return "the Kerberos client"
	}
	return c.cfg.User
}

// DefaultSPN is the LDAP service principal of the domain controller host.
func DefaultSPN(host string) string { return "ldap/" + strings.TrimSuffix(host, ".") }

func tlsConfig(cfg Config, host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	var roots *x509.CertPool
	switch {
	case cfg.Insecure:
		tc.InsecureSkipVerify = true
		return tc, nil
	case cfg.RootCAs != nil:
		roots = cfg.RootCAs
	case cfg.CAFile != "":
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if err := addPEM(pool, pem); err != nil {
			return nil, fmt.Errorf("%w: CA file %s: %w%s", ErrConfig, cfg.CAFile, err, serialHint(err))
		}
		roots = pool
	}
	// The chain is verified as crypto/tls would, but the name is checked
	// here: a certificate without subject alternative names (Samba's
	// self-signed one) is matched by its Common Name, which crypto/x509
	// no longer does.
	name := tc.ServerName
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPeer(cs.PeerCertificates, roots, name)
	}
	return tc, nil
}

// verifyPeer verifies a server's chain against roots (nil: the system's)
// and its name against name.
func verifyPeer(certs []*x509.Certificate, roots *x509.CertPool, name string) error {
	if len(certs) == 0 {
		return errors.New("server sent no certificate")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 {
		return leaf.VerifyHostname(name)
	}
	if cn := strings.TrimSuffix(leaf.Subject.CommonName, "."); cn == "" || !strings.EqualFold(cn, strings.TrimSuffix(name, ".")) {
		return fmt.Errorf("certificate is for %q (Common Name, no alternative names), not %q", leaf.Subject.CommonName, name)
	}
	return nil
}

// addPEM adds every certificate of a PEM file to pool, saying why one does
// not parse (AppendCertsFromPEM would skip it silently).
func addPEM(pool *x509.CertPool, data []byte) error {
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return err
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate")
	}
	return nil
}

// serialHint explains the error Go gives for a certificate with a negative
// serial number, which Samba's self-signed certificates have.
func serialHint(err error) string {
	if err != nil && strings.Contains(err.Error(), "negative serial number") {
		return " (Samba's self-signed certificates have negative serial numbers, which Go refuses unless " +
			"GODEBUG=x509negativeserial=1; or give the DC a certificate from a CA)"
	}
	return ""
}

// ctxErr adds the context's error to err when the context ended.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return err
}

func (c *Conn) setup() error {
	if c.cfg.Bind == BindSimple {
		cfg := c.cfg
		var err error
		user := cfg.User
		switch {
		case user == "":
			err = c.l.UnauthenticatedBind("")
		default:
			if !strings.ContainsAny(user, `@\=`) && cfg.Domain != "" {
				user = cfg.Domain + `\` + user
			}
			err = c.l.Bind(user, cfg.Password)
		}
		if err != nil {
			return fmt.Errorf("%w: simple bind as %s: %w", ErrBind, cfg.User, err)
		}
	}
	c.log.Debug("ldap bound", "server", c.cfg.Server, "method", c.cfg.Bind.String(), "security", c.cfg.Security.String(), "user", c.bindUser())
	return c.readDomain()
}

// saslBind binds with NTLM inside SPNEGO (SASL GSS-SPNEGO, which Windows
// and Samba both take) or with Kerberos (SASL GSSAPI), and returns the
// security layer for what follows (nil over TLS) with the largest buffer
// the server takes (0: no limit of its own).
func (c *Conn) saslBind(ctx context.Context, conn net.Conn, host string) (saslLayer, int, error) {
	cfg := c.cfg
	switch cfg.Bind {
	case BindNTLM:
		user, domain := cfg.User, cfg.Domain
		if domain == "" {
			user, domain = ntlm.SplitUser(user)
		}
		cl := &ntlm.Client{User: user, Domain: domain, Password: cfg.Password, NTHash: cfg.NTHash}
		if cfg.Security != Sealed {
			// Over TLS neither signing nor sealing: the TLS channel
			// protects the messages, and a DC refuses a SASL layer
			// inside TLS.
			cl.Flags = ntlm.DefaultClientFlags &^ (ntlm.FlagSign | ntlm.FlagSeal | ntlm.FlagAlwaysSign)
		}
		sc := spnego.MustInitiator(cl).NewContext()
		if err := saslBind(ctx, conn, "GSS-SPNEGO", sc.Step); err != nil {
			return nil, 0, err
		}
		if cfg.Security == Sealed {
			_, mc := sc.Negotiated()
			if nc, ok := mc.(*ntlm.ClientContext); !ok || nc.Flags()&ntlm.FlagSeal == 0 {
				return nil, 0, errors.New("the server did not agree to sealing")
			}
			return sealerLayer{sc}, 0, nil
		}
		return nil, 0, nil
	case BindKerberos:
		spn := cfg.SPN
		if spn == "" {
			name := cfg.ServerName
			if name == "" {
				name = host
			}
			spn = DefaultSPN(name)
		}
		t, err := cfg.Kerberos.Ticket(ctx, spn)
		if err != nil {
			return nil, 0, err
		}
		g := &gssapiBind{ini: krb5.NewInitiator(t, nil), want: layerNone}
		switch cfg.Security {
		case Sealed:
			g.want = layerConf
		case Signed:
			g.want = layerIntegrity
			g.ini.Flags &^= krb5.FlagConf
		}
		if err := saslBind(ctx, conn, "GSSAPI", g.step); err != nil {
			return nil, 0, err
		}
		return g.layer(), g.maxSend, nil
	}
	return nil, 0, fmt.Errorf("%w: bind method %v", ErrConfig, cfg.Bind)
}

func (c *Conn) readDomain() error {
	res, err := c.l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "configurationNamingContext"}, nil))
	if err != nil || len(res.Entries) != 1 {
		return fmt.Errorf("%w: root DSE: %v", ErrSearch, err)
	}
	base := res.Entries[0].GetAttributeValue("defaultNamingContext")
	confNC := res.Entries[0].GetAttributeValue("configurationNamingContext")
	if base == "" {
		return fmt.Errorf("%w: root DSE has no defaultNamingContext", ErrSearch)
	}
	d := Domain{BaseDN: base, DNSName: dnsNameOf(base)}
	res, err = c.l.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		return fmt.Errorf("%w: domain object: %v", ErrSearch, err)
	}
	if d.SID, err = DecodeSID(res.Entries[0].GetRawAttributeValue("objectSid")); err != nil {
		return fmt.Errorf("%w: domain SID: %w", ErrSearch, err)
	}
	if confNC != "" {
		res, err = c.l.Search(ldap.NewSearchRequest("CN=Partitions,"+confNC, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=crossRef)(nCName="+ldap.EscapeFilter(base)+"))", []string{"nETBIOSName"}, nil))
		if err == nil && len(res.Entries) == 1 {
			d.NetBIOSName = strings.ToUpper(res.Entries[0].GetAttributeValue("nETBIOSName"))
		}
	}
	c.domain = d
	return nil
}

// dnsNameOf turns DC=ad,DC=example into ad.example.
func dnsNameOf(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return ""
	}
	var labels []string
	for _, rdn := range parsed.RDNs {
		for _, a := range rdn.Attributes {
			if strings.EqualFold(a.Type, "DC") {
				labels = append(labels, strings.ToLower(a.Value))
			}
		}
	}
	return strings.Join(labels, ".")
}

// Domain returns the domain the connection serves.
func (c *Conn) Domain() Domain { return c.domain }

// Pages is the number of result pages the connection's searches have
// received so far.
func (c *Conn) Pages() int64 { return c.pages.Load() }

// Close closes the connection.
func (c *Conn) Close() error { return c.l.Close() }

// LDAP returns the underlying go-ldap connection, for searches this package
// does not offer.
func (c *Conn) LDAP() *ldap.Conn { return c.l }

// search runs a paged subtree search under base, interrupted when ctx ends.
func (c *Conn) search(ctx context.Context, base, filter string, attrs []string) ([]*ldap.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	size := c.cfg.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	paging := ldap.NewControlPaging(size)
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs,
		[]ldap.Control{paging})
	var entries []*ldap.Entry
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrSearch, filter, err)
		}
		res, err := c.l.Search(req)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrSearch, filter, err)
		}
		c.pages.Add(1)
		entries = append(entries, res.Entries...)
		ctl, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if ctl == nil || len(ctl.Cookie) == 0 {
			break
		}
		paging.SetCookie(ctl.Cookie)
	}
	return entries, nil
}
