package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
)

// history --at takes an absolute RFC 3339 time, in UTC or with an offset,
// as well as a duration before now; and the table is in the zone TZ names
// unless --utc, run as the program is (the zone of a process is read from
// TZ when it starts).
func TestHistoryAtAbsoluteAndTZ(t *testing.T) {
	f, err := fleet.Start(context.Background(), fleet.Config{Hosts: 1, Base: testBase(43), MaxSessions: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for _, s := range []fleet.Session{{Client: "10.50.0.1", User: "earlybird", Time: 7200}, {Client: "10.50.0.2", User: "latecomer", Time: 600}} {
		if _, err := f.AddSession(0, s); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(t.TempDir(), "h.db")
	args := append([]string{"watch", scanU, "--rounds", "1", "--timeout", "10s", "--db", db, "--events", filepath.Join(t.TempDir(), "ev")}, f.Targets()...)
	if code, _, errOut := runNetsess(context.Background(), clEnv(nil, nil), args...); code != exitOK {
		t.Fatalf("watch: %d %s", code, errOut)
	}
	type row struct{ User, Start string }
	query := func(args ...string) []row {
		t.Helper()
		code, out, errOut := runNetsess(context.Background(), clEnv(nil, nil), append([]string{"history", "--db", db, "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("history %v: %d %s", args, code, errOut)
		}
		var rows []row
		for line := range strings.Lines(out) {
			var r row
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r)
		}
		return rows
	}
	users := func(rows []row) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.User)
		}
		slices.Sort(out)
		return out
	}
	all := query()
	if got := users(all); !slices.Equal(got, []string{"earlybird", "latecomer"}) {
		t.Fatalf("stored %v", got)
	}
	now := time.Now()
	india := time.FixedZone("", 5*3600+1800)
	for _, c := range []struct {
		at   string
		want []string
	}{
		// An hour ago: the earlybird (two hours old) had come, the
		// latecomer (ten minutes) not.
		{now.Add(-time.Hour).UTC().Format(time.RFC3339), []string{"earlybird"}},
		{now.Add(-time.Hour).In(india).Format(time.RFC3339), []string{"earlybird"}},
		{now.Add(-time.Hour).UTC().Format(time.RFC3339Nano), []string{"earlybird"}},
		{"1h", []string{"earlybird"}},
		// Three hours ago neither; a minute from now both.
		{now.Add(-3 * time.Hour).In(india).Format(time.RFC3339), nil},
		{now.Add(time.Minute).UTC().Format(time.RFC3339), []string{"earlybird", "latecomer"}},
	} {
		if got := users(query("--at", c.at)); !slices.Equal(got, c.want) {
			t.Errorf("--at %s: %v, want %v", c.at, got, c.want)
		}
	}

	// The table, from the program itself, with TZ set.
	bin := filepath.Join(t.TempDir(), "netsess")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	table := func(tz string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"history", "--db", db, "--user", "earlybird"}, args...)...)
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TZ=") }), "TZ="+tz)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("TZ=%s netsess history %v: %v", tz, args, err)
		}
		return string(out)
	}
	start, err := time.Parse(time.RFC3339Nano, all[slices.IndexFunc(all, func(r row) bool { return r.User == "earlybird" })].Start)
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatalf("the zone database: %v", err)
	}
	localText, utcText := start.In(kolkata).Format(time.DateTime), start.UTC().Format(time.DateTime)+"Z"
	if tab := table("Asia/Kolkata"); !strings.Contains(tab, localText) || strings.Contains(tab, utcText) {
		t.Errorf("TZ=Asia/Kolkata: want %s (not %s):\n%s", localText, utcText, tab)
	}
	for _, tz := range []string{"Asia/Kolkata", "America/New_York"} {
		if tab := table(tz, "--utc"); !strings.Contains(tab, utcText) || strings.Contains(tab, localText) {
			t.Errorf("TZ=%s --utc: want %s (not %s):\n%s", tz, utcText, localText, tab)
		}
	}
	// --at with an offset, from the program in another zone: the same
	// instant.
	at := now.Add(-time.Hour).In(india).Format(time.RFC3339)
	if tab := table("America/New_York", "--at", at); !strings.Contains(tab, "earlybird") {
		t.Errorf("TZ=America/New_York --at %s:\n%s", at, tab)
	}
	before := now.Add(-3 * time.Hour).In(india).Format(time.RFC3339)
	if tab := table("America/New_York", "--at", before); tab != "(no sessions)\n" {
		t.Errorf("TZ=America/New_York --at %s:\n%s", before, tab)
	}
}
