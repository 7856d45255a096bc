package addc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/netsession/netsession/internal/sambapeer"
)

// Accounts every domain has. AdminUser is a member of Domain Admins; User
// is a plain domain user. AdministratorPassword is the built-in
// Administrator's.
const (
	AdminUser             = "nsad_admin"
	AdminPassword         = "AdminPass1!x"
	User                  = "nsad_user"
	UserPassword          = "UserPass1!x"
	AdministratorPassword = "Adm1nistrator!x"
	// ServerAccount is the member server's computer account (sAMAccountName
	// without the trailing $), ServerPassword its machine password.
	ServerAccount  = "SRV"
	ServerPassword = "SrvMachinePass1!x"
)

// Slots is the number of domain controllers that can run at once on a
// machine. It is one: a DC's smbd reaches its winbindd through the socket
// directory compiled into libwbclient, which no smb.conf option moves, so
// two DCs at once would each talk to whichever winbindd bound that socket
// last, and logons to the other fail (NT_STATUS_INTERNAL_ERROR). Test
// binaries that each want a DC take turns through the slot's lock; the
// slot still gives each DC its own addresses and realm names.
const Slots = 1

// DC is a running private Samba AD domain controller.
type DC struct {
	Slot       int
	Dir        string // the instance directory
	Addr       string // the DC's loopback address, e.g. 127.0.0.50
	ServerAddr string // the member server's loopback address, e.g. 127.0.0.51
	DNSDomain  string // e.g. ad0.netsess.test
	Realm      string // e.g. AD0.NETSESS.TEST
	Domain     string // NetBIOS domain, e.g. NSAD0
	Host       string // the DC's DNS name, e.g. dc.ad0.netsess.test
	ServerHost string // the member server's DNS name, e.g. srv.ad0.netsess.test
	DomainSID  string // e.g. S-1-5-21-...
	Conf       string // the DC's smb.conf
	ClientConf string // smb.conf for smbclient and rpcclient (-s)
	Krb5Conf   string // krb5.conf pointing at the DC (KRB5_CONFIG)
	Keytab     string // the member server's keytab (SRV$, cifs/ and host/ SPNs)
	// Provisioning is how long provisioning took (samba-tool domain
	// provision alone).
	Provisioning time.Duration

	samba    *exec.Cmd
	sambaEnd chan struct{}
	slotLock *os.File

	mu      sync.Mutex
	stopped bool
	zones   []string // reverse zones AddClient created
}

// Require skips tb when this machine cannot run a private AD DC, and fails
// it instead when CI=true.
func Require(tb testing.TB) {
	tb.Helper()
	if err := available(); err != nil {
		sambapeer.Unavailable(tb, "samba AD DC", err)
	}
}

func available() error {
	if runtime.GOOS != "linux" {
		return errors.New("the AD DC harness runs on Linux only")
	}
	if os.Geteuid() != 0 {
		return errors.New("not root (samba and /etc/hosts need it)")
	}
	for _, tool := range []string{"samba", "samba-tool", "ip", "kinit", "rpcclient"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s: %w", tool, err)
		}
	}
	return nil
}

// New provisions and starts a DC in the first free slot, waiting for one
// while ctx lasts. The caller must call Stop.
func New(ctx context.Context) (_ *DC, err error) {
	if err := available(); err != nil {
		return nil, err
	}
	slot, lock, err := takeSlot(ctx)
	if err != nil {
		return nil, err
	}
	dc := &DC{
		Slot:       slot,
		slotLock:   lock,
		Addr:       fmt.Sprintf("127.0.0.%d", 50+2*slot),
		ServerAddr: fmt.Sprintf("127.0.0.%d", 51+2*slot),
		DNSDomain:  fmt.Sprintf("ad%d.netsess.test", slot),
		Realm:      fmt.Sprintf("AD%d.NETSESS.TEST", slot),
		Domain:     fmt.Sprintf("NSAD%d", slot),
	}
	dc.Host = "dc." + dc.DNSDomain
	dc.ServerHost = "srv." + dc.DNSDomain
	defer func() {
		if err != nil {
			if dc.Dir != "" && os.Getenv("NETSESS_ADDC_KEEP") != "" {
				err = fmt.Errorf("%w (instance directory kept: %s)", err, dc.Dir)
				dc.Dir = ""
			}
			dc.Stop()
		}
	}()
	for _, a := range []string{dc.Addr, dc.ServerAddr} {
		if err := ensureLoopback(ctx, a); err != nil {
			return nil, err
		}
	}
	if port, ok := wildcardListener(dcPorts); ok {
		return nil, fmt.Errorf("something listens on port %d of every address (a system Samba or KDC?): "+
			"the DC could not bind %s:%d", port, dc.Addr, port)
	}
	for _, port := range []int{88, 389, 445} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(dc.Addr, strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s:%d is already listened on (a stale instance?)", dc.Addr, port)
		}
	}
	if dc.Dir, err = os.MkdirTemp("", "nsp-addc-"); err != nil {
		return nil, err
	}
	for _, d := range []string{"pid", "ncalrpc", "cache", "log", "client/lock", "client/state",
		"client/cache", "client/private", "client/pid", "client/ncalrpc"} {
		if err := os.MkdirAll(filepath.Join(dc.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	dc.Conf = filepath.Join(dc.Dir, "etc", "smb.conf")
	dc.ClientConf = filepath.Join(dc.Dir, "client.conf")
	dc.Krb5Conf = filepath.Join(dc.Dir, "krb5.conf")
	dc.Keytab = filepath.Join(dc.Dir, "srv.keytab")

	t0 := time.Now()
	if err := dc.provision(ctx); err != nil {
		return nil, err
	}
	dc.Provisioning = time.Since(t0)
	if err := dc.writeClientFiles(); err != nil {
		return nil, err
	}
	if err := addHosts(ctx, slot, []string{dc.Addr + " " + dc.Host, dc.ServerAddr + " " + dc.ServerHost}); err != nil {
		return nil, fmt.Errorf("/etc/hosts: %w", err)
	}
	if err := dc.start(ctx); err != nil {
		return nil, err
	}
	if err := dc.populate(ctx); err != nil {
		return nil, err
	}
	return dc, nil
}

// takeSlot locks the first free slot, or waits for one.
func takeSlot(ctx context.Context) (int, *os.File, error) {
	for {
		for k := 0; k < Slots; k++ {
			try, cancel := context.WithTimeout(ctx, time.Millisecond)
			f, err := sambapeer.LockFile(try, filepath.Join(os.TempDir(), fmt.Sprintf("netsession-addc-slot%d.lock", k)))
			cancel()
			if err == nil {
				return k, f, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("waiting for a free AD DC slot: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureLoopback adds addr/32 to lo unless some interface has it.
func ensureLoopback(ctx context.Context, addr string) error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == addr {
			return nil
		}
	}
	out, err := exec.CommandContext(ctx, "ip", "addr", "add", addr+"/32", "dev", "lo").CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("File exists")) {
		return fmt.Errorf("ip addr add %s/32 dev lo: %v: %s", addr, err, out)
	}
	return nil
}

func (dc *DC) provision(ctx context.Context) error {
	d := dc.Dir
	args := []string{"domain", "provision",
		"--targetdir=" + d,
		"--use-rfc2307",
		"--realm=" + dc.Realm,
		"--domain=" + dc.Domain,
		"--server-role=dc",
		"--dns-backend=SAMBA_INTERNAL",
		"--adminpass=" + AdministratorPassword,
		"--host-name=dc",
		"--host-ip=" + dc.Addr,
	}
	for _, o := range []string{
		"interfaces = " + dc.Addr,
		"bind interfaces only = yes",
		"pid directory = " + d + "/pid",
		"ncalrpc dir = " + d + "/ncalrpc",
		"cache directory = " + d + "/cache",
		"log file = " + d + "/log/log.%m",
		"max log size = 10000",
		"panic action = ",
		"disable netbios = yes",
		"server services = -nbt -wrepl -ntp_signd -dnsupdate",
		"dns forwarder = " + dc.Addr,
		"load printers = no",
		"printing = bsd",
		"printcap name = /dev/null",
		"disable spoolss = yes",
		"unix password sync = no",
		"pam password change = no",
		"obey pam restrictions = no",
	} {
		args = append(args, "--option="+o)
	}
	cmd := exec.CommandContext(ctx, "samba-tool", args...)
	cmd.Dir = d
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(d, "log", "provision.out"), out, 0o644)
	if err != nil {
		return fmt.Errorf("samba-tool domain provision: %v: %s", err, lastLines(out, 15))
	}
	for line := range strings.Lines(string(out)) {
		if i := strings.Index(line, "DOMAIN SID:"); i >= 0 {
			dc.DomainSID = strings.TrimSpace(line[i+len("DOMAIN SID:"):])
		}
	}
	if !strings.HasPrefix(dc.DomainSID, "S-1-5-21-") {
		return fmt.Errorf("provision did not print the domain SID: %s", lastLines(out, 15))
	}
	if _, err := os.Stat(dc.Conf); err != nil {
		return fmt.Errorf("provision wrote no smb.conf: %w", err)
	}
	return nil
}

func (dc *DC) writeClientFiles() error {
	d := dc.Dir
	krb := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1

[realms]
	%[1]s = {
		kdc = %[2]s
		admin_server = %[2]s
		kpasswd_server = %[2]s
	}

[domain_realm]
	.%[3]s = %[1]s
	%[3]s = %[1]s
`, dc.Realm, dc.Addr, dc.DNSDomain)
	if err := os.WriteFile(dc.Krb5Conf, []byte(krb), 0o644); err != nil {
		return err
	}
	client := fmt.Sprintf(`[global]
	workgroup = %[1]s
	realm = %[2]s
	netbios name = NSCLIENT
`, dc.Domain, dc.Realm) + sambapeer.ClientDirs(d) + `	disable netbios = yes
	client smb encrypt = off
`
	return os.WriteFile(dc.ClientConf, []byte(client), 0o644)
}

func (dc *DC) start(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(dc.Dir, "log", "samba.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// The configuration path must be absolute: samba-dcerpcd, which smbd
	// starts on demand for srvsvc, runs from /.
	cmd := exec.Command("samba", "--foreground", "--no-process-group", "-s", dc.Conf, "--debug-stdout", "-d", "1")
	cmd.Dir = dc.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sambapeer.ChildAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	dc.samba = cmd
	dc.sambaEnd = make(chan struct{})
	go func() {
		cmd.Wait()
		close(dc.sambaEnd)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for _, port := range []int{88, 389, 445} {
		addr := net.JoinHostPort(dc.Addr, strconv.Itoa(port))
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("samba: %s not listening: %w (log: %s)", addr, err, dc.logTail())
			}
			select {
			case <-dc.sambaEnd:
				return fmt.Errorf("samba exited before listening (log: %s)", dc.logTail())
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// populate adds the users, the computer account and its keytab.
func (dc *DC) populate(ctx context.Context) error {
	steps := [][]string{
		{"user", "create", AdminUser, AdminPassword},
		{"user", "create", User, UserPassword},
		{"group", "addmembers", "Domain Admins", AdminUser},
		{"computer", "add", ServerAccount, "--service-principal-name=cifs/" + dc.ServerHost,
			"--service-principal-name=host/" + dc.ServerHost},
		{"user", "setpassword", ServerAccount + "$", "--newpassword=" + ServerPassword},
		{"domain", "exportkeytab", dc.Keytab, "--principal=" + ServerAccount + "$"},
		// The DC's LDAP service principals, which samba_spnupdate (run by
		// the dnsupdate service, off here) or Windows registers at start:
		// Kerberos LDAP binds ask for ldap/HOST.
		{"spn", "add", "ldap/" + dc.Host, "DC$"},
		{"spn", "add", "ldap/" + dc.Host + "/" + dc.DNSDomain, "DC$"},
	}
	for _, s := range steps {
		if _, err := dc.SambaTool(ctx, s...); err != nil {
			return err
		}
	}
	// As a Windows member sets it: RC4, AES-128 and AES-256, so that the
	// KDC encrypts the server's tickets with its AES-256 key (without the
	// attribute it uses RC4).
	if err := dc.setAttribute(ctx, "computer", ServerAccount, "msDS-SupportedEncryptionTypes", "28"); err != nil {
		return err
	}
	return dc.addSPNKeys()
}

// SetAttribute sets an attribute of an object (kind "user" or "computer",
// name its sAMAccountName without a trailing $) directly in the DC's
// database, as the system: even attributes LDAP clients may not write, such
// as lastLogonTimestamp.
func (dc *DC) SetAttribute(ctx context.Context, kind, name, attr, value string) error {
	return dc.setAttribute(ctx, kind, name, attr, value)
}

// CAFile is the PEM file of the certificate authority that signed the DC's
// LDAPS and StartTLS certificate (Samba generates both on first start); the
// certificate names the DC as Host.
func (dc *DC) CAFile() string { return filepath.Join(dc.Dir, "private", "tls", "ca.pem") }

// setAttribute sets an attribute of an object (kind "user" or
// "computer") with samba-tool's edit command, whose editor here is a
// script that appends the attribute to the object's LDIF.
func (dc *DC) setAttribute(ctx context.Context, kind, name, attr, value string) error {
	script := filepath.Join(dc.Dir, "set-"+attr+".sh")
	// $(cat) drops the LDIF's trailing blank lines, which would make the
	// appended line a record of its own.
	body := fmt.Sprintf("#!/bin/sh\nldif=$(cat \"$1\")\nprintf '%%s\\n%%s: %%s\\n' \"$ldif\" '%s' '%s' > \"$1\"\n", attr, value)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		return err
	}
	_, err := dc.SambaTool(ctx, kind, "edit", name, "--editor="+script)
	return err
}

// addSPNKeys adds to the keytab, for each SPN of the member server, a copy
// of every key of its account: the KDC encrypts tickets for the SPNs with
// the account's keys, and Samba's exportkeytab gives an SPN only its RC4
// key.
func (dc *DC) addSPNKeys() error {
	b, err := os.ReadFile(dc.Keytab)
	if err != nil {
		return err
	}
	kt := keytab.New()
	if err := kt.Unmarshal(b); err != nil {
		return fmt.Errorf("exported keytab: %w", err)
	}
	n := len(kt.Entries)
	if n == 0 {
		return errors.New("exported keytab is empty")
	}
	for _, svc := range []string{"cifs", "host"} {
		for i := 0; i < n; i++ {
			e := kt.Entries[i]
			e.Principal.NumComponents = 2
			e.Principal.Components = []string{svc, dc.ServerHost}
			e.Principal.NameType = 2 // KRB_NT_SRV_INST
			kt.Entries = append(kt.Entries, e)
		}
	}
	out, err := kt.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(dc.Keytab, out, 0o600)
}

// SambaTool runs samba-tool against the DC's own databases and returns
// its standard output.
func (dc *DC) SambaTool(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "samba-tool", append(args, "-s", dc.Conf)...)
	cmd.Dir = dc.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("samba-tool %s: %v: %s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// Env returns the environment for Kerberos tools against the DC:
// KRB5_CONFIG, and KRB5CCNAME set to ccache when it is not empty.
func (dc *DC) Env(ccache string) []string {
	env := append(os.Environ(), "KRB5_CONFIG="+dc.Krb5Conf)
	if ccache != "" {
		env = append(env, "KRB5CCNAME=FILE:"+ccache)
	}
	return env
}

// Kinit obtains a ticket-granting ticket for user with MIT kinit into the
// credential cache file ccache.
func (dc *DC) Kinit(ctx context.Context, user, password, ccache string) error {
	cmd := exec.CommandContext(ctx, "kinit", user+"@"+dc.Realm)
	cmd.Env = dc.Env(ccache)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kinit %s: %v: %s", user, err, out)
	}
	return nil
}

// RPCClientKerberos returns an rpcclient command against the DC over SMB
// (ncacn_np) that logs on with Kerberos from the credential cache ccache.
func (dc *DC) RPCClientKerberos(ctx context.Context, ccache, cmds string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "rpcclient", "-s", dc.ClientConf, "--use-kerberos=required",
		"--use-krb5-ccache=FILE:"+ccache, dc.Host, "-c", cmds)
	cmd.Env = dc.Env(ccache)
	return cmd
}

// SMBClientKerberos returns an smbclient command against service (a share
// name) on the DC that logs on with Kerberos from the credential cache
// ccache and runs cmds.
func (dc *DC) SMBClientKerberos(ctx context.Context, ccache, share, cmds string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "smbclient", "-s", dc.ClientConf, "--use-kerberos=required",
		"--use-krb5-ccache=FILE:"+ccache, "//"+dc.Host+"/"+share, "-c", cmds)
	cmd.Env = dc.Env(ccache)
	return cmd
}

// Pids lists the live processes of the DC: samba and its descendants,
// and the processes that name its configuration (samba-dcerpcd, which
// smbd starts on demand, leaves the tree).
func (dc *DC) Pids() []int {
	var pids []int
	if dc.samba != nil {
		pids = sambapeer.Descendants([]int{dc.samba.Process.Pid})
	}
	for _, p := range sambapeer.ConfPids(dc.Conf) {
		if !slices.Contains(pids, p) {
			pids = append(pids, p)
		}
	}
	return pids
}

// Stop kills the DC's processes, removes its /etc/hosts lines and its
// directory, and releases its slot. It is idempotent.
func (dc *DC) Stop() error {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.stopped {
		return nil
	}
	dc.stopped = true
	var errs []error
	if dc.samba != nil {
		// Collected before the first signal: the workers outlive their
		// parents for a moment.
		pids := dc.Pids()
		if err := sambapeer.KillAll(pids, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
		if left := sambapeer.ConfPids(dc.Conf); len(left) > 0 {
			sambapeer.KillAll(left, 5*time.Second)
		}
		select {
		case <-dc.sambaEnd:
		case <-time.After(10 * time.Second):
			errs = append(errs, errors.New("samba not reaped"))
		}
		dc.samba = nil
	}
	if dc.slotLock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := removeHosts(ctx, dc.Slot); err != nil {
			errs = append(errs, fmt.Errorf("/etc/hosts: %w", err))
		}
		cancel()
	}
	if dc.Dir != "" {
		if err := os.RemoveAll(dc.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if dc.slotLock != nil {
		dc.slotLock.Close()
		dc.slotLock = nil
	}
	return errors.Join(errs...)
}

func (dc *DC) logTail() string {
	b, _ := os.ReadFile(filepath.Join(dc.Dir, "log", "samba.out"))
	return lastLines(b, 20)
}

func (dc *DC) dumpLogs(tb testing.TB) {
	tb.Logf("samba AD DC %s: samba log tail: %s", dc.Dir, dc.logTail())
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// command returns a command with the Kerberos environment of the DC (and
// the credential cache ccache when not empty).
func (dc *DC) command(ctx context.Context, ccache, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = dc.Env(ccache)
	return cmd
}

// UserSID returns the objectSid of account (a sAMAccountName; with a
// trailing $, a computer account) as samba-tool shows it.
func (dc *DC) UserSID(ctx context.Context, account string) (string, error) {
	kind := "user"
	if name, ok := strings.CutSuffix(account, "$"); ok {
		kind, account = "computer", name
	}
	out, err := dc.SambaTool(ctx, kind, "show", account, "--attributes=objectSid")
	if err != nil {
		return "", err
	}
	sids := attrValues(out, "objectSid")
	if len(sids) != 1 {
		return "", fmt.Errorf("samba-tool user show %s: no single objectSid: %s", account, out)
	}
	return sids[0], nil
}

// GroupSIDs returns the SIDs of the groups account belongs to: its
// primary group and the groups of its memberOf, followed through the
// groups' own memberOf (so BUILTIN and domain-local groups appear too), as
// samba-tool shows them. Groups are named by their CN, which for the
// groups of a fresh domain is their sAMAccountName.
func (dc *DC) GroupSIDs(ctx context.Context, account string) ([]string, error) {
	out, err := dc.SambaTool(ctx, "user", "show", account, "--attributes=primaryGroupID,memberOf")
	if err != nil {
		return nil, err
	}
	prim := attrValues(out, "primaryGroupID")
	if len(prim) != 1 {
		return nil, fmt.Errorf("samba-tool user show %s: no primaryGroupID: %s", account, out)
	}
	sids := []string{dc.DomainSID + "-" + prim[0]}
	seen := map[string]bool{}
	queue := attrValues(out, "memberOf")
	for len(queue) > 0 {
		dn := queue[0]
		queue = queue[1:]
		if seen[dn] {
			continue
		}
		seen[dn] = true
		cn, ok := strings.CutPrefix(strings.SplitN(dn, ",", 2)[0], "CN=")
		if !ok {
			return nil, fmt.Errorf("group DN %q", dn)
		}
		g, err := dc.SambaTool(ctx, "group", "show", cn, "--attributes=objectSid,memberOf")
		if err != nil {
			return nil, err
		}
		sid := attrValues(g, "objectSid")
		if len(sid) != 1 {
			return nil, fmt.Errorf("samba-tool group show %s: no objectSid: %s", cn, g)
		}
		sids = append(sids, sid[0])
		queue = append(queue, attrValues(g, "memberOf")...)
	}
	return sids, nil
}

// attrValues returns the values of attr in LDIF output.
func attrValues(ldif []byte, attr string) []string {
	var vals []string
	for line := range strings.Lines(string(ldif)) {
		name, val, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ": ")
		if ok && strings.EqualFold(name, attr) {
			vals = append(vals, strings.TrimSpace(val))
		}
	}
	return vals
}

// RPCClient returns an rpcclient command against the DC over SMB
// (ncacn_np) that logs on as user with NTLM.
func (dc *DC) RPCClient(ctx context.Context, user, password, cmds string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "rpcclient", "-s", dc.ClientConf, "-U", dc.Domain+"\\"+user+"%"+password,
		dc.Addr, "-c", cmds)
	cmd.Env = dc.Env("")
	return cmd
}

// dcPorts are the TCP ports a Samba AD DC listens on.
var dcPorts = []int{53, 88, 135, 139, 389, 445, 464, 636, 3268, 3269}

// wildcardListener reports the first of ports that a socket bound to the
// wildcard address (0.0.0.0 or ::) listens on: binding the same port on
// one address then fails.
func wildcardListener(ports []int) (int, bool) {
	for _, l := range sambapeer.TCPListeners() {
		if l.Wildcard() && slices.Contains(ports, l.Port) {
			return l.Port, true
		}
	}
	return 0, false
}

// AddClient adds the computer account name with a DNS record for addr (an
// IPv4 address) and a PTR record for it in the reverse zone of addr's
// first two octets, which it creates on first use (a provisioned domain
// has no reverse zone): a client whose address resolves to its computer.
func (dc *DC) AddClient(ctx context.Context, name string, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("AddClient %s: %s is not IPv4", name, addr)
	}
	admin := []string{"-U", "Administrator%" + AdministratorPassword}
	a := addr.As4()
	zone := fmt.Sprintf("%d.%d.in-addr.arpa", a[1], a[0])
	dc.mu.Lock()
	created := slices.Contains(dc.zones, zone)
	if !created {
		dc.zones = append(dc.zones, zone)
	}
	dc.mu.Unlock()
	if !created {
		if _, err := dc.SambaTool(ctx, append([]string{"dns", "zonecreate", dc.Host, zone}, admin...)...); err != nil {
			return err
		}
	}
	if _, err := dc.SambaTool(ctx, append([]string{"computer", "add", name, "--ip-address=" + addr.String(), "--prepare-oldjoin"}, admin...)...); err != nil {
		return err
	}
	_, err := dc.SambaTool(ctx, append([]string{"dns", "add", dc.Host, zone, fmt.Sprintf("%d.%d", a[3], a[2]), "PTR",
		strings.ToLower(name) + "." + dc.DNSDomain}, admin...)...)
	return err
}
