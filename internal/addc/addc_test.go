package addc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMain shares one DC between the tests; Main stops it afterwards and
// fails the binary if it left a process, an /etc/hosts line or its
// directory behind (TestKerberosRPC has made smbd start samba-dcerpcd,
// which leaves samba's process tree, by then).
func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestKerberosRPC logs on as the domain admin with MIT kinit and lists the
// DC's sessions over \PIPE\srvsvc with rpcclient using that ticket, at
// levels 0 and 1, then checks smbclient with Kerberos against IPC$.
func TestKerberosRPC(t *testing.T) {
	dc := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, AdminUser, AdminPassword, cc); err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"0", "1"} {
		out, err := dc.RPCClientKerberos(ctx, cc, "netsessenum "+level).CombinedOutput()
		if err != nil {
			t.Fatalf("rpcclient netsessenum %s: %v: %s", level, err, out)
		}
		if !regexp.MustCompile(`Received [1-9][0-9]* entries`).Match(out) {
			t.Errorf("rpcclient netsessenum %s: %s", level, out)
		}
	}
	// The logon above was Kerberos: the cache now holds a cifs ticket
	// for the DC.
	klist, err := dc.command(ctx, cc, "klist").CombinedOutput()
	if err != nil {
		t.Fatalf("klist: %v: %s", err, klist)
	}
	if !strings.Contains(string(klist), "cifs/"+dc.Host+"@"+dc.Realm) {
		t.Errorf("no cifs ticket in the cache after rpcclient -k: %s", klist)
	}
	out, err := dc.SMBClientKerberos(ctx, cc, "IPC$", "exit").CombinedOutput()
	if err != nil {
		t.Errorf("smbclient -k //%s/IPC$: %v: %s", dc.Host, err, out)
	}
}

// TestWrongPasswordRefused checks that the DC's KDC refuses kinit with a
// wrong password (the harness does not accept anything).
func TestWrongPasswordRefused(t *testing.T) {
	dc := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, User, "not-the-password", cc); err == nil {
		t.Fatal("kinit with a wrong password succeeded")
	}
	if err := dc.Kinit(ctx, User, UserPassword, cc); err != nil {
		t.Fatal(err)
	}
}

// TestAccounts checks the accounts, SIDs and the keytab the harness
// promises.
func TestAccounts(t *testing.T) {
	dc := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := dc.UserSID(ctx, AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	user, err := dc.UserSID(ctx, User)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(admin, dc.DomainSID+"-") || !strings.HasPrefix(user, dc.DomainSID+"-") || admin == user {
		t.Errorf("SIDs: admin %s, user %s, domain %s", admin, user, dc.DomainSID)
	}
	groups, err := dc.GroupSIDs(ctx, AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{dc.DomainSID + "-512": true, dc.DomainSID + "-513": true, "S-1-5-32-544": true}
	for _, g := range groups {
		delete(want, g)
	}
	if len(want) != 0 {
		t.Errorf("admin's groups %v lack %v", groups, want)
	}
	ugroups, err := dc.GroupSIDs(ctx, User)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range ugroups {
		if g == dc.DomainSID+"-512" {
			t.Errorf("plain user is in Domain Admins: %v", ugroups)
		}
	}
	out, err := dc.command(ctx, "", "klist", "-ke", dc.Keytab).CombinedOutput()
	if err != nil {
		t.Fatalf("klist -ke: %v: %s", err, out)
	}
	for _, p := range []string{"cifs/" + dc.ServerHost, "host/" + dc.ServerHost, ServerAccount + "$"} {
		if !strings.Contains(string(out), p+"@"+dc.Realm+" (aes256-cts-hmac-sha1-96)") {
			t.Errorf("keytab lacks an AES-256 key for %s: %s", p, out)
		}
	}
}

// TestWildcardListener checks the detection of a listener on every
// address, which would keep the DC from binding its own.
func TestWildcardListener(t *testing.T) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if got, ok := wildcardListener([]int{port}); !ok || got != port {
		t.Errorf("wildcard listener on %d not found (%d, %v)", port, got, ok)
	}
	l2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, ok := wildcardListener([]int{l2.Addr().(*net.TCPAddr).Port}); ok {
		t.Error("a loopback listener taken for a wildcard one")
	}
}
