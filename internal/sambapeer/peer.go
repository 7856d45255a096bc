package sambapeer

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Accounts every instance knows. AdminUser holds BUILTIN\Administrators
// and Domain Admins; User is a plain user. Unknown user names log on as the
// guest account GuestAccount.
const (
	AdminUser     = "nsp_alice"
	AdminPassword = "AlicePass1"
	User          = "nsp_bob"
	UserPassword  = "BobPass1"
	GuestAccount  = "nobody"

	groupBuiltinAdmins = "nsp_badmins"
	groupDomainAdmins  = "nsp_dadmins"
)

// Port135LockFile is the name, in os.TempDir(), of the file lock that
// serialises everything on this machine that needs 127.0.0.1:135 (the
// standalone samba-dcerpcd here, our own endpoint mapper in other tests):
// flock it exclusively for as long as the port is held.
const Port135LockFile = "netsession-port135.lock"

// Host is the address smbd listens on.
const Host = "127.0.0.1"

//go:embed holder.py
var holderScript []byte

// Options configure Start.
type Options struct {
	// RPCOverTCP also runs samba-dcerpcd standalone, serving srvsvc on
	// ncacn_ip_tcp (SrvsvcTCPPort). It needs 127.0.0.1:135: such instances
	// are serialised machine-wide.
	RPCOverTCP bool
	// LogLevel is smbd's debug level (default 1).
	LogLevel int
	// ServerSigning and ServerEncrypt are smb.conf's "server signing"
	// (default "auto": allowed, not required) and "server smb encrypt"
	// (default "off").
	ServerSigning string
	ServerEncrypt string
	// IPv6 makes smbd listen on [::1] too.
	IPv6 bool
	// NoWarm skips the warm-up RPC call that starts Samba's RPC helpers
	// before Start returns (needs rpcclient).
	NoWarm bool
}

// Peer is a running private Samba instance.
type Peer struct {
	Dir        string // the instance directory
	Port       int    // smbd's TCP port on Host
	Conf       string // smb.conf path
	ClientConf string // configuration for smbclient and rpcclient (-s)
	// SrvsvcTCPPort is the ncacn_ip_tcp port of srvsvc (RPCOverTCP only).
	SrvsvcTCPPort int

	smbd    *exec.Cmd
	smbdEnd chan struct{}
	rpcd    *exec.Cmd
	rpcdEnd chan struct{}
	tcpLock *os.File
	// accounts registers the instance as a user of the unix accounts
	// (acquireAccounts), until Stop.
	accounts *os.File

	mu      sync.Mutex
	holders []*Holder
	stopped bool
}

// LockPort135 takes the machine-wide lock named by Port135LockFile,
// waiting until ctx ends. Closing the file releases it.
func LockPort135(ctx context.Context) (*os.File, error) {
	return lockFile(ctx, filepath.Join(os.TempDir(), Port135LockFile))
}

// Addr is "127.0.0.1:PORT".
func (p *Peer) Addr() string { return net.JoinHostPort(Host, strconv.Itoa(p.Port)) }

// SrvsvcTCPAddr is srvsvc's ncacn_ip_tcp address (RPCOverTCP only).
func (p *Peer) SrvsvcTCPAddr() string {
	return net.JoinHostPort(Host, strconv.Itoa(p.SrvsvcTCPPort))
}

// Require skips tb when this machine cannot run a private Samba (not root,
// smbd or the tools missing), and fails it instead when CI=true.
func Require(tb testing.TB) {
	tb.Helper()
	if err := available(); err != nil {
		Unavailable(tb, "samba peer", err)
	}
}

// Unavailable ends tb for want of a peer or a resource it needs: it skips
// tb, or fails it when CI=true (where every peer must be present). what
// names what is missing and err says why.
func Unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s required under CI: %v", what, err)
	}
	tb.Skipf("%s not available: %v", what, err)
}

// RequireImpacket is Require for tests that also hold sessions.
func RequireImpacket(tb testing.TB) {
	tb.Helper()
	Require(tb)
	if err := exec.Command(python, "-c", "import impacket.smbconnection").Run(); err != nil {
		Unavailable(tb, "impacket", err)
	}
}

const python = "/usr/bin/python3"

func available() error {
	if err := platformSupported(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("not root (smbd needs root to switch users)")
	}
	for _, tool := range []string{"smbd", "smbpasswd", "net", "rpcclient"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s: %w", tool, err)
		}
	}
	return nil
}

// Start starts a private Samba instance for tb and stops it when tb ends.
// It skips or fails tb as Require does.
func Start(tb testing.TB, opts Options) *Peer {
	tb.Helper()
	Require(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := New(ctx, opts)
	if err != nil {
		tb.Fatalf("samba peer: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			p.dumpLogs(tb)
		}
		if err := p.Stop(); err != nil {
			tb.Errorf("samba peer: stop: %v", err)
		}
	})
	return p
}

// New starts a private Samba instance. The caller must call Stop.
func New(ctx context.Context, opts Options) (_ *Peer, err error) {
	if err := available(); err != nil {
		return nil, err
	}
	accounts, err := acquireAccounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("unix accounts: %w", err)
	}
	dir, err := os.MkdirTemp("", "nsp-samba-")
	if err != nil {
		releaseAccounts(ctx, accounts)
		return nil, err
	}
	p := &Peer{Dir: dir, Conf: filepath.Join(dir, "smb.conf"), ClientConf: filepath.Join(dir, "client.conf"), accounts: accounts}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc", "log",
		"shares/data", "shares/public", "client/lock", "client/state", "client/cache",
		"client/private", "client/pid", "client/ncalrpc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	os.Chmod(filepath.Join(dir, "private"), 0o700)
	for _, d := range []string{"shares/data", "shares/public"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o1777); err != nil {
			return nil, err
		}
	}
	if opts.LogLevel == 0 {
		opts.LogLevel = 1
	}
	if opts.ServerSigning == "" {
		opts.ServerSigning = "auto"
	}
	if opts.ServerEncrypt == "" {
		opts.ServerEncrypt = "off"
	}
	if opts.RPCOverTCP {
		if p.tcpLock, err = lockFile(ctx, filepath.Join(os.TempDir(), Port135LockFile)); err != nil {
			return nil, fmt.Errorf("ncacn_ip_tcp lock: %w", err)
		}
		// Only 127.0.0.1:135 (or the wildcard) is in the way: a test
		// domain controller's mapper on its own 127.0.0.5x address is
		// not, so ask the kernel rather than look for any port 135.
		l, err := net.Listen("tcp", net.JoinHostPort(Host, "135"))
		if err != nil {
			return nil, fmt.Errorf("127.0.0.1:135 is taken (%v): a standalone samba-dcerpcd needs it for its endpoint mapper", err)
		}
		l.Close()
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		// Outside the ephemeral range, so that no outgoing connection
		// takes the port before smbd binds it.
		port, err := freeRange(1)
		if err != nil {
			return nil, err
		}
		lo, hi := 0, 0
		if opts.RPCOverTCP {
			if lo, err = freeRange(16); err != nil {
				return nil, err
			}
			hi = lo + 15
		}
		if err := p.writeConf(port, opts, lo, hi); err != nil {
			return nil, err
		}
		if attempt == 0 {
			if err := p.setupPassdb(ctx); err != nil {
				return nil, err
			}
		}
		if opts.RPCOverTCP {
			if err := p.startRPCD(ctx, lo, hi); err != nil {
				lastErr = err
				p.stopProcs()
				continue
			}
		}
		if err := p.startSmbd(ctx, port, opts.LogLevel); err != nil {
			lastErr = err
			p.stopProcs()
			continue
		}
		lastErr = nil
		break
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if !opts.NoWarm {
		// The first pipe open makes smbd spawn samba-dcerpcd and its
		// rpcd_* workers; pay for it here, not in the first timed call.
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := p.RPCClient(cctx, AdminUser, AdminPassword, "srvinfo").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("warm-up rpcclient srvinfo: %v: %s", err, out)
		}
	}
	return p, nil
}

func (p *Peer) writeConf(port int, opts Options, rpcLo, rpcHi int) error {
	d := p.Dir
	ifaces := Host
	if opts.IPv6 {
		ifaces += " ::1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# private loopback-only test instance
[global]
  workgroup = NSPTEST
  netbios name = NSPSAMBA
  server role = standalone server
  server string = netsession test peer
  smb ports = %d
  interfaces = %[7]s
  bind interfaces only = yes
  disable netbios = yes
  private dir = %[2]s/private
  lock directory = %[2]s/lock
  state directory = %[2]s/state
  cache directory = %[2]s/cache
  pid directory = %[2]s/pid
  ncalrpc dir = %[2]s/ncalrpc
  binddns dir = %[2]s/bind-dns
  usershare path = %[2]s/usershares
  log file = %[2]s/log/log.%%m
  max log size = 10000
  log level = %[3]d
  passdb backend = tdbsam:%[2]s/private/passdb.tdb
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = bad user
  guest account = %[4]s
  restrict anonymous = 0
  server smb encrypt = %[5]s
  server signing = %[6]s
  max connections = 0
  deadtime = 0
  obey pam restrictions = no
  unix password sync = no
  pam password change = no
`, port, d, opts.LogLevel, GuestAccount, opts.ServerEncrypt, opts.ServerSigning, ifaces)
	if opts.RPCOverTCP {
		fmt.Fprintf(&b, "  rpc start on demand helpers = no\n  rpc server dynamic port range = %d-%d\n", rpcLo, rpcHi)
	}
	fmt.Fprintf(&b, `
[data]
  path = %[1]s/shares/data
  read only = no
  guest ok = no

[public]
  path = %[1]s/shares/public
  read only = no
  guest ok = yes
`, d)
	if err := os.WriteFile(p.Conf, []byte(b.String()), 0o644); err != nil {
		return err
	}
	client := `[global]
  workgroup = NSPTEST
  netbios name = NSPCLIENT
` + ClientDirs(d) + `  client smb encrypt = off
  disable netbios = yes
`
	p.Port = port
	return os.WriteFile(p.ClientConf, []byte(client), 0o644)
}

// setupPassdb adds the passwords and the two group mappings to the
// instance's private databases.
func (p *Peer) setupPassdb(ctx context.Context) error {
	for _, u := range []struct{ name, pass string }{{AdminUser, AdminPassword}, {User, UserPassword}} {
		cmd := sambaCommand(ctx, "smbpasswd", "-c", p.Conf, "-s", "-a", u.name)
		cmd.Stdin = strings.NewReader(u.pass + "\n" + u.pass + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("smbpasswd -a %s: %v: %s", u.name, err, out)
		}
	}
	for _, args := range [][]string{
		{"groupmap", "add", "sid=S-1-5-32-544", "unixgroup=" + groupBuiltinAdmins, "type=builtin", "ntgroup=Administrators"},
		{"groupmap", "add", "rid=512", "unixgroup=" + groupDomainAdmins, "type=domain", "ntgroup=Domain Admins"},
	} {
		cmd := sambaCommand(ctx, "net", append([]string{"-s", p.Conf}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("net %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func (p *Peer) startSmbd(ctx context.Context, port, logLevel int) error {
	logf, err := os.OpenFile(filepath.Join(p.Dir, "log", "smbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := sambaCommand(context.Background(), "smbd", "-F", "-s", p.Conf, "--debug-stdout", "-d", strconv.Itoa(logLevel))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("smbd: %w", err)
	}
	p.smbd, p.smbdEnd = cmd, waitChan(cmd)
	if err := waitListening(ctx, p.Addr(), p.smbdEnd); err != nil {
		return fmt.Errorf("smbd on port %d: %w (log: %s)", port, err, tail(filepath.Join(p.Dir, "log", "smbd.out")))
	}
	// Another program may have taken the port between freePort and smbd's
	// bind (smbd then exits): make sure the listener is smbd's.
	if !ownsListener(cmd.Process.Pid, port) {
		return fmt.Errorf("port %d is listened on by another process", port)
	}
	return nil
}

// startRPCD runs samba-dcerpcd standalone and finds srvsvc's ncacn_ip_tcp
// port: the only port of the range where a bind to srvsvc succeeds.
func (p *Peer) startRPCD(ctx context.Context, lo, hi int) error {
	bin, err := dcerpcdPath()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(p.Dir, "log", "samba-dcerpcd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := sambaCommand(context.Background(), bin, "-F", "-s", p.Conf, "--libexec-rpcds", "--debug-stdout", "-d", "1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("samba-dcerpcd: %w", err)
	}
	p.rpcd, p.rpcdEnd = cmd, waitChan(cmd)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.rpcdEnd:
			return fmt.Errorf("samba-dcerpcd exited (log: %s)", tail(filepath.Join(p.Dir, "log", "samba-dcerpcd.out")))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if port := p.lookupSrvsvcPort(ctx); port != 0 {
			p.SrvsvcTCPPort = port
			return nil
		}
	}
	return fmt.Errorf("samba-dcerpcd did not register srvsvc on ncacn_ip_tcp (log: %s)",
		tail(filepath.Join(p.Dir, "log", "samba-dcerpcd.out")))
}

// lookupSrvsvcPort asks the endpoint mapper on 127.0.0.1:135 (with
// rpcclient) where srvsvc listens over ncacn_ip_tcp; 0 if not yet known.
func (p *Peer) lookupSrvsvcPort(ctx context.Context) int {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := sambaCommand(cctx, "rpcclient", "-s", p.ClientConf, "ncacn_ip_tcp:127.0.0.1[135]",
		"-N", "-c", "epmlookup").Output()
	const srvsvc = "abstract_syntax=4b324fc8-1670-01d3-1278-5a47bf6ee188"
	for line := range strings.Lines(string(out)) {
		i := strings.Index(line, "ncacn_ip_tcp:127.0.0.1[")
		if i < 0 || !strings.Contains(line, srvsvc) {
			continue
		}
		rest := line[i+len("ncacn_ip_tcp:127.0.0.1["):]
		j := strings.IndexAny(rest, ",]")
		if j < 0 {
			continue
		}
		if n, err := strconv.Atoi(rest[:j]); err == nil {
			return n
		}
	}
	return 0
}

// RPCClient returns an rpcclient command against the instance over SMB
// (ncacn_np) as user, running cmds (semicolon-separated).
func (p *Peer) RPCClient(ctx context.Context, user, password, cmds string) *exec.Cmd {
	return sambaCommand(ctx, "rpcclient", "-s", p.ClientConf, "-p", strconv.Itoa(p.Port),
		"-U", user+"%"+password, Host, "-c", cmds)
}

// RPCClientTCP returns an rpcclient command against srvsvc over
// ncacn_ip_tcp with NTLMSSP at integrity ([sign]) (RPCOverTCP only).
func (p *Peer) RPCClientTCP(ctx context.Context, user, password, cmds string) *exec.Cmd {
	return sambaCommand(ctx, "rpcclient", "-s", p.ClientConf, "-U", user+"%"+password,
		fmt.Sprintf("ncacn_ip_tcp:%s[%d,sign]", Host, p.SrvsvcTCPPort), "-c", cmds)
}

// Stop stops the holders and every process of the instance, and removes
// its directory. It is idempotent.
func (p *Peer) Stop() error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	holders := p.holders
	p.holders = nil
	p.mu.Unlock()
	var errs []error
	for _, h := range holders {
		if err := h.Release(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.stopProcs(); err != nil {
		errs = append(errs, err)
	}
	if p.tcpLock != nil {
		p.tcpLock.Close() // releases the flock
		p.tcpLock = nil
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		errs = append(errs, err)
	}
	if p.accounts != nil {
		// Last: the holders and smbd's children ran as those users.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := releaseAccounts(ctx, p.accounts); err != nil {
			errs = append(errs, fmt.Errorf("unix accounts: %w", err))
		}
		cancel()
		p.accounts = nil
	}
	return errors.Join(errs...)
}

// stopProcs kills smbd, samba-dcerpcd and every process that belongs to
// them, and waits until they are gone.
func (p *Peer) stopProcs() error {
	var roots []int
	if p.smbd != nil {
		roots = append(roots, p.smbd.Process.Pid)
	}
	if p.rpcd != nil {
		roots = append(roots, p.rpcd.Process.Pid)
	}
	if b, err := os.ReadFile(filepath.Join(p.Dir, "pid", "samba-dcerpcd.pid")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 1 {
			roots = append(roots, n)
		}
	}
	pids := instancePids(p.Conf, roots)
	err := killAll(pids, 5*time.Second)
	for _, end := range []chan struct{}{p.smbdEnd, p.rpcdEnd} {
		if end != nil {
			select {
			case <-end:
			case <-time.After(5 * time.Second):
				err = errors.Join(err, errors.New("smbd or samba-dcerpcd not reaped"))
			}
		}
	}
	p.smbd, p.smbdEnd, p.rpcd, p.rpcdEnd = nil, nil, nil, nil
	return err
}

// Pids lists the live processes of the instance (smbd, its children,
// samba-dcerpcd and rpcd_* helpers), holders excluded.
func (p *Peer) Pids() []int {
	var roots []int
	if p.smbd != nil {
		roots = append(roots, p.smbd.Process.Pid)
	}
	if p.rpcd != nil {
		roots = append(roots, p.rpcd.Process.Pid)
	}
	return instancePids(p.Conf, roots)
}

// ConfPids lists every live process whose command line names the
// instance's configuration, whoever started it: after Stop it must be
// empty.
func (p *Peer) ConfPids() []int { return confPids(p.Conf) }

func (p *Peer) dumpLogs(tb testing.TB) {
	tb.Logf("samba peer %s: smbd log tail: %s", p.Dir, tail(filepath.Join(p.Dir, "log", "smbd.out")))
	for _, name := range []string{"log.smbd", "log.rpcd_classic", "log.samba-dcerpcd"} {
		if s := tail(filepath.Join(p.Dir, "log", name)); s != "" {
			tb.Logf("samba peer: %s tail: %s", name, s)
		}
	}
}

func waitChan(cmd *exec.Cmd) chan struct{} {
	ch := make(chan struct{})
	go func() {
		cmd.Wait()
		close(ch)
	}()
	return ch
}

// waitListening waits until addr accepts TCP connections, or the process
// whose end is signalled by exited ends.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after 15s: %w", err)
		}
		select {
		case <-exited:
			return errors.New("exited before listening")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeRange returns the first port of n consecutive ports free on Host.
// It looks outside the kernel's ephemeral range, where outgoing
// connections of busy test runs hold ports here and there.
func freeRange(n int) (int, error) {
	lo, hi := 1024+n, 65535-n
	if elo, ehi, ok := ephemeralRange(); ok {
		if elo-n > 10000 {
			lo, hi = 10000, elo-n
		} else if ehi+n < 65535 {
			lo, hi = ehi+1, 65535-n
		}
	}
	for attempt := 0; attempt < 100; attempt++ {
		base := lo + rand.IntN(hi-lo)
		ok := true
		for i := 0; i < n && ok; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(base+i)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free range of ports")
}

func dcerpcdPath() (string, error) {
	for _, p := range []string{"/usr/libexec/samba/samba-dcerpcd", "/usr/lib/samba/samba-dcerpcd",
		"/usr/local/samba/libexec/samba-dcerpcd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("samba-dcerpcd")
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// sambaCommand returns a command that runs a Samba program of the
// instance, cut off from any winbindd on the machine: libwbclient, which
// Samba's programs and the NSS winbind module use, finds winbindd at a
// path compiled in, so a winbindd started elsewhere (a system one, or a
// test domain controller's) would otherwise answer this standalone
// instance's identity look-ups with its own ID mappings, and logons fail
// ("getpwuid(3000031) failed"). _NO_WINBINDD is the switch Samba's own
// programs set to keep themselves from calling winbindd.
func sambaCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "_NO_WINBINDD=1")
	return cmd
}

// ClientDirs is the part of a client tool's smb.conf [global] section
// that keeps its lock, state, cache, private, pid and ncalrpc files under
// dir/client and its log under dir/log, so that a client tool run against
// a test server touches nothing of the system's Samba.
func ClientDirs(dir string) string {
	return fmt.Sprintf(`  lock directory = %[1]s/client/lock
  state directory = %[1]s/client/state
  cache directory = %[1]s/client/cache
  private dir = %[1]s/client/private
  pid directory = %[1]s/client/pid
  ncalrpc dir = %[1]s/client/ncalrpc
  log file = %[1]s/log/client.%%m
`, dir)
}
