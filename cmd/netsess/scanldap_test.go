package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/internal/addc"
)

// adDomain is the test domain of the --ldap tests: two fleet hosts with
// computer accounts and DNS records (NSH0 normal, NSH1 denied), a stale
// one, a disabled one and one without a DNS name; the fleet's users and
// IPv4 clients (with PTR records) in the directory, and the scanning
// account "scanner" too, so that one -U serves the fleet and the DC.
type adDomain struct {
	dc      *addc.DC
	fleet   *fleet.Fleet
	clients map[string]string // IPv4 client -> computer name
	users   []string
}

func (d *adDomain) tool(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := d.dc.SambaTool(ctx, args...); err != nil {
		t.Fatal(err)
	}
}

func (d *adDomain) sid(t *testing.T, account string) string {
	t.Helper()
	s, err := d.dc.UserSID(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(s)
}

func (d *adDomain) set(t *testing.T, name, attr, value string) {
	t.Helper()
	if err := d.dc.SetAttribute(context.Background(), "computer", name, attr, value); err != nil {
		t.Fatal(err)
	}
}

func setupADDomain(t *testing.T) *adDomain {
	t.Helper()
	dc := addc.Shared(t)
	f, err := fleet.Start(context.Background(), fleet.Config{
		Hosts: 2, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Denied}, Seed: 21, MaxSessions: 4,
		Base: netip.AddrFrom4([4]byte{127, 1, byte(190 + dc.Slot), 1}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d := &adDomain{dc: dc, fleet: f, clients: map[string]string{}}
	admin := []string{"-U", "Administrator%" + addc.AdministratorPassword}
	now := time.Now()
	recent := directory.FormatFileTime(now.Add(-24 * time.Hour))
	for i, h := range f.Hosts {
		name := fmt.Sprintf("NSH%d", i)
		d.tool(t, append([]string{"computer", "add", name, "--ip-address=" + h.Addr.String(), "--prepare-oldjoin"}, admin...)...)
		d.set(t, name, "lastLogonTimestamp", recent)
		d.set(t, name, "operatingSystem", []string{"Windows Server 2022 Datacenter", "Windows Server 2022 Standard"}[i])
	}
	d.tool(t, append([]string{"computer", "add", "NSOLD", "--ip-address=127.1.251.1", "--prepare-oldjoin"}, admin...)...)
	d.set(t, "NSOLD", "lastLogonTimestamp", directory.FormatFileTime(now.Add(-200*24*time.Hour)))
	d.tool(t, append([]string{"computer", "add", "NSOFF", "--ip-address=127.1.251.2"}, admin...)...)
	d.tool(t, "computer", "add", "NSNODNS", "--prepare-oldjoin")
	for _, name := range []string{"NSOLD", "NSOFF", "NSNODNS"} {
		d.set(t, name, "operatingSystem", "Windows Server 2022 Standard")
	}
	for _, name := range []string{"NSOFF", "NSNODNS"} {
		d.set(t, name, "lastLogonTimestamp", recent)
	}

	users, v4 := f.Accounts()
	for _, u := range users {
		d.users = append(d.users, u)
		d.tool(t, "user", "create", u, "Pw-"+u+"-1x!")
	}
	d.tool(t, "user", "create", fleet.ScanUser, fleet.ScanPassword)
	if len(v4) == 0 || len(d.users) == 0 {
		t.Fatalf("fleet too small: users %v, clients %v", d.users, v4)
	}
	for i, c := range v4 {
		name := fmt.Sprintf("NSC%d", i)
		d.clients[c] = name
		if err := dc.AddClient(context.Background(), name, netip.MustParseAddr(c)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// args are the flags every --ldap run of the tests shares.
func (d *adDomain) args(more ...string) []string {
	return append([]string{"--ldap", d.dc.Addr, "-U", d.dc.Domain + `\` + fleet.ScanUser + "%" + fleet.ScanPassword,
		"--port", strconv.Itoa(d.fleet.Port), "--dns", d.dc.Addr, "--timeout", "5s"}, more...)
}

// fqdn is a computer's DNS name.
func (d *adDomain) fqdn(name string) string { return strings.ToLower(name) + "." + d.dc.DNSDomain }

func readComputers(t *testing.T, dir string) *bloodhound.File {
	t.Helper()
	js, _ := filepath.Glob(filepath.Join(dir, "*_computers.json"))
	zips, _ := filepath.Glob(filepath.Join(dir, "*_BloodHound.zip"))
	if len(js) != 1 || len(zips) != 1 {
		t.Fatalf("--bloodhound wrote %v and %v", js, zips)
	}
	z, err := zip.OpenReader(zips[0])
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if len(z.File) != 1 || z.File[0].Name != filepath.Base(js[0]) {
		t.Errorf("the zip holds %v, want %s", z.File, filepath.Base(js[0]))
	}
	b, err := os.ReadFile(js[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := bloodhound.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestScanLDAPBloodHound(t *testing.T) {
	d := setupADDomain(t)
	env := clEnv(nil, nil)
	h0, h1 := d.sid(t, "NSH0$"), d.sid(t, "NSH1$")
	userSIDs := map[string]bool{}
	for _, u := range d.users {
		userSIDs[d.sid(t, u)] = true
	}
	clientSIDs := map[string]bool{}
	for _, c := range d.clients {
		clientSIDs[d.sid(t, c+"$")] = true
	}

	t.Run("sealed-ntlm", func(t *testing.T) {
		dir := t.TempDir()
		code, out, errOut := runScanCmd(t, env, d.args("--active-days", "30", "--exclude-dcs", "--os", "*server 2022*",
			"--bloodhound", dir, "--json")...)
		if code != exitIncomplete {
			t.Fatalf("exit %d, want %d (denied host)\n%s", code, exitIncomplete, errOut)
		}
		for _, want := range []string{
			"nsold." + d.dc.DNSDomain + ": not scanned: stale",
			"nsoff." + d.dc.DNSDomain + ": not scanned: disabled",
			"NSNODNS$: not scanned: no_dns_name",
			": not scanned: domain_controller",
			"2 to scan",
			"BloodHound: 2 computers",
			"names: ",
			"BloodHound data: " + dir,
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		hosts := parseHostLines(t, out)
		t0 := d.fqdn("NSH0") + ":" + strconv.Itoa(d.fleet.Port)
		t1 := d.fqdn("NSH1") + ":" + strconv.Itoa(d.fleet.Port)
		if len(hosts) != 2 || !hosts[t0].Collected || hosts[t1].Reason != "access_denied" {
			t.Fatalf("results %+v\n%s", hosts, out)
		}
		file := readComputers(t, dir)
		if len(file.Data) != 2 {
			t.Fatalf("%d records", len(file.Data))
		}
		pairs := 0
		for _, rec := range file.Data {
			switch rec.ObjectIdentifier {
			case h0:
				if !rec.Sessions.Collected || rec.Properties.DNSHostName != d.fqdn("NSH0") {
					t.Errorf("NSH0: %+v", rec)
				}
				for _, p := range rec.Sessions.Results {
					pairs++
					if !userSIDs[p.UserSID] || !clientSIDs[p.ComputerSID] {
						t.Errorf("pair %+v: not samba-tool's SID of a fleet user and client", p)
					}
				}
			case h1:
				if rec.Sessions.Collected || rec.Sessions.FailureReason == nil || *rec.Sessions.FailureReason != "ErrorAccessDenied" {
					t.Errorf("NSH1: %+v", rec.Sessions)
				}
			default:
				t.Errorf("record %s is neither NSH0 (%s) nor NSH1 (%s)", rec.ObjectIdentifier, h0, h1)
			}
		}
		if pairs == 0 {
			t.Error("no session pair resolved")
		}
	})

	// Only NSH0 matches: every host collected, exit 0; --bloodhound -
	// puts the computers file alone on stdout.
	t.Run("all-collected-stdout", func(t *testing.T) {
		code, out, errOut := runScanCmd(t, env, d.args("--os", "datacenter", "--bloodhound", "-")...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		file, err := bloodhound.Decode([]byte(out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(file.Data) != 1 || file.Data[0].ObjectIdentifier != h0 {
			t.Errorf("records %+v", file.Data)
		}
		if !strings.Contains(errOut, "nsh1."+d.dc.DNSDomain+": not scanned: os_mismatch") {
			t.Errorf("stderr:\n%s", errOut)
		}
	})

	// A target given beside --ldap is scanned too and gets its SID
	// through the directory; --only-dcs adds the DC, which does not
	// listen on the fleet's port.
	t.Run("union-and-host-sid", func(t *testing.T) {
		target := d.fqdn("NSH0") + ":" + strconv.Itoa(d.fleet.Port)
		code, out, errOut := runScanCmd(t, env, d.args("--only-dcs", "--bloodhound", "-", "-q", target)...)
		if code != exitIncomplete {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		file, err := bloodhound.Decode([]byte(out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got := map[string]bloodhound.Computer{}
		for _, r := range file.Data {
			got[r.ObjectIdentifier] = r
		}
		dcSID := d.sid(t, "DC$")
		if len(got) != 2 || !got[h0].Sessions.Collected || got[dcSID].Sessions.Collected || got[dcSID].Status == nil {
			b, _ := json.Marshal(file.Data)
			t.Errorf("records (want NSH0 %s collected, DC %s not):\n%s", h0, dcSID, b)
		}
	})

	// LDAPS with a simple bind, checked against the DC's CA: Samba's
	// certificate has a negative serial (the go:debug setting of main.go).
	t.Run("ldaps-simple", func(t *testing.T) {
		// The certificate names the DC by its host name only.
		args := d.args("--ldap-security", "ldaps", "--ldap-bind", "simple",
			"--ldap-ca", d.dc.CAFile(), "--os", "datacenter", "--json")
		args[1] = d.dc.Host
		code, out, errOut := runScanCmd(t, env, args...)
		if code != exitOK || len(parseHostLines(t, out)) != 1 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	// The netsess binary itself accepts the certificate: main.go's
	// go:debug setting is in the build, not only in this test binary.
	t.Run("binary-starttls", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the binary")
		}
		bin := buildNetsess(t, t.TempDir(), nil, "-buildvcs=false")
		args := d.args("--ldap-security", "starttls", "--ldap-bind", "simple",
			"--ldap-ca", d.dc.CAFile(), "--os", "datacenter", "--json", "-q")
		args[1] = d.dc.Host
		cmd := exec.Command(bin, append([]string{"scan"}, args...)...)
		cmd.Env = append(os.Environ(), "GODEBUG=") // the binary's own default, not the environment's
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if hosts := parseHostLines(t, string(out)); len(hosts) != 1 {
			t.Errorf("results %+v", hosts)
		}
	})

	// Kerberos binds (SASL GSSAPI, sealed on 389): with --ldap-bind
	// kerberos beside NTLM logons to the hosts, the computers file
	// equals the sealed NTLM bind's; with -k the bind is Kerberos by
	// default; a wrong SPN and an expired credential cache exit 8, an
	// address with no --ldap-spn is a usage error.
	t.Run("kerberos", func(t *testing.T) {
		t.Setenv("KRB5_CONFIG", d.dc.Krb5Conf)
		pairsOf := func(out string) []string {
			t.Helper()
			file, err := bloodhound.Decode([]byte(out))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var recs []string
			for _, r := range file.Data {
				var pairs []string
				for _, p := range r.Sessions.Results {
					pairs = append(pairs, p.UserSID+">"+p.ComputerSID)
				}
				slices.Sort(pairs)
				recs = append(recs, fmt.Sprintf("%s %s %v %v", r.ObjectIdentifier, r.Properties.Name, r.Sessions.Collected, pairs))
			}
			slices.Sort(recs)
			return recs
		}
		byName := func(args []string) []string {
			args[1] = d.dc.Host
			return args
		}
		filters := []string{"--active-days", "30", "--exclude-dcs", "--bloodhound", "-", "-q"}
		code, ntlmOut, errOut := runScanCmd(t, env, d.args(filters...)...)
		if code != exitIncomplete {
			t.Fatalf("NTLM bind: exit %d\n%s", code, errOut)
		}
		code, krbOut, errOut := runScanCmd(t, env, byName(d.args(append([]string{"--ldap-bind", "kerberos"}, filters...)...))...)
		if code != exitIncomplete {
			t.Fatalf("Kerberos bind: exit %d\n%s", code, errOut)
		}
		if k, n := pairsOf(krbOut), pairsOf(ntlmOut); !slices.Equal(k, n) || len(k) != 2 {
			t.Errorf("Kerberos bind:\n%s\nNTLM bind:\n%s", strings.Join(k, "\n"), strings.Join(n, "\n"))
		}

		// -k: the bind is Kerberos without --ldap-bind (the fleet's hosts
		// take NTLM only, so their logons fail; the directory answered).
		code, _, errOut = runScanCmd(t, env, byName(d.args("-k", "--active-days", "30", "--exclude-dcs", "--json"))...)
		if code == exitDirectory || !strings.Contains(errOut, "2 to scan") {
			t.Errorf("-k: exit %d\n%s", code, errOut)
		}

		code, _, errOut = runScanCmd(t, env, byName(d.args("-k", "--ldap-spn", "ldap/nowhere."+d.dc.DNSDomain, "--json"))...)
		if code != exitDirectory || !strings.Contains(errOut, "no such service principal") || !strings.Contains(errOut, "--ldap-spn") {
			t.Errorf("wrong SPN: exit %d\n%s", code, errOut)
		}

		short := filepath.Join(t.TempDir(), "ccache")
		kinit := exec.Command("kinit", "-l", "5s", fleet.ScanUser+"@"+d.dc.Realm)
		kinit.Env = d.dc.Env(short)
		kinit.Stdin = strings.NewReader(fleet.ScanPassword + "\n")
		if out, err := kinit.CombinedOutput(); err != nil {
			t.Fatalf("kinit: %v: %s", err, out)
		}
		time.Sleep(6 * time.Second)
		kenv := clEnv(map[string]string{"KRB5CCNAME": "FILE:" + short}, nil)
		args := byName(d.args("--json"))
		args = slices.Delete(args, 2, 4) // no -U: the cache's user
		code, _, errOut = runScanCmd(t, kenv, append(args, "-k", "--no-pass")...)
		if code != exitDirectory || !strings.Contains(errOut, "expired") || !strings.Contains(errOut, "kinit") {
			t.Errorf("expired cache: exit %d\n%s", code, errOut)
		}

		code, _, errOut = runScanCmd(t, env, d.args("--ldap-bind", "kerberos", "--json")...)
		if code != exitUsage || !strings.Contains(errOut, "DNS name") {
			t.Errorf("address without --ldap-spn: exit %d\n%s", code, errOut)
		}
	})

	// Last: it changes the fleet (a session ends, NSH0 hangs).
	defer t.Run("watch-bloodhound", func(t *testing.T) { watchBloodHound(t, d) })

	t.Run("bind-refused", func(t *testing.T) {
		code, _, errOut := runScanCmd(t, env, "--ldap", d.dc.Addr, "-U", d.dc.Domain+`\`+fleet.ScanUser+"%wrong", "--json")
		if code != exitDirectory || !strings.Contains(errOut, "refused the bind") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
	})
}

// The directory flags' usage errors need no domain controller.
func TestScanLDAPUsage(t *testing.T) {
	env := clEnv(nil, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"h1", "--bloodhound", "out"}, "--bloodhound goes with --ldap"},
		{[]string{"h1", "--active-days", "3"}, "--active-days goes with --ldap"},
		{[]string{"--ldap", "dc", "--exclude-dcs", "--only-dcs"}, "exclude each other"},
		{[]string{"--ldap", "dc", "-"}, "--ldap and -"},
		{[]string{"--ldap", "dc", "--ldap-bind", "simple"}, "needs --ldap-security ldaps or starttls"},
		{[]string{"--ldap", "dc", "--ldap-ca", "ca.pem"}, "are for --ldap-security ldaps or starttls"},
		{[]string{"--ldap", "dc", "--ldap-security", "ldaps", "--ldap-ca", "ca.pem", "--ldap-insecure"}, "exclude each other"},
		{[]string{"--ldap", "dc", "--active-days", "-1"}, "not negative"},
		{[]string{"--ldap", "dc", "--bloodhound", "-", "--json"}, "not with --json"},
		{[]string{"h1", "--port", "70000"}, "--port: 0 to 65535"},
		{[]string{"h1", "--ldap-spn", "ldap/dc"}, "--ldap-spn goes with --ldap"},
		{[]string{"h1", "--netbios"}, "--netbios goes with --ldap"},
		{[]string{"--ldap", "dc", "--netbios"}, "--netbios goes with --bloodhound"},
		{[]string{"--ldap", "dc", "--ldap-bind", "ntlm", "--ldap-spn", "ldap/dc"}, "--ldap-spn is for --ldap-bind kerberos"},
		{[]string{"--ldap", "dc", "--ldap-security", "signed", "--ldap-bind", "ntlm"}, "signed is for --ldap-bind kerberos"},
		{[]string{"--ldap", "dc", "--ldap-security", "signed"}, "signed is for --ldap-bind kerberos"},
		{[]string{"--ldap", "127.0.0.1", "--ldap-bind", "kerberos"}, "give --ldap the DC's DNS name"},
	} {
		code, _, errOut := runScanCmd(t, env, append(tc.args, scanU)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}
