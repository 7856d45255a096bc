package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/fleet"
)

// watchBloodHound runs netsess watch --ldap (Kerberos bind) --bloodhound
// over the test domain for three rounds and reads the computers file
// after each: the
// sessions seen within the window stay in the file after they end, the
// file of each round replaces the previous one, and a host whose last
// round failed is not collected and carries no pairs.
func watchBloodHound(t *testing.T, d *adDomain) {
	h0, h1 := d.sid(t, "NSH0$"), d.sid(t, "NSH1$")
	var user, clientAddr string
	for c := range d.clients {
		clientAddr = c
		break
	}
	user = d.users[len(d.users)-1]
	extra := bloodhound.SessionPair{UserSID: d.sid(t, user), ComputerSID: d.sid(t, d.clients[clientAddr]+"$")}
	h, err := d.fleet.AddSession(0, fleet.Session{Client: clientAddr, User: user, Time: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		d.fleet.SetOutage(0, fleet.Normal)
	})
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "history.db")
	type seen struct {
		collected bool
		reason    string
		pairs     []bloodhound.SessionPair
	}
	var files []map[string]seen
	read := func() {
		t.Helper()
		file := readComputers(t, dir) // exactly one JSON and one zip
		m := map[string]seen{}
		for _, r := range file.Data {
			s := seen{collected: r.Sessions.Collected, pairs: r.Sessions.Results}
			if r.Sessions.FailureReason != nil {
				s.reason = *r.Sessions.FailureReason
			}
			m[r.ObjectIdentifier] = s
		}
		files = append(files, m)
	}
	steps := []func(){
		// After round 1: the extra session ends.
		func() { h.Close() },
		// After round 2: NSH0 hangs.
		func() {
			if err := d.fleet.SetOutage(0, fleet.Hang); err != nil {
				t.Fatal(err)
			}
		},
	}
	env := clEnv(nil, nil)
	calls := 0
	env.sleep = func(ctx context.Context, _ time.Duration) error {
		read()
		steps[calls]()
		calls++
		return nil
	}
	// The directory is asked with a Kerberos bind (a client of its own
	// from -U's password, for the discovery and every write).
	t.Setenv("KRB5_CONFIG", d.dc.Krb5Conf)
	args := d.args("--ldap-bind", "kerberos")
	args[1] = d.dc.Host
	code, out, errOut := runNetsess(context.Background(), env, append([]string{"watch", "--rounds", "3", "--interval", "10s",
		"--db", db, "--bloodhound", dir, "--bloodhound-window", "1h", "--exclude-dcs", "--active-days", "30", "--os", "*server 2022*", "--events", filepath.Join(t.TempDir(), "ev")},
		args...)...)
	if code != exitOK {
		t.Fatalf("watch: exit %d\n%s\n%s", code, out, errOut)
	}
	read()
	if len(files) != 3 {
		t.Fatalf("%d files read", len(files))
	}
	for i, f := range files {
		if len(f) != 2 {
			t.Errorf("round %d: %d records, want NSH0 and NSH1", i+1, len(f))
		}
		if s := f[h1]; s.collected || s.reason != "ErrorAccessDenied" || len(s.pairs) != 0 {
			t.Errorf("round %d: NSH1 (denied) %+v", i+1, s)
		}
	}
	for i := range 2 {
		s := files[i][h0]
		if !s.collected || !slices.Contains(s.pairs, extra) {
			t.Errorf("round %d: NSH0 %+v, want collected with %+v", i+1, s, extra)
		}
	}
	if s := files[2][h0]; s.collected || s.reason != "Timeout" || len(s.pairs) != 0 {
		t.Errorf("round 3: NSH0 (hanging) %+v", s)
	}
	for _, want := range []string{"BloodHound (" + dir, "2 computers", "netsess watch: directory " + d.dc.DNSDomain} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// The BloodHound flags of watch: usage errors need no domain controller.
func TestWatchBloodHoundUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"h1", "--bloodhound", dir}, "--bloodhound goes with --ldap"},
		{[]string{"--ldap", "dc", "--bloodhound", "-"}, "watch writes its events on standard output"},
		{[]string{"h1", "--bloodhound-window", "2h"}, "--bloodhound-window goes with --bloodhound"},
		{[]string{"--ldap", "dc", "--bloodhound", dir, "--bloodhound-window", "0s"}, "--bloodhound-window: more than 0"},
		{[]string{"--ldap", "dc", "--bloodhound", filepath.Join(dir, "none")}, "--bloodhound: "},
		{[]string{"--ldap", "dc", "--bloodhound", file}, "is not a directory"},
		{[]string{"--ldap", "dc", "--netbios"}, "--netbios goes with --bloodhound"},
	} {
		args := append([]string{"watch", scanU, "--db", filepath.Join(dir, "h.db")}, tc.args...)
		code, _, errOut := runNetsess(context.Background(), clEnv(nil, nil), args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}
