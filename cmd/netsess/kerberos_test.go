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
	s := serveBG(t, "--smb", dc.ServerAddr+":0", "--rpc", "127.0.0.1:0", "--keytab", dc.Keytab, "--policy", "modern", "--demo-sessions")
	_, port, err := net.SplitHostPort(s.smb)
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(dc.ServerHost, port)
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
// over tcp Kerberos is refused naming --transport smb.
func TestKerberosNTLMOnlyServer(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	s := serveBG(t, "--smb", dc.ServerAddr+":0", "--rpc", "127.0.0.1:0")
	_, port, err := net.SplitHostPort(s.smb)
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(dc.ServerHost, port)
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
	code, _, errOut = runSMB(ctx, "list", env, "--transport", "tcp", s.rpc, "-k", "-U", admin)
	if code != exitUsage || !strings.Contains(errOut, "--transport smb") {
		t.Errorf("-k over tcp: exit %d: %s", code, errOut)
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
	s := serveBG(t, "--smb", dc.ServerAddr+":0", "--rpc", "127.0.0.1:0", "--keytab", dc.Keytab)
	_, port, err := net.SplitHostPort(s.smb)
	if err != nil {
		t.Fatal(err)
	}
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
	s := serveBG(t, "--smb", dc.ServerAddr+":0", "--rpc", "127.0.0.1:0", "--keytab", dc.Keytab)
	_, port, err := net.SplitHostPort(s.smb)
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{net.JoinHostPort(dc.ServerHost, port), dc.Host}
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
