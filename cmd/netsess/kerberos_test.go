package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/server"
)

// TestMain runs the package's tests; a test that asks for the domain
// controller shares one, stopped at the end.
// TestMain shares one AD DC among the package's domain tests (Kerberos
// and --ldap scans).
func TestMain(m *testing.M) {
	code := addc.Main(m)
	if err := testPG.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "postgres: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// serveDomain runs serve (with args) with SMB on the domain's member
// server address (SMB and ncacn_ip_tcp both), and returns it, its SMB port
// and the target that names it by its DNS name (for the cifs SPN).
func serveDomain(t *testing.T, dc *addc.DC, args ...string) (s *serving, port, target string) {
	t.Helper()
	s = serveBG(t, append([]string{"--smb", dc.ServerAddr + ":0", "--rpc", dc.ServerAddr + ":0"}, args...)...)
	_, port, err := net.SplitHostPort(s.smb)
	if err != nil {
		t.Fatal(err)
	}
	return s, port, net.JoinHostPort(dc.ServerHost, port)
}

// runSMB runs list, get or del over smb (the default transport) with env.
func runSMB(ctx context.Context, cmd string, env cliEnv, args ...string) (int, string, string) {
	code, out, errOut, _ := runCommand(ctx, cmd, env, args...)
	return code, out, errOut
}

// TestKerberosListDC: netsess list -k against the domain controller's own
// srvsvc, with every credential form; --auth auto says it used Kerberos.
func TestKerberosListDC(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	ccache := filepath.Join(dir, "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, ccache); err != nil {
		t.Fatal(err)
	}
	aes, err := krb5.StringToKey(addc.AdminUser, dc.Realm, addc.AdminPassword, krb5.ETypeAES256)
	if err != nil {
		t.Fatal(err)
	}
	hash := ntlm.NTHash(addc.AdminPassword)
	env := clEnv(map[string]string{"KRB5_CONFIG": dc.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache}, nil)
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	who := addc.AdminUser + "@" + dc.Realm
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"password", []string{"-k", "-U", who + "%" + addc.AdminPassword}},
		{"password with --dc-ip", []string{"--kerberos", "-U", who + "%" + addc.AdminPassword, "--dc-ip", dc.Addr}},
		{"aes key", []string{"-k", "-U", who, "--aes-key", hex.EncodeToString(aes)}},
		{"nt hash", []string{"-k", "-U", who, "--nt-hash", hex.EncodeToString(hash[:])}},
		{"ccache --no-pass", []string{"-k", "--no-pass"}},
		{"ccache without -U", []string{"--auth", "kerberos"}},
		{"explicit spn", []string{"-k", "--no-pass", "--spn", "cifs/" + dc.Host}},
	} {
		for _, level := range []string{"0", "1"} {
			t.Run(tc.name+"/level "+level, func(t *testing.T) {
				args := append([]string{dc.Host, "--level", level, "--json"}, tc.args...)
				code, out, errOut := runSMB(ctx, "list", env, args...)
				if code != exitOK {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if !strings.Contains(out, `"client"`) {
					t.Fatalf("no sessions listed: %q", out)
				}
				if level == "1" && !strings.Contains(strings.ToLower(out), addc.AdminUser) {
					t.Errorf("our own session (%s) is not listed: %s", addc.AdminUser, out)
				}
			})
		}
	}
	t.Run("auto says which", func(t *testing.T) {
		code, _, errOut := runSMB(ctx, "list", env, dc.Host, "--level", "1", "--auth", "auto", "-U", who+"%"+addc.AdminPassword, "--debug")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(errOut, "auth=kerberos") || !strings.Contains(errOut, "requested=auto") {
			t.Errorf("--debug does not say Kerberos was used:\n%s", errOut)
		}
	})
}

// TestKerberosListDCErrors: a wrong password, an unknown user and an
// unknown SPN each say so, as logon failures (exit 3).
func TestKerberosListDCErrors(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := clEnv(nil, nil)
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"wrong password", "wrong password", []string{"-k", "-U", addc.AdminUser + "@" + dc.Realm + "%nope"}},
		{"unknown user", "unknown client principal", []string{"-k", "-U", "nosuchuser@" + dc.Realm + "%x"}},
		{"unknown spn", "unknown service principal", []string{"-k", "-U", addc.AdminUser + "@" + dc.Realm + "%" + addc.AdminPassword, "--spn", "cifs/nosuchhost." + dc.DNSDomain}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runSMB(ctx, "list", env, append([]string{dc.Host}, tc.args...)...)
			if code != exitLogon || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q: %s", code, exitLogon, tc.want, errOut)
			}
		})
	}
}

// TestKerberosServe: netsess serve --keytab with the domain's keytab for
// the member server accepts our own client's Kerberos logons; the PAC's
// groups decide: a Domain Admin enumerates (and sees its session under its
// name), a plain domain user is denied under the modern policy. The same
// server still takes NTLM logons with its local accounts.
func TestKerberosServe(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	s, _, target := serveDomain(t, dc, "--keytab", dc.Keytab, "--policy", "modern", "--demo-sessions")
	env := clEnv(nil, nil)

	code, out, errOut := runSMB(ctx, "list", env, target, "--level", "502", "--json", "-k", "-U", addc.AdminUser+"@"+dc.Realm+"%"+addc.AdminPassword)
	if code != exitOK {
		t.Fatalf("Domain Admin: exit %d: %s\n%s", code, errOut, s.stderr)
	}
	if !strings.Contains(out, `"user":"`+addc.AdminUser+`"`) {
		t.Errorf("the admin's Kerberos session is not in the table under its name: %s", out)
	}

	code, _, errOut = runSMB(ctx, "list", env, target, "--level", "502", "-k", "-U", addc.User+"@"+dc.Realm+"%"+addc.UserPassword)
	if code != exitDenied {
		t.Errorf("plain domain user: exit %d, want %d (access denied): %s", code, exitDenied, errOut)
	}

	admin := []string{"-k", "-U", addc.AdminUser + "@" + dc.Realm + "%" + addc.AdminPassword}
	code, out, errOut = runSMB(ctx, "get", env, append([]string{target, "--client", `\\10.0.0.5`, "--user", "alice", "--json"}, admin...)...)
	if code != exitOK || !strings.Contains(out, `"user":"alice"`) {
		t.Errorf("get -k: exit %d: %s %s", code, out, errOut)
	}
	code, _, errOut = runSMB(ctx, "del", env, append([]string{target, "--client", `\\10.0.0.5`, "--user", "alice"}, admin...)...)
	if code != exitOK {
		t.Errorf("del -k: exit %d: %s", code, errOut)
	}
	code, _, errOut = runSMB(ctx, "get", env, append([]string{target, "--client", `\\10.0.0.5`, "--user", "alice"}, admin...)...)
	if code != exitStatus {
		t.Errorf("get -k after del: exit %d, want %d (not found): %s", code, exitStatus, errOut)
	}

	// A ticket for another service than the keytab's is refused.
	code, _, errOut = runSMB(ctx, "list", env, target, "-k", "--spn", "cifs/"+dc.Host, "-U", addc.AdminUser+"@"+dc.Realm+"%"+addc.AdminPassword)
	if code != exitLogon {
		t.Errorf("ticket for the DC's SPN: exit %d, want %d: %s", code, exitLogon, errOut)
	}

	// NTLM still works next to Kerberos.
	code, _, errOut = runSMB(ctx, "list", env, target, "--level", "1", "--auth", "ntlm", "-U", "alice%AlicePass1")
	if code != exitOK {
		t.Errorf("NTLM next to Kerberos: exit %d: %s", code, errOut)
	}
}

// TestKerberosNTLMOnlyServer: -k against our server offering NTLM alone
// fails clearly and never falls back; --auth auto falls back and says so;
// over tcp -k fails as a logon failure too.
func TestKerberosNTLMOnlyServer(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	s, _, target := serveDomain(t, dc)
	env := clEnv(nil, nil)
	who := "alice@" + dc.Realm + "%AlicePass1"
	admin := addc.AdminUser + "@" + dc.Realm + "%" + addc.AdminPassword

	code, _, errOut := runSMB(ctx, "list", env, target, "-k", "-U", admin)
	if code != exitLogon || !strings.Contains(errOut, "refused the Kerberos logon") || !strings.Contains(errOut, "NTLM was not tried") {
		t.Errorf("-k against an NTLM-only server: exit %d: %s", code, errOut)
	}
	// alice is no domain account: no ticket, so auto uses NTLM alone.
	code, _, errOut = runSMB(ctx, "list", env, target, "--level", "1", "--auth", "auto", "-U", who, "--dc-ip", dc.Addr, "--debug")
	if code != exitOK || !strings.Contains(errOut, "auth=ntlm") || !strings.Contains(errOut, "requested=auto") {
		t.Errorf("--auth auto, no ticket: exit %d: %s", code, errOut)
	}
	// Over tcp the server refuses the Kerberos auth type.
	_, rpcPort, _ := net.SplitHostPort(s.rpc)
	code, _, errOut = runSMB(ctx, "list", env, "--transport", "tcp", net.JoinHostPort(dc.ServerHost, rpcPort), "-k", "-U", admin)
	if code != exitLogon || !strings.Contains(errOut, "refused the Kerberos logon") || !strings.Contains(errOut, "NTLM was not tried") {
		t.Errorf("-k over tcp to a server without Kerberos: exit %d: %s", code, errOut)
	}
}

// TestKerberosServePeers: Samba's rpcclient and smbclient log on to our
// server with Kerberos (an MIT kinit credential cache) over SMB;
// rpcclient, as a Domain Admin, lists the sessions over \PIPE\srvsvc
// (its own).
func TestKerberosServePeers(t *testing.T) {
	for _, tool := range []string{"rpcclient", "smbclient"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("peer %s missing under CI: %v", tool, err)
			}
			t.Skipf("peer %s not installed", tool)
		}
	}
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, port, _ := serveDomain(t, dc, "--keytab", dc.Keytab)
	ccache := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, ccache); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, append([]string{"-s", dc.ClientConf, "--use-kerberos=required", "--use-krb5-ccache=FILE:" + ccache, "-p", port}, args...)...)
		cmd.Env = dc.Env(ccache)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s\nserver:\n%s", name, args, err, out, s.stderr)
		}
		return string(out)
	}
	out := run("rpcclient", dc.ServerHost, "-c", "netsessenum")
	// rpcclient prints only the count: its own Kerberos session.
	if !strings.Contains(out, "Received 1 entries") {
		t.Errorf("rpcclient netsessenum does not list its Kerberos session:\n%s", out)
	}
	run("smbclient", "//"+dc.ServerHost+"/IPC$", "-c", "")
}

// TestKerberosScan: scan logs on with Kerberos to each host, asking a
// ticket for each host's own cifs SPN from one logon.
func TestKerberosScan(t *testing.T) {
	dc := addc.Shared(t)
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	_, _, target := serveDomain(t, dc, "--keytab", dc.Keytab)
	targets := []string{target, dc.Host}
	code, out, errOut := runScanCmd(t, clEnv(nil, nil), append(targets, "--json", "--quiet", "--level", "1", "-k", "-U", addc.AdminUser+"@"+dc.Realm+"%"+addc.AdminPassword)...)
	if code != exitOK {
		t.Fatalf("scan -k: exit %d: %s\n%s", code, errOut, out)
	}
	for _, tg := range targets {
		found := false
		for _, line := range strings.Split(out, "\n") {
			found = found || (strings.Contains(line, `"target":"`+tg+`"`) && strings.Contains(line, `"collected":true`) &&
				strings.Contains(strings.ToLower(line), addc.AdminUser))
		}
		if !found {
			t.Errorf("%s not collected with our session:\n%s", tg, out)
		}
	}
}

// TestKerberosClockSkew: a server whose clock is two hours ahead refuses
// the client's authenticator with KRB_AP_ERR_SKEW, in SPNEGO's reject;
// netsess list -k says the clocks differ (not a bare refusal) and exits
// with the logon failure code.
func TestKerberosClockSkew(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	keys, err := krb5.LoadKeys(dc.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	skewed := &krb5.Acceptor{Keys: keys, Clock: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	rpcL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smbL, err := net.Listen("tcp", dc.ServerAddr+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Kerberos: skewed, Listeners: server.Listeners{RPC: rpcL, SMB: smbL}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	_, port, _ := net.SplitHostPort(smbL.Addr().String())
	target := net.JoinHostPort(dc.ServerHost, port)
	code, _, errOut := runSMB(ctx, "list", clEnv(nil, nil), target, "-k", "-U", addc.AdminUser+"@"+dc.Realm+"%"+addc.AdminPassword)
	if code != exitLogon {
		t.Errorf("exit %d, want %d: %s", code, exitLogon, errOut)
	}
	for _, want := range []string{"logon failure: kerberos: clock skew too great", "KRB_AP_ERR_SKEW", "synchronise them"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestKerberosServeThrottle: serve --keytab puts Kerberos logons through
// its logon throttle: a ticket for another service (the DC's SPN) is
// refused and its answer held back as a failed NTLM logon's is
// (ntlm.DefaultFailureDelay); a correct Kerberos logon right after, from
// the same address, is not refused.
func TestKerberosServeThrottle(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	s, _, target := serveDomain(t, dc, "--keytab", dc.Keytab)
	admin := []string{"-k", "-U", addc.AdminUser + "@" + dc.Realm + "%" + addc.AdminPassword}
	env := clEnv(nil, nil)
	start := time.Now()
	code, _, errOut := runSMB(ctx, "list", env, append([]string{target, "--spn", "cifs/" + dc.Host}, admin...)...)
	took := time.Since(start)
	if code != exitLogon {
		t.Fatalf("ticket for another service: exit %d: %s", code, errOut)
	}
	if took < ntlm.DefaultFailureDelay {
		t.Errorf("refusal answered after %v, want at least %v (the throttle's hold)", took, ntlm.DefaultFailureDelay)
	}
	if !strings.Contains(s.stderr.String(), "no key for cifs/"+dc.Host) {
		t.Errorf("server log does not name the refused ticket:\n%s", s.stderr)
	}
	code, _, errOut = runSMB(ctx, "list", env, append([]string{target, "--level", "1"}, admin...)...)
	if code != exitOK {
		t.Errorf("correct logon after the refusal: exit %d: %s", code, errOut)
	}
}
