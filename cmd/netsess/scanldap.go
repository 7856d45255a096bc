package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/scan"
)

// exitDirectory is scan's exit code when --ldap could not ask the
// directory: nothing was scanned.
const exitDirectory = 8

// bloodhoundStdout is the --bloodhound value that writes the computers
// file on standard output instead of the results.
const bloodhoundStdout = "-"

const scanDirectoryHelp = `Scanning a domain: --ldap DC asks the domain controller DC (HOST or
HOST:PORT) over LDAP for the domain's computer objects and scans each by
its DNS name (on --port, or the transport's default), together with the
targets given as arguments or with --targets (the union, each host once;
not with -). The bind uses the scan's credentials (-U, the password
sources, --nt-hash, --domain, and -k with its credential flags).
--ldap-bind chooses ntlm, kerberos or simple; the default is kerberos when
the scan logs on with Kerberos only (-k or --auth kerberos), else ntlm.
--ldap-security sealed (the default) binds on port 389 and seals every
message with the security context (NTLM's sealing, or Kerberos Wrap tokens
with confidentiality), which needs no certificate and is what a domain
controller with default settings (Samba's included) accepts; signed is the
same with integrity only, for Kerberos (the directory's answers then travel
in clear); ldaps (636) and starttls (389) run over TLS, checking the DC's
certificate against --ldap-ca FILE (or the system roots) unless
--ldap-insecure, and suit --ldap-bind simple (Samba refuses NTLM and
Kerberos binds inside TLS). A Kerberos bind asks for a ticket for
ldap/DC, so --ldap names the DC by its DNS name, or --ldap-spn gives the
service principal; without -k it logs on with -U's password or NT hash
(the realm from -U USER@REALM, a DNS --domain or krb5.conf), or with the
credential cache in KRB5CCNAME when there is no password. A Kerberos
failure (no such service principal, an expired or unreadable credential
cache, a wrong password) exits 8 like any bind the directory refuses. Disabled computers, and with --active-days N those whose
lastLogonTimestamp is older than N days (or absent), are left out;
--search-base DN searches one OU, --os PATTERN keeps matching operating
systems (a shell pattern, or a substring), --exclude-dcs and --only-dcs
select domain controllers, --include-disabled keeps disabled ones. Every
computer left out is named on stderr with its reason (disabled, stale,
os_mismatch, domain_controller, not_domain_controller, no_dns_name: a
computer without a DNS name cannot be reached and is never dropped
silently). --dns SERVER makes the scan's name lookups and the reverse
lookups of client addresses ask SERVER (the DC's DNS) instead of the
system resolver. --netbios asks a client address that reverse DNS does not
name (or names unknown to the directory) for its NetBIOS name with a node
status query (UDP 137, one second), and looks that name up as NAME$. A
directory that cannot be asked (DC unreachable, bind
refused, search failed) exits 8 and scans nothing.

BloodHound: --bloodhound DIR (needs --ldap) writes DIR/<stamp>_computers.json,
BloodHound CE computer data of version 6, and the zip the ingestors make
around it; --bloodhound - writes the JSON on stdout instead of the results.
Each scanned host is a record named by its computer SID, with the sessions
as pairs of the client computer's SID and the user's SID, resolved through
the directory (a host given as a target resolves its SID the same way; one
that does not resolve is left out and named). Collected is true only when
the host answered at a level with user names, FailureReason is the real
reason otherwise; machine accounts, anonymous sessions and the scanning
account's own are left out, as the ingestors do. The summary on stderr
counts the records, pairs, and what could not be resolved.

`

// ldapFlags are scan's directory and BloodHound flags.
type ldapFlags struct {
	dc, security, bind, ca string
	spn                    string
	insecure               bool
	activeDays, port       *int
	searchBase, os, dns    string
	netbios                bool
	excludeDCs, onlyDCs    bool
	includeDisabled        bool
	bloodhound             string
	tickets                *lazyTickets // the bind's own Kerberos client
	cmd                    string       // the command's name in messages ("" is scan)
}

// command is the name of the command the flags belong to.
func (l *ldapFlags) command() string {
	if l.cmd == "" {
		return "scan"
	}
	return l.cmd
}

// register defines the flags under their groups.
func (l *ldapFlags) register(fs *cli.FlagSet) {
	fs.Group("Directory")
	fs.StringVar(&l.dc, "ldap", "take targets from the domain controller `DC` (HOST or HOST:PORT) over LDAP, with the scan's credentials")
	l.security = "sealed"
	fs.ChoiceVar(&l.security, "ldap-security", []string{"sealed", "signed", "ldaps", "starttls"},
		"sealed (389, every message sealed by the NTLM or Kerberos context; no certificate), signed (Kerberos, integrity only), ldaps (636) or starttls (389)")
	fs.ChoiceVar(&l.bind, "ldap-bind", []string{"ntlm", "kerberos", "simple"},
		"ntlm (password or NT hash), kerberos (SASL GSSAPI) or simple (over TLS only); default kerberos with -k, else ntlm")
	fs.StringVar(&l.spn, "ldap-spn", "with --ldap-bind kerberos, the DC's LDAP service principal `NAME` (default ldap/DC)")
	fs.StringVar(&l.ca, "ldap-ca", "PEM `FILE` of the CA that signed the DC's certificate (ldaps, starttls)").Files = true
	fs.BoolVar(&l.insecure, "ldap-insecure", "do not check the DC's certificate (the connection is encrypted, but anyone on the path can read the credentials)")
	l.activeDays = fs.Int("active-days", 0, "leave out computers whose lastLogonTimestamp is older than `N` days or absent (0: keep them)")
	fs.StringVar(&l.searchBase, "search-base", "search for computers under this `DN` (an OU) instead of the whole domain")
	fs.BoolVar(&l.excludeDCs, "exclude-dcs", "leave domain controllers out")
	fs.BoolVar(&l.onlyDCs, "only-dcs", "scan domain controllers only")
	fs.StringVar(&l.os, "os", "keep computers whose operating system matches `PATTERN` (a shell pattern such as '*Server*', or a substring; case ignored)")
	fs.BoolVar(&l.includeDisabled, "include-disabled", "keep disabled computer accounts")
	fs.StringVar(&l.dns, "dns", "resolve names and client addresses with the DNS `SERVER` (HOST or HOST:PORT, the DC's DNS) instead of the system resolver")
	fs.BoolVar(&l.netbios, "netbios", "with --bloodhound, ask a client address that reverse DNS does not name for its NetBIOS name (a node status query to UDP 137)")
	l.port = fs.Int("port", 0, "scan targets that name no port, the directory's included, on `PORT` (0: the transport's default)")
	fs.Group("BloodHound")
	fs.StringVar(&l.bloodhound, "bloodhound", "write BloodHound CE computer data (JSON and zip) into `DIR`; - writes the JSON on stdout instead of the results (needs --ldap)").Files = true
}

// check refuses combinations that cannot work.
func (l *ldapFlags) check(args []string, fs *cli.FlagSet) error {
	if l.dc == "" {
		for _, name := range []string{"ldap-security", "ldap-bind", "ldap-spn", "ldap-ca", "ldap-insecure", "active-days", "netbios",
			"search-base", "exclude-dcs", "only-dcs", "os", "include-disabled", "bloodhound"} {
			if fs.Count(name) > 0 {
				return usagef("--%s goes with --ldap DC", name)
			}
		}
	}
	switch {
	case l.excludeDCs && l.onlyDCs:
		return usagef("--exclude-dcs and --only-dcs exclude each other")
	case *l.activeDays < 0:
		return usagef("--active-days: not negative")
	case *l.port < 0 || *l.port > 65535:
		return usagef("--port: 0 to 65535, not %d", *l.port)
	case l.dc != "" && slices.Contains(args, "-"):
		return usagef("--ldap and - (targets from standard input) exclude each other")
	case l.security == "sealed" && l.bind == "simple":
		return usagef("--ldap-bind simple needs --ldap-security ldaps or starttls: a simple bind sends the password")
	case (l.security == "sealed" || l.security == "signed") && (l.ca != "" || l.insecure):
		return usagef("--ldap-ca and --ldap-insecure are for --ldap-security ldaps or starttls")
	case l.security == "signed" && l.bind != "" && l.bind != "kerberos":
		return usagef("--ldap-security signed is for --ldap-bind kerberos")
	case l.netbios && l.bloodhound == "":
		return usagef("--netbios goes with --bloodhound: it resolves the sessions' client addresses")
	case l.spn != "" && l.bind != "" && l.bind != "kerberos":
		return usagef("--ldap-spn is for --ldap-bind kerberos")
	case l.ca != "" && l.insecure:
		return usagef("--ldap-ca and --ldap-insecure exclude each other")
	}
	return nil
}

// bindMethod is --ldap-bind, or its default: kerberos when the scan logs
// on with Kerberos only, else ntlm.
func (l *ldapFlags) bindMethod(cred client.Credentials) string {
	switch {
	case l.bind != "":
		return l.bind
	case cred.Kerberos != nil && !cred.NTLMFallback:
		return "kerberos"
	}
	return "ntlm"
}

// config is the directory configuration of the flags with the scan's
// credentials. A Kerberos bind takes its tickets from the scan's Kerberos
// client, or from one of its own made of -U's password or NT hash (or
// the credential cache), which close ends.
func (l *ldapFlags) config(cred client.Credentials, o client.Options, ccache string) (directory.Config, error) {
	cfg := directory.Config{
		Server:   l.dc,
		CAFile:   l.ca,
		Insecure: l.insecure,
		User:     cred.User,
		Domain:   cred.Domain,
		Password: cred.Password,
		NTHash:   cred.NTHash,
		Timeout:  o.Timeout,
		Logger:   o.Logger,
	}
	switch l.security {
	case "ldaps":
		cfg.Security = directory.LDAPS
	case "starttls":
		cfg.Security = directory.StartTLS
	case "signed":
		cfg.Security = directory.Signed
	default:
		cfg.Security = directory.Sealed
	}
	switch method := l.bindMethod(cred); method {
	case "simple":
		cfg.Bind = directory.BindSimple
	case "kerberos":
		cfg.Bind = directory.BindKerberos
		cfg.SPN = l.spn
		host := l.dc
		if h, _, err := net.SplitHostPort(l.dc); err == nil {
			host = h
		}
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && l.spn == "" {
			return cfg, fmt.Errorf("%w: a Kerberos bind asks for a ticket for ldap/DC: give --ldap the DC's DNS name, or --ldap-spn", directory.ErrConfig)
		}
		if m, ok := cred.Kerberos.(*krb5.Mechanism); ok && m.Tickets != nil {
			cfg.Kerberos = m.Tickets
			break
		}
		// One client of its own for every bind of the run (watch binds
		// again at each write): its tickets are reused, and close ends it.
		if l.tickets == nil {
			user, realm := splitKerberosUser(cred.User, cred.Domain)
			kc := krb5.CCache(ccache)
			switch {
			case user != "" && len(cred.NTHash) != 0:
				kc = krb5.NTHash(user, realm, cred.NTHash)
			case user != "" && cred.Password != "":
				kc = krb5.Password(user, realm, cred.Password)
			}
			l.tickets = &lazyTickets{cred: kc, cfg: krb5.Config{Logger: o.Logger}}
		}
		cfg.Kerberos = l.tickets
	default:
		if l.security == "signed" {
			return cfg, fmt.Errorf("%w: --ldap-security signed is for --ldap-bind kerberos", directory.ErrConfig)
		}
		if l.spn != "" {
			return cfg, fmt.Errorf("%w: --ldap-spn is for --ldap-bind kerberos", directory.ErrConfig)
		}
	}
	return cfg, nil
}

// close ends the Kerberos client of the bind, when it has its own.
func (l *ldapFlags) close() {
	if l.tickets != nil {
		l.tickets.close()
	}
}

// query is the computer search of the flags.
func (l *ldapFlags) query() directory.Query {
	q := directory.Query{SearchBase: l.searchBase, ActiveDays: *l.activeDays, OS: l.os, IncludeDisabled: l.includeDisabled}
	switch {
	case l.excludeDCs:
		q.DCs = directory.ExcludeDCs
	case l.onlyDCs:
		q.DCs = directory.OnlyDCs
	}
	return q
}

// lookup is the scan's name lookup through --dns (nil: the system's).
func (l *ldapFlags) lookup() func(ctx context.Context, host string) ([]netip.Addr, error) {
	if l.dns == "" {
		return nil
	}
	r := directory.DNSVia(l.dns)
	return func(ctx context.Context, host string) ([]netip.Addr, error) {
		return r.LookupNetIP(ctx, "ip", host)
	}
}

// domainScan is what --ldap adds to a scan: the directory's targets and,
// with --bloodhound, the resolution of every result into the computers
// file.
type domainScan struct {
	conn     *directory.Conn
	disc     *directory.Discovery
	comps    map[string]*directory.Computer
	targets  []scan.Target
	resolver *directory.Resolver
	bh       *bloodhound.Computers
}

// discover binds to the DC, searches the computers and names every one
// left out on stderr.
func (l *ldapFlags) discover(ctx context.Context, cred client.Credentials, o client.Options, ccache string, stderr io.Writer) (*domainScan, error) {
	cfg, err := l.config(cred, o, ccache)
	if err != nil {
		return nil, err
	}
	conn, err := directory.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	disc, err := conn.Computers(ctx, l.query())
	if err != nil {
		conn.Close()
		return nil, err
	}
	for _, e := range disc.Excluded {
		name := e.Computer.DNSHostName
		if name == "" {
			name = e.Computer.SAMAccountName
		}
		fmt.Fprintf(stderr, "netsess %s: %s: not scanned: %s\n", l.command(), name, e.Reason)
	}
	fmt.Fprintf(stderr, "netsess %s: directory %s: %d computers, %d to scan, %d left out\n",
		l.command(), disc.Domain.DNSName, disc.Seen, len(disc.Targets), len(disc.Excluded))
	ds := &domainScan{conn: conn, disc: disc}
	if l.bloodhound != "" {
		ds.resolver = directory.NewResolver(conn, l.resolverConfig(cred))
		ds.bh = bloodhound.NewComputers(bloodhound.Options{CollectorVersion: "netsess " + versionString(buildInfo()), Domain: conn.Domain()})
	}
	return ds, nil
}

// resolverConfig is the name resolution of the flags: the scanning
// account's own sessions left out, reverse lookups through --dns.
func (l *ldapFlags) resolverConfig(cred client.Credentials) directory.ResolverConfig {
	collector := cred.User
	if cred.Domain != "" {
		collector = cred.Domain + `\` + cred.User
	}
	rc := directory.ResolverConfig{Collector: collector}
	if l.dns != "" {
		rc.Reverse = directory.ReverseVia(l.dns)
	}
	if l.netbios {
		rc.NetBIOS = directory.NodeStatus(0, 0)
	}
	return rc
}

// add resolves a result into the computers file. The resolution outlives
// an interrupted scan's context: each request has the directory's own
// deadline.
func (ds *domainScan) add(ctx context.Context, r *scan.Result) {
	if ds.bh == nil {
		return
	}
	ds.bh.Add(ds.resolver.Resolve(context.WithoutCancel(ctx), r, ds.comps[r.Target]))
}

// finish writes the BloodHound output (to dir, or stdout for -) and its
// summary on stderr.
func (ds *domainScan) finish(dir string, stdout, stderr io.Writer, quiet bool) error {
	defer ds.conn.Close()
	if ds.bh == nil {
		return nil
	}
	if dir == bloodhoundStdout {
		if err := ds.bh.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		jsonPath, zipPath, err := ds.bh.WriteDir(dir)
		if err != nil {
			return err
		}
		if !quiet {
			fmt.Fprintf(stderr, "netsess scan: BloodHound data: %s, %s\n", jsonPath, zipPath)
		}
	}
	if quiet {
		return nil
	}
	rep, st := ds.bh.Report(), ds.resolver.Stats()
	fmt.Fprintf(stderr, "netsess scan: BloodHound: %d computers, %d session pairs (%d duplicates merged), %d sessions unresolved, %d of hosts not collected withheld, skipped %s\n",
		rep.Hosts, rep.Pairs, rep.Duplicates, rep.Unresolved, rep.Withheld, skipCounts(rep.Skipped))
	fmt.Fprintf(stderr, "netsess scan: names: %d sessions, %d resolved, %d users and %d clients unresolved, %d lookups\n",
		st.Sessions, st.Resolved, st.UnresolvedUsers, st.UnresolvedClients, st.Lookups)
	if len(rep.NoSID) > 0 {
		fmt.Fprintf(stderr, "netsess scan: BloodHound: left out, no computer SID: %s\n", strings.Join(rep.NoSID, ", "))
	}
	return nil
}

// skipCounts renders the skipped sessions by reason, in a stable order.
func skipCounts(m map[directory.Skip]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// directoryText is the message of a directory failure.
func directoryText(err error) string {
	switch {
	case errors.Is(err, directory.ErrConfig):
		return "--ldap: " + userText(err)
	case errors.Is(err, directory.ErrBind):
		for _, r := range kerberosReasons {
			if errors.Is(err, r.err) {
				hint := r.hint
				if r.err == krb5.ErrUnknownService {
					hint = "the KDC knows no such service principal: give --ldap the DC's DNS name (the ticket is for ldap/DC) or name the principal with --ldap-spn"
				}
				return "--ldap: the Kerberos bind failed (" + userText(err) + "); " + hint
			}
		}
		return "--ldap: the domain controller refused the bind (" + userText(err) + "); check -U and the password, or --ldap-security/--ldap-bind"
	}
	return "--ldap: " + userText(err)
}
