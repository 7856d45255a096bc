package bloodhound_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

const domainSID = "S-1-5-21-100-200-300"

// fakeDir is a directory where every user and every computer NAME$ has a
// SID derived from its name, and the names in missing do not exist.
type fakeDir struct {
	sids    map[string]string
	missing map[string]bool
}

func (f *fakeDir) Domain() directory.Domain {
	return directory.Domain{BaseDN: "DC=example,DC=test", DNSName: "example.test", NetBIOSName: "EXAMPLE", SID: domainSID}
}

func (f *fakeDir) sid(name string) string {
	key := strings.ToLower(name)
	if s, ok := f.sids[key]; ok {
		return s
	}
	s := fmt.Sprintf("%s-%d", domainSID, 1000+len(f.sids))
	f.sids[key] = s
	return s
}

func (f *fakeDir) AccountSID(_ context.Context, sam string) (string, error) {
	if f.missing[strings.ToLower(sam)] {
		return "", directory.ErrNotFound
	}
	return f.sid(sam), nil
}

func (f *fakeDir) HostSID(_ context.Context, fqdn string) (string, error) {
	label, _, _ := strings.Cut(fqdn, ".")
	return f.AccountSID(context.Background(), label+"$")
}

// reverse names 10.20.x.y as wsXY.example.test; IPv6 clients have no name.
func reverse(_ context.Context, a netip.Addr) ([]string, error) {
	if !a.Is4() {
		return nil, directory.ErrNotFound
	}
	b := a.As4()
	return []string{fmt.Sprintf("ws%d-%d.example.test.", b[2], b[3])}, nil
}

func TestOutcome(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name      string
		collected bool
		reason    client.Reason
		level     uint32
		hasLevel  bool
		want      bool
		wantWhy   *string
		status    *bloodhound.Status
	}{
		{"level 10", true, "", 10, true, true, nil, nil},
		{"level 1", true, "", 1, true, true, nil, nil},
		{"level 0 only", true, "", 0, true, false, str("level_0_only"), nil},
		{"denied", false, client.ReasonAccessDenied, 0, false, false, str("ErrorAccessDenied"), nil},
		{"timeout", false, client.ReasonTimeout, 0, false, false, str("Timeout"), nil},
		{"invalid level", false, client.ReasonInvalidLevel, 0, false, false, str("ErrorInvalidLevel"), nil},
		{"port closed", false, client.ReasonPortClosed, 0, false, false, str("PortNotOpen"), &bloodhound.Status{Error: "PortNotOpen"}},
		{"unreachable", false, client.ReasonUnreachable, 0, false, false, str("unreachable"), &bloodhound.Status{Error: "unreachable"}},
		{"logon failure", false, client.ReasonLogonFailure, 0, false, false, str("logon_failure"), nil},
		{"canceled", false, client.ReasonCanceled, 0, false, false, str("canceled"), nil},
	} {
		got, why, st := bloodhound.Outcome(tc.collected, client.Failure{Reason: tc.reason}, tc.level, tc.hasLevel)
		if got != tc.want || (why == nil) != (tc.wantWhy == nil) || (why != nil && *why != *tc.wantWhy) ||
			(st == nil) != (tc.status == nil) || (st != nil && *st != *tc.status) {
			t.Errorf("%s: %v %v %v, want %v %v %v", tc.name, got, deref(why), st, tc.want, deref(tc.wantWhy), tc.status)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// scanFleet scans a fleet of the given behaviours at level and resolves the
// results against a fake directory.
func scanFleet(t *testing.T, behaviors []fleet.Behavior, level session.Level, dir *fakeDir) ([]*directory.Host, *fleet.Fleet) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f, err := fleet.Start(ctx, fleet.Config{Hosts: len(behaviors), Behaviors: behaviors, Seed: 11, MaxSessions: 8,
		Base: netip.AddrFrom4([4]byte{127, 1, 166, 1})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	sc, err := scan.New(scan.Config{
		Client:      client.Options{Credentials: client.Credentials{User: fleet.ScanUser, Password: fleet.ScanPassword}},
		Level:       level,
		HostTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	targets, err := scan.ParseTargets(f.Targets(), scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := directory.NewResolver(dir, directory.ResolverConfig{Collector: fleet.ScanUser, Reverse: reverse})
	var hosts []*directory.Host
	if _, err := sc.Run(ctx, scan.SliceSource(targets), func(r *scan.Result) {
		i := slices.IndexFunc(f.Hosts, func(h *fleet.Host) bool { return h.Target == r.Target })
		comp := &directory.Computer{Name: fmt.Sprintf("SRV%d", i), SAMAccountName: fmt.Sprintf("SRV%d$", i),
			DNSHostName: fmt.Sprintf("srv%d.example.test", i), SID: dir.sid(fmt.Sprintf("SRV%d$", i)),
			Domain: "example.test", Enabled: true, OperatingSystem: "Windows Server 2022", DN: "CN=x"}
		hosts = append(hosts, res.Resolve(ctx, r, comp))
	}); err != nil {
		t.Fatal(err)
	}
	return hosts, f
}

func TestComputersFromFleet(t *testing.T) {
	dir := &fakeDir{sids: map[string]string{}, missing: map[string]bool{"grace": true}}
	behaviors := []fleet.Behavior{fleet.Normal, fleet.Denied, fleet.Hang, fleet.Samba, fleet.Refuse}
	hosts, f := scanFleet(t, behaviors, scan.AutoLevel, dir)
	c := bloodhound.NewComputers(bloodhound.Options{CollectorVersion: "test", Domain: dir.Domain(),
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	for _, h := range hosts {
		c.Add(h)
	}
	out := t.TempDir()
	jsonPath, zipPath, err := c.WriteDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(jsonPath) != "20260102030405_computers.json" || filepath.Base(zipPath) != "20260102030405_BloodHound.zip" {
		t.Errorf("file names %s %s", jsonPath, zipPath)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != filepath.Base(jsonPath) {
		t.Fatalf("zip holds %v", zr.File)
	}
	rc, _ := zr.File[0].Open()
	zipped, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(zipped, raw) {
		t.Error("zip's computers file differs from the JSON file")
	}
	file, err := bloodhound.Decode(raw)
	if err != nil {
		t.Fatalf("strict decode: %v\n%s", err, raw)
	}
	if file.Meta != (bloodhound.Meta{Methods: 8, Type: "computers", Count: 5, Version: 6, CollectorVersion: "test"}) {
		t.Errorf("meta %+v", file.Meta)
	}
	byName := map[string]bloodhound.Computer{}
	for _, rec := range file.Data {
		byName[rec.Properties.Name] = rec
		if !rec.PrivilegedSessions.Collected == false || rec.RegistrySessions.Collected || rec.PrivilegedSessions.FailureReason != nil {
			t.Errorf("%s: privileged/registry sessions %+v %+v", rec.Properties.Name, rec.PrivilegedSessions, rec.RegistrySessions)
		}
		if rec.DomainSID != domainSID || rec.ObjectIdentifier != strings.ToUpper(rec.ObjectIdentifier) {
			t.Errorf("%s: %s %s", rec.Properties.Name, rec.ObjectIdentifier, rec.DomainSID)
		}
	}
	for i, b := range behaviors {
		name := fmt.Sprintf("SRV%d.EXAMPLE.TEST", i)
		rec, ok := byName[name]
		if !ok {
			t.Errorf("no record for %s (%s)", name, b)
			continue
		}
		if rec.ObjectIdentifier != dir.sid(fmt.Sprintf("SRV%d$", i)) {
			t.Errorf("%s: ObjectIdentifier %s", name, rec.ObjectIdentifier)
		}
		s := rec.Sessions
		switch b {
		case fleet.Normal, fleet.Samba:
			if !s.Collected || s.FailureReason != nil || rec.Status != nil {
				t.Errorf("%s (%s): %+v status %v", name, b, s, rec.Status)
			}
			want := expectedPairs(f.Hosts[i], dir)
			got := slices.Clone(s.Results)
			sortPairs(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s (%s): pairs\n got %v\nwant %v", name, b, got, want)
			}
			if len(want) == 0 {
				t.Errorf("%s: no pairs expected: the test proves nothing", name)
			}
		case fleet.Denied:
			if s.Collected || deref(s.FailureReason) != "ErrorAccessDenied" || len(s.Results) != 0 || rec.Status != nil {
				t.Errorf("%s (denied): %+v", name, s)
			}
		case fleet.Hang:
			if s.Collected || deref(s.FailureReason) != "Timeout" || len(s.Results) != 0 {
				t.Errorf("%s (hang): %+v", name, s)
			}
		case fleet.Refuse:
			if s.Collected || deref(s.FailureReason) != "PortNotOpen" || rec.Status == nil || rec.Status.Connectable {
				t.Errorf("%s (refuse): %+v status %v", name, s, rec.Status)
			}
		}
	}
	rep := c.Report()
	if rep.Hosts != 5 || rep.Skipped[directory.SkipCollector] == 0 || rep.Unresolved == 0 {
		t.Errorf("report %+v: want the collector's sessions skipped and grace's and the IPv6 clients' unresolved", rep)
	}
}

// expectedPairs computes, from the fleet's truth, the pairs a host's
// sessions give: machine accounts dropped, users and IPv4 clients known to
// the fake directory, IPv6 clients unresolved, duplicates merged.
func expectedPairs(h *fleet.Host, dir *fakeDir) []bloodhound.SessionPair {
	var want []bloodhound.SessionPair
	for _, s := range h.Sessions {
		if strings.HasSuffix(s.User, "$") || dir.missing[s.User] {
			continue
		}
		a := netip.MustParseAddr(s.Client)
		if !a.Is4() {
			continue
		}
		b := a.As4()
		p := bloodhound.SessionPair{UserSID: dir.sid(s.User), ComputerSID: dir.sid(fmt.Sprintf("WS%d-%d$", b[2], b[3]))}
		if !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	sortPairs(want)
	return want
}

func sortPairs(ps []bloodhound.SessionPair) {
	slices.SortFunc(ps, func(a, b bloodhound.SessionPair) int {
		return strings.Compare(a.UserSID+a.ComputerSID, b.UserSID+b.ComputerSID)
	})
}

func TestLevelZeroIsNotCollected(t *testing.T) {
	dir := &fakeDir{sids: map[string]string{}}
	hosts, _ := scanFleet(t, []fleet.Behavior{fleet.Normal}, session.Level0, dir)
	c := bloodhound.NewComputers(bloodhound.Options{})
	c.Add(hosts[0])
	var buf bytes.Buffer
	if err := c.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	file, err := bloodhound.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s := file.Data[0].Sessions
	if !hosts[0].Result.Collected || s.Collected || deref(s.FailureReason) != bloodhound.FailureLevel0 || len(s.Results) != 0 {
		t.Errorf("level 0 host: scan collected %v, record %+v", hosts[0].Result.Collected, s)
	}
}

func TestDuplicatesMergedAndSIDsUpperCased(t *testing.T) {
	mk := func(collected bool, reason client.Reason, pairs ...[2]string) *directory.Host {
		h := &directory.Host{Result: &scan.Result{Target: "h", Collected: collected, Failure: client.Failure{Reason: reason},
			Level: 10, HasLevel: true}, SID: "s-1-5-21-9-9-9-1000"}
		for _, p := range pairs {
			h.Sessions = append(h.Sessions, directory.Session{UserSID: p[0], ComputerSID: p[1]})
		}
		return h
	}
	c := bloodhound.NewComputers(bloodhound.Options{})
	c.Add(mk(false, client.ReasonTimeout))
	c.Add(mk(true, "", [2]string{"s-1-5-21-9-9-9-1100", "S-1-5-21-9-9-9-1200"}, [2]string{"S-1-5-21-9-9-9-1100", "s-1-5-21-9-9-9-1200"}))
	c.Add(mk(true, "", [2]string{"S-1-5-21-9-9-9-1100", "S-1-5-21-9-9-9-1200"}, [2]string{"S-1-5-21-9-9-9-1101", "S-1-5-21-9-9-9-1200"}))
	c.Add(&directory.Host{Result: &scan.Result{Target: "nosid"}})
	f := c.File()
	if len(f.Data) != 1 || f.Data[0].ObjectIdentifier != "S-1-5-21-9-9-9-1000" {
		t.Fatalf("records %+v", f.Data)
	}
	s := f.Data[0].Sessions
	if !s.Collected || s.FailureReason != nil || len(s.Results) != 2 {
		t.Errorf("merged sessions %+v", s)
	}
	rep := c.Report()
	if rep.Pairs != 2 || rep.Duplicates != 2 || !slices.Equal(rep.NoSID, []string{"nosid"}) {
		t.Errorf("report %+v", rep)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := os.ReadFile("testdata/computers_v6.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bloodhound.Decode(good); err != nil {
		t.Fatalf("handwritten sample: %v", err)
	}
	for name, edit := range map[string][2]string{
		"version 5":             {`"version": 6`, `"version": 5`},
		"wrong type":            {`"type": "computers"`, `"type": "users"`},
		"count":                 {`"count": 2`, `"count": 3`},
		"no session bit":        {`"methods": 8`, `"methods": 1`},
		"lower-case SID":        {`"ObjectIdentifier": "S-1-5-21-1-2-3-1104"`, `"ObjectIdentifier": "s-1-5-21-1-2-3-1104"`},
		"unknown record key":    {`"Status": null}`, `"Status": null, "Extra": 1}`},
		"unknown session key":   {`"Collected": true, "FailureReason": null}`, `"Collected": true, "FailureReason": null, "X": 1}`},
		"collected with error":  {`"Collected": true, "FailureReason": null}`, `"Collected": true, "FailureReason": "Timeout"}`},
		"results not collected": {`"Collected": true, "FailureReason": null}`, `"Collected": false, "FailureReason": null}`},
		"logon type string":     {`"LogonType": 3`, `"LogonType": "3"`},
		"missing sessions":      {`"Sessions": {"Results": [], "Collected": false, "FailureReason": "ErrorAccessDenied"},`, ``},
		"bad status":            {`{"Connectable": false, "Error": "PortNotOpen"}`, `{"Connectable": "no"}`},
		"duplicate pair":        {`"LogonType": 3}]`, `"LogonType": 3}, {"UserSID": "S-1-5-21-1-2-3-1105", "ComputerSID": "S-1-5-21-1-2-3-1201"}]`},
	} {
		bad := strings.Replace(string(good), edit[0], edit[1], 1)
		if bad == string(good) {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := bloodhound.Decode([]byte(bad)); !errors.Is(err, bloodhound.ErrInvalid) {
			t.Errorf("%s: Decode = %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, err := os.ReadFile("testdata/computers_v6.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"data":[],"meta":{"methods":8,"type":"computers","count":0,"version":6,"collectorversion":""}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := bloodhound.Decode(b)
		if err != nil {
			if !errors.Is(err, bloodhound.ErrInvalid) {
				t.Fatalf("error outside ErrInvalid: %v", err)
			}
			return
		}
		if file.Meta.Count != len(file.Data) {
			t.Fatalf("accepted count %d for %d records", file.Meta.Count, len(file.Data))
		}
	})
}
