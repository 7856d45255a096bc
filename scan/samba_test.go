package scan_test

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// TestScanSamba scans two real Samba smbd instances as nsp_alice: on the
// first she is in BUILTIN\Administrators and the sessions held there are
// collected at level 1 (Samba refuses 502 and 10 as invalid levels); on
// the second the group mappings are removed, so she is a plain user and
// Samba denies the enumeration at every level: access_denied, exactly.
func TestScanSamba(t *testing.T) {
	sambapeer.RequireImpacket(t)
	admin := sambapeer.Start(t, sambapeer.Options{})
	denied := sambapeer.Start(t, sambapeer.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Without both mappings nsp_alice is a plain user there (a Domain
	// Admins member would get BUILTIN\Administrators added to its token).
	// The instance's cache still maps the groups' ids to the SIDs: flush
	// it too.
	for _, args := range [][]string{
		{"groupmap", "delete", "sid=S-1-5-32-544"},
		{"groupmap", "delete", "ntgroup=Domain Admins"},
		{"cache", "flush"},
	} {
		out, err := exec.CommandContext(ctx, "net", append([]string{"-s", denied.Conf}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("net %v: %v: %s", args, err, out)
		}
	}
	admin.HoldT(t,
		sambapeer.Session{User: sambapeer.User, Password: sambapeer.UserPassword, From: "127.0.0.7"},
		sambapeer.Session{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword, From: "127.0.0.8", OpenFile: true},
	)

	ts, err := scan.ParseTargets([]string{admin.Addr(), denied.Addr()}, scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.New(scan.Config{
		Client:      client.Options{Credentials: client.Credentials{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword}},
		Level:       scan.AutoLevel,
		HostTimeout: 30 * time.Second,
		PreCheck:    2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*scan.Result{}
	sum, err := s.Run(ctx, scan.SliceSource(ts), func(r *scan.Result) { res[r.Target] = r })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Hosts != 2 || sum.Collected != 1 || sum.ByReason[client.ReasonAccessDenied] != 1 {
		t.Errorf("summary %+v", sum)
	}

	a := res[admin.Addr()]
	refused := []client.Attempt{{Level: session.Level502, Status: session.StatusInvalidLevel}, {Level: session.Level10, Status: session.StatusInvalidLevel}}
	if a == nil || !a.Collected || a.Failure.Reason != "" || a.Level != session.Level1 || !slices.Equal(a.LevelsRefused, refused) {
		t.Fatalf("admin instance: %+v", a)
	}
	var got []string
	for _, x := range a.Sessions {
		if x.ClientHost() != "127.0.0.1" { // our own session
			got = append(got, x.ClientHost()+"/"+x.UserName)
		}
	}
	slices.Sort(got)
	if want := []string{"127.0.0.7/" + sambapeer.User, "127.0.0.8/" + sambapeer.AdminUser}; !slices.Equal(got, want) {
		t.Errorf("admin instance sessions %q, want %q", got, want)
	}

	d := res[denied.Addr()]
	if d == nil || d.Collected || d.Failure.Reason != client.ReasonAccessDenied || !d.Failure.HasStatus ||
		d.Failure.Status != uint32(session.StatusAccessDenied) || len(d.Sessions) != 0 || len(d.LevelsRefused) != 4 {
		t.Fatalf("denied instance: %+v", d)
	}
}
