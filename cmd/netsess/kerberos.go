package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/krb5"
)

// The values of --auth that choose the mechanism (the others are DCE/RPC
// protection levels over tcp, which imply NTLM).
const (
	mechKerberos = "kerberos"
	mechNTLM     = "ntlm"
	mechAuto     = "auto"
)

// kerberosHelp is the Kerberos paragraph of the client commands' help.
const kerberosHelp = `Kerberos:
  -k / --kerberos (or --auth kerberos) logs on with Kerberos and never falls
  back to NTLM: over smb in SPNEGO in the SMB logon; over tcp as DCE/RPC's
  DCE-style Kerberos (auth type 16, or 9 with --spnego) at --auth connect,
  integrity (the default) or privacy, with a ticket for host/HOST. The key comes from -U's password (or the other
  password sources), --aes-key, --nt-hash (as the RC4 key) or --keytab; with
  --no-pass, or -k without -U, from the credential cache in KRB5CCNAME
  ("FILE:" prefix or not; kinit's cache works as is). The realm is -U's
  USER@REALM, --domain, or krb5.conf's default (KRB5_CONFIG); --dc-ip names the
  KDC (then no krb5.conf is needed). The service ticket is for cifs/HOST
  (host/HOST over tcp) unless --spn names another. --auth auto offers Kerberos first and NTLM
  after it, and --debug says which one the server took.
`

// kerbFlags are the Kerberos flags of the client commands.
type kerbFlags struct {
	kerberos, noPass   bool
	aesKey, keytab     string
	dcIP, spn          string
	tickets            *lazyTickets
	mechanismRequested string // kerberos, ntlm, auto or ""
	ccache             string // KRB5CCNAME, for --no-pass
}

// register defines the Kerberos flags under the current group.
func (k *kerbFlags) register(fs *cli.FlagSet) {
	fs.BoolVar(&k.kerberos, "kerberos,k", "log on with Kerberos, never NTLM; see Kerberos below")
	fs.BoolVar(&k.noPass, "no-pass", "with Kerberos, take the tickets from the credential cache in KRB5CCNAME")
	fs.StringVar(&k.aesKey, "aes-key", "with Kerberos, log on with this AES-128 or AES-256 key (32 or 64 hex digits) of -U's account").Arg = "HEX"
	fs.StringVar(&k.keytab, "keytab", "with Kerberos, log on with -U's keys from this keytab `FILE`").Files = true
	fs.StringVar(&k.dcIP, "dc-ip", "with Kerberos, the KDC's `ADDRESS` (host or IP, optional :PORT) instead of krb5.conf's")
	fs.StringVar(&k.spn, "spn", "with Kerberos, the service principal `NAME` (default cifs/HOST over smb, host/HOST over tcp)")
}

// used reports whether a Kerberos-only flag was given.
func (k *kerbFlags) given() bool {
	return k.kerberos || k.noPass || k.aesKey != "" || k.keytab != "" || k.dcIP != "" || k.spn != ""
}

// wants reports whether the logon uses Kerberos (-k, --auth kerberos or
// auto), and whether it takes no password (--no-pass, --aes-key,
// --keytab, or no -U: the credential cache), so that the password
// sources are not asked.
func (k *kerbFlags) wants(mech, user string) (kerberos, noPassword bool) {
	kerberos = k.kerberos || mech == mechKerberos || mech == mechAuto
	return kerberos, kerberos && (k.noPass || k.aesKey != "" || k.keytab != "" || user == "")
}

// apply adds Kerberos to the options when the flags ask for it. mech is
// --auth's mechanism choice ("" when --auth gave none or a protection
// level); o.Credentials hold what -U and the password sources gave.
func (k *kerbFlags) apply(o *client.Options, mech string, c *connFlags) error {
	if k.kerberos {
		if mech == mechNTLM || mech == mechAuto {
			return usagef("-k asks for Kerberos only; it excludes --auth %s", mech)
		}
		mech = mechKerberos
	}
	k.mechanismRequested = mech
	if mech != mechKerberos && mech != mechAuto {
		if k.given() {
			return usagef("--no-pass, --aes-key, --keytab, --dc-ip and --spn are for Kerberos: add -k (or --auth kerberos or auto)")
		}
		return nil
	}
	if c.anonymous {
		return usagef("--anonymous excludes Kerberos")
	}
	if c.transport == client.TransportTCP && c.auth == "none" {
		return usagef("--auth none excludes Kerberos over tcp: Kerberos authenticates the DCE/RPC bind (levels connect, integrity and privacy)")
	}
	userPart, _, _ := strings.Cut(c.user, "%")
	user, realm := splitKerberosUser(userPart, c.domain)
	cred, err := k.credential(user, realm, o.Credentials, c)
	if err != nil {
		return err
	}
	if k.dcIP != "" && realm == "" {
		return usagef("--dc-ip needs the realm: -U USER@REALM or --domain REALM")
	}
	cfg := krb5.Config{KDC: k.dcIP, Logger: o.Logger}
	if k.dcIP != "" {
		cfg.Realm = realm
	}
	k.tickets = &lazyTickets{cred: cred, cfg: cfg}
	o.Credentials.Kerberos = &krb5.Mechanism{Tickets: k.tickets, SPN: k.spn}
	o.Credentials.Anonymous = false
	o.Credentials.NTLMFallback = mech == mechAuto && o.Credentials.User != "" && (o.Credentials.Password != "" || len(o.Credentials.NTHash) != 0)
	if !o.Credentials.NTLMFallback {
		// Nothing of the NTLM credentials may be used.
		o.Credentials.Password, o.Credentials.NTHash = "", nil
	}
	return nil
}

// credential picks the Kerberos credential form from the flags; nt is
// what -U, --nt-hash and the password sources resolved to.
func (k *kerbFlags) credential(user, realm string, nt client.Credentials, c *connFlags) (krb5.Credential, error) {
	forms := 0
	for _, b := range []bool{k.noPass, k.aesKey != "", k.keytab != "", c.ntHash != ""} {
		if b {
			forms++
		}
	}
	if forms > 1 {
		return krb5.Credential{}, usagef("--no-pass, --aes-key, --keytab and --nt-hash exclude each other")
	}
	if (k.aesKey != "" || k.keytab != "") && user == "" {
		return krb5.Credential{}, usagef("--aes-key and --keytab need -U")
	}
	_, _, hasPassword := strings.Cut(c.user, "%")
	switch {
	case k.noPass || user == "":
		if hasPassword || c.passwordFile != "" {
			return krb5.Credential{}, usagef("--no-pass excludes a password")
		}
		return krb5.CCache(k.ccache), nil
	case k.aesKey != "":
		b, err := hex.DecodeString(k.aesKey)
		if err != nil || (len(b) != 16 && len(b) != 32) {
			return krb5.Credential{}, usagef("--aes-key: want 32 or 64 hex digits")
		}
		return krb5.AESKey(user, realm, b), nil
	case k.keytab != "":
		return krb5.Keytab(user, realm, k.keytab), nil
	case len(nt.NTHash) != 0:
		return krb5.NTHash(user, realm, nt.NTHash), nil
	}
	return krb5.Password(user, realm, nt.Password), nil
}

// splitKerberosUser takes the user and realm from -U (USER@REALM,
// REALM\USER when REALM is a DNS name) and --domain; a NetBIOS domain
// is no realm, so krb5.conf's default realm is used then.
func splitKerberosUser(s, domain string) (user, realm string) {
	user = s
	if u, r, ok := strings.Cut(s, "@"); ok {
		user, realm = u, r
	} else if d, u, ok := strings.Cut(s, `\`); ok {
		user, realm = u, d
	}
	if realm == "" {
		realm = domain
	}
	if !strings.Contains(realm, ".") {
		realm = ""
	}
	return user, strings.ToUpper(realm)
}

// close ends the Kerberos client, if one logged on.
func (k *kerbFlags) close() {
	if k.tickets != nil {
		k.tickets.close()
	}
}

// logMechanism says, in --debug output, which mechanism logged on.
func logMechanism(log *slog.Logger, server, requested string, used auth.Mechanism) {
	if log == nil || used == "" {
		return
	}
	name := mechNTLM
	if used == auth.MechKerberos || used == auth.MechMSKerberos {
		name = mechKerberos
	}
	log.Debug("logged on", "server", server, "auth", name, "requested", requested, "mechanism", used.String())
}

// lazyTickets is a Kerberos client that logs on (asks the KDC for a
// ticket-granting ticket) when the first service ticket is needed, with
// the context of that logon, and serves every later one (scan's hosts)
// from the same logon.
type lazyTickets struct {
	cred krb5.Credential
	cfg  krb5.Config

	mu  sync.Mutex
	cl  *krb5.Client
	err error
}

// Ticket implements krb5.TicketSource.
func (l *lazyTickets) Ticket(ctx context.Context, spn string) (*krb5.Ticket, error) {
	l.mu.Lock()
	if l.cl == nil && l.err == nil {
		cl, err := krb5.NewClient(ctx, l.cred, l.cfg)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				l.err = err
			}
			l.mu.Unlock()
			return nil, fmt.Errorf("kerberos logon: %w", err)
		}
		l.cl = cl
	}
	cl, err := l.cl, l.err
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("kerberos logon: %w", err)
	}
	t, err := cl.Ticket(ctx, spn)
	if err != nil {
		return nil, fmt.Errorf("kerberos service ticket for %s: %w", spn, err)
	}
	return t, nil
}

func (l *lazyTickets) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cl != nil {
		l.cl.Close()
	}
}

// kerberosReasons are the Kerberos failures a message names, with what
// the user can do about each.
var kerberosReasons = []struct {
	err  error
	hint string
}{
	{krb5.ErrWrongPassword, "check the password or key of the account"},
	{krb5.ErrUnknownUser, "check the user name and the realm (-U USER@REALM)"},
	{krb5.ErrUnknownService, "the KDC knows no such service principal: connect by the server's DNS name (the ticket is for cifs/HOST) or name the SPN with --spn"},
	{krb5.ErrClockSkew, "the clocks of this host and the KDC or the server differ by more than five minutes: synchronise them"},
	{krb5.ErrKDCUnreachable, "no KDC answered: check --dc-ip or krb5.conf (KRB5_CONFIG)"},
	{krb5.ErrCredential, "the credential cannot be used: check the keytab, the key or the credential cache (KRB5CCNAME)"},
	{krb5.ErrConfig, "check krb5.conf (KRB5_CONFIG), or give --dc-ip with -U USER@REALM"},
	{krb5.ErrNoSubkey, "the server's answer carries no usable session key"},
	{krb5.ErrIntegrity, "the server's answer does not verify: it is not the service the ticket is for"},
	{krb5.ErrTicketTime, "the ticket is expired or not yet valid: log on again (kinit)"},
}

// kerberosFailure describes a logon failure of a Kerberos logon: the
// Kerberos reason when there is one, else the server's refusal, which
// with Kerberos only may mean that it offers no Kerberos.
func kerberosFailure(err error, requested string) (string, []string, bool) {
	if requested != mechKerberos && requested != mechAuto {
		return "", nil, false
	}
	for _, r := range kerberosReasons {
		if errors.Is(err, r.err) {
			what := strings.TrimPrefix(r.err.Error(), "krb5: ")
			return "logon failure: kerberos: " + what + " (" + strings.TrimPrefix(userText(innermost(err)), "krb5: ") + ")", []string{r.hint}, true
		}
	}
	if requested == mechKerberos {
		return "logon failure: the server refused the Kerberos logon" + statusSuffix(err, " ("),
			[]string{"the server may not offer Kerberos (NTLM only) or not know the service principal; Kerberos only was asked for, so NTLM was not tried (--auth auto tries it after Kerberos)"}, true
	}
	return "", nil, false
}
