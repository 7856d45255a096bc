package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/pgharness"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// sessionCount is the number of sessions history --json lists with args.
func sessionCount(t *testing.T, db string, args ...string) int {
	t.Helper()
	code, out, errOut := runNetsess(context.Background(), clEnv(nil, nil), append([]string{"history", "--json", "--db", db}, args...)...)
	if code != exitOK {
		t.Fatalf("history %v: %d %s", args, code, errOut)
	}
	return strings.Count(out, "\n")
}

// A scan's JSON Lines imported into the history: every host's sessions
// stored, the failed host a failed observation; a second import adds
// nothing; standard input works; per-session output and a broken line are
// refused with their line number.
func TestHistoryImport(t *testing.T) {
	f := startTestFleet(t, 16, fleet.Normal, fleet.Samba, fleet.Refuse)
	code, scanOut, errOut := runScanCmd(t, clEnv(nil, nil), append([]string{scanU, "--json", "--timeout", "5s"}, f.Targets()...)...)
	if code != exitIncomplete {
		t.Fatalf("scan: %d %s", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "scan.jsonl")
	if err := os.WriteFile(file, []byte(scanOut), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "history.db")
	code, _, errOut = runNetsess(context.Background(), clEnv(nil, nil), "history", "import", file, "--db", db)
	// Each answering host's sessions, plus the scanner's own on each.
	want := len(f.Hosts[0].Sessions) + len(f.Hosts[1].Sessions) + 2
	if code != exitOK || !strings.Contains(errOut, "imported 3 host records") || !strings.Contains(errOut, "1 hosts failed") {
		t.Fatalf("import: %d %s", code, errOut)
	}
	if n := sessionCount(t, db); n != want {
		t.Errorf("%d sessions stored, want %d", n, want)
	}
	_, evs1, _ := runNetsess(context.Background(), clEnv(nil, nil), "history", "events", "--json", "--db", db)
	// Again, from standard input: nothing new.
	env := clEnv(nil, nil)
	env.stdin = strings.NewReader(scanOut)
	code, _, errOut = runNetsess(context.Background(), env, "history", "import", "-", "--db", db)
	if code != exitOK || !strings.Contains(errOut, "0 sessions started, 0 ended, 0 hosts failed") {
		t.Errorf("second import: %d %s", code, errOut)
	}
	_, evs2, _ := runNetsess(context.Background(), clEnv(nil, nil), "history", "events", "--json", "--db", db)
	if n := sessionCount(t, db); n != want || evs1 != evs2 {
		t.Errorf("after a second import: %d sessions (want %d), events changed: %v", n, want, evs1 != evs2)
	}
	if n := sessionCount(t, db, "--user", fleet.ScanUser); n != 2 {
		t.Errorf("%d sessions of %s, want its own on each answering host", n, fleet.ScanUser)
	}

	// --per-session output is refused, naming what import reads.
	_, perSession, _ := runScanCmd(t, clEnv(nil, nil), scanU, "--json", "--per-session", "--timeout", "5s", f.Targets()[0])
	pfile := filepath.Join(t.TempDir(), "per.jsonl")
	os.WriteFile(pfile, []byte(perSession), 0o600)
	code, _, errOut = runNetsess(context.Background(), clEnv(nil, nil), "history", "import", pfile, "--db", db)
	if code != exitUsage || !strings.Contains(errOut, "line 1: a per-session record") {
		t.Errorf("per-session import: %d %s", code, errOut)
	}
	// A broken line: the lines before it are imported, the error names it.
	var good string
	for _, l := range strings.SplitAfter(scanOut, "\n") {
		if strings.Contains(l, `"collected":true`) {
			good = l
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(good+"{\"target\":\"x\"\n"), 0o600)
	db2 := filepath.Join(t.TempDir(), "h2.db")
	code, _, errOut = runNetsess(context.Background(), clEnv(nil, nil), "history", "import", bad, "--db", db2)
	if code != exitUsage || !strings.Contains(errOut, "line 2:") || !strings.Contains(errOut, "nothing after line 1 is imported") {
		t.Errorf("broken line: %d %s", code, errOut)
	}
	if n := sessionCount(t, db2); n == 0 {
		t.Error("the line before the broken one was not imported")
	}
}

// decode(AppendJSON(r)) is the observation watch makes of r.
func TestScanRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 123e6, time.UTC)
	ss := []client.Session{
		{Info: session.Info{ClientName: `\\10.0.0.5`, UserName: `CORP\alice`, NumOpens: 2, Time: 600, IdleTime: 30, UserFlags: 1, ClientType: "x", Transport: `\Device\NetbiosSmb`}, Level: session.Level502},
		{Info: session.Info{ClientName: "fe80::1", UserName: "bob\x1b[2J", Time: session.TimeUnknown, IdleTime: session.TimeUnknown}, Level: session.Level502},
	}
	for _, r := range []*scan.Result{
		{Target: "fs1", Address: "192.0.2.1", Port: 445, Transport: "smb", ObservedAt: at, Duration: 12345 * time.Microsecond,
			Collected: true, Level: session.Level502, HasLevel: true, Sessions: ss},
		{Target: "10.0.0.0/30", Range: "10.0.0.0/30", Address: "10.0.0.1", Port: 445, Transport: "smb", ObservedAt: at, Duration: time.Second,
			Failure: client.Failure{Reason: client.ReasonAccessDenied, Status: 5, HasStatus: true}, Level: session.Level10, HasLevel: true},
		{Target: "gone", ObservedAt: at, Failure: client.Failure{Reason: client.ReasonNameNotResolved}},
		{Target: "fs2", ObservedAt: at, Collected: true, Level: session.Level0, HasLevel: true,
			Sessions: []client.Session{{Info: session.Info{ClientName: "WS1"}, Level: session.Level0}}},
	} {
		want, _ := observation(r, nil)
		got, ok, err := decodeScanRecord(r.AppendJSON(nil))
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", r.Target, ok, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: (-watch +import)\n%s", r.Target, d)
		}
	}
	canceled := &scan.Result{Target: "h", ObservedAt: at, Failure: client.Failure{Reason: client.ReasonCanceled}}
	if _, ok, err := decodeScanRecord(canceled.AppendJSON(nil)); ok || err != nil {
		t.Errorf("a canceled host: ok %v, %v", ok, err)
	}
	if _, ok := observation(canceled, nil); ok {
		t.Error("watch observes a canceled host")
	}
	for _, bad := range []string{`{}`, `[]`, `{"target":"a","observed_at":"x","collected":true,"level":1,"session_count":0,"sessions":[]}`,
		`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":true,"session_count":0}`,
		`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":true,"level":3,"session_count":0}`,
		`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":true,"level":1,"session_count":2,"sessions":[{}]}`,
		`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":false,"session_count":0}`,
		`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":true,"level":1,"session_count":0,"duration_ms":-1}`,
		`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":true,"level":1,"session_count":0} {}`,
		`{"target":"a","observed_at":"0001-01-01T00:00:00Z","collected":true,"level":1,"session_count":0}`,
	} {
		if _, _, err := decodeScanRecord([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzScanRecord: no input panics, and an accepted record is an
// observation the store takes.
func FuzzScanRecord(f *testing.F) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := &scan.Result{Target: "fs1", Address: "192.0.2.1", ObservedAt: at, Collected: true, Level: session.Level10, HasLevel: true,
		Sessions: []client.Session{{Info: session.Info{ClientName: `\\10.0.0.5`, UserName: "alice", Time: 60}, Level: session.Level10}}}
	f.Add(r.AppendJSON(nil))
	f.Add([]byte(`{"target":"a","observed_at":"2026-03-01T09:00:00Z","collected":false,"reason":"timeout","session_count":0,"sessions":[]}`))
	f.Add([]byte(`{"target":"a","collected":true,"level":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, ok, err := decodeScanRecord(b)
		if err != nil || !ok {
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("accepted %q into an invalid observation: %v", b, err)
		}
	})
}

// Usage errors say what is wrong and exit 1; a history that is not there
// and a database that cannot be opened exit 9, as the help says.
func TestWatchHistoryUsage(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.db")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"watch", "10.0.0.1", "--interval", "9s"}, exitUsage, "--interval: at least 10s, not 9s"},
		{[]string{"watch", "10.0.0.1", "--shard", "3/2"}, exitUsage, "--shard: want K/N"},
		{[]string{"watch", "10.0.0.1", "--shard", "0/2"}, exitUsage, "--shard: want K/N"},
		{[]string{"watch", "10.0.0.1", "--rounds", "-1"}, exitUsage, "--rounds: not negative"},
		{[]string{"watch", "-"}, exitUsage, "watch scans the same targets every round"},
		{[]string{"watch"}, exitUsage, "no targets"},
		{[]string{"watch", "10.0.0.1", "--json"}, exitUsage, "unknown flag --json"},
		{[]string{"history", "bogus"}, exitUsage, `unknown subcommand "bogus"`},
		{[]string{"history", "import"}, exitUsage, "import takes FILE|-"},
		{[]string{"history", "events", "x"}, exitUsage, `unexpected argument "x" after "events"`},
		{[]string{"history", "import", "a", "b"}, exitUsage, `unexpected argument "b" after "import"`},
		{[]string{"history", "import", "x", "--user", "a"}, exitUsage, "--user is not for import"},
		{[]string{"history", "--since", "1h", "--until", "2h"}, exitUsage, "--until must be after --since"},
		{[]string{"history", "events", "--at", "1h"}, exitUsage, "--at is for sessions and summary"},
		{[]string{"history", "--json", "--csv"}, exitUsage, "exclude each other"},
		{[]string{"history", "--since", "yesterday"}, exitUsage, `"yesterday" is not a time`},
		{[]string{"history", "--db", missing}, exitDatabase, "no history at " + missing},
		{[]string{"history", "summary", "--db", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, exitDatabase, "history database postgres://nobody@127.0.0.1:1/none"},
		{[]string{"watch", "127.0.0.1:1", "--rounds", "1", "--db", filepath.Join(dir, "file", "sub.db")}, exitDatabase, "history database"},
	} {
		if strings.Contains(c.args[len(c.args)-1], "sub.db") {
			os.WriteFile(filepath.Join(dir, "file"), nil, 0o600) // a file where the directory should be
		}
		code, _, errOut := runNetsess(context.Background(), clEnv(nil, nil), c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.msg, errOut)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a query created the database")
	}
	for _, cmd := range []string{"watch", "history"} {
		if got := exitCodeFor(t, helpOf(t, cmd), "history database failed"); got != exitDatabase {
			t.Errorf("%s help gives %d for a failed database", cmd, got)
		}
	}
	if got := exitCodeFor(t, helpOf(t, "watch"), "--interval under 10s"); got != exitUsage {
		t.Errorf("watch help gives %d for a short interval", got)
	}
}

// --credentials: a file others may read is refused as ssh refuses a key;
// one of mode 0600 logs on (scan here; every client command reads it the
// same way), with nt_hash too.
func TestCredentialsFile(t *testing.T) {
	f := startTestFleet(t, 17, fleet.Normal)
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	env := clEnv(nil, nil)
	env.readSecret = readSecretFile
	open := write("open.cred", "user = FLEET\\scanner\npassword = ScanPass1\n", 0o644)
	code, _, errOut := runScanCmd(t, env, "--credentials", open, "--json", f.Targets()[0])
	if runtime.GOOS != "windows" && (code != exitUsage || !strings.Contains(errOut, "permissions 0644 are too open") || !strings.Contains(errOut, "chmod 600")) {
		t.Errorf("a world-readable file: %d %s", code, errOut)
	}
	for _, text := range []string{
		"# the collector\nuser = scanner\ndomain = FLEET\npassword = ScanPass1\n",
		"user=FLEET\\scanner\nnt_hash=" + hexString(ntHash(fleet.ScanPassword)) + "\n",
	} {
		p := write("ok.cred", text, 0o600)
		code, out, errOut := runScanCmd(t, env, "--credentials", p, "--json", f.Targets()[0])
		if code != exitOK || !strings.Contains(out, `"collected":true`) {
			t.Errorf("credentials %q: %d %s %s", text, code, out, errOut)
		}
	}
	for text, msg := range map[string]string{
		"password = x\n":                        "no user",
		"user = a\nuser = b\n":                  "user given twice",
		"user = a\ncolour = blue\n":             `unknown key "colour"`,
		"user = a\npassword = x\nnt_hash = y\n": "password and nt_hash exclude each other",
		"user a\n":                              "line 1: want key = value",
	} {
		p := write("bad.cred", text, 0o600)
		if code, _, errOut := runScanCmd(t, env, "--credentials", p, f.Targets()[0]); code != exitUsage || !strings.Contains(errOut, msg) {
			t.Errorf("%q: %d %s", text, code, errOut)
		}
	}
	p := write("ok2.cred", "user = scanner\npassword = ScanPass1\n", 0o600)
	if code, _, errOut := runScanCmd(t, env, "--credentials", p, "-U", "x", f.Targets()[0]); code != exitUsage || !strings.Contains(errOut, "excludes -U") {
		t.Errorf("--credentials with -U: %d %s", code, errOut)
	}
	// NETSESS_USER and NETSESS_PASSWORD: the environment alone logs on.
	envVars := clEnv(map[string]string{userEnv: `FLEET\scanner`, passwordEnv: "ScanPass1"}, nil)
	if code, out, errOut := runScanCmd(t, envVars, "--json", f.Targets()[0]); code != exitOK || !strings.Contains(out, `"collected":true`) {
		t.Errorf("NETSESS_USER: %d %s %s", code, out, errOut)
	}
}

// --shard: each target belongs to one shard, the same every time; two
// collectors with 1/2 and 2/2 sharing one database scan every host once
// between them, and the history has every session once.
func TestWatchShards(t *testing.T) {
	var targets []string
	for i := range 200 {
		targets = append(targets, fmt.Sprintf("host%d.corp.example", i))
	}
	for _, n := range []int{1, 2, 4, 7} {
		counts := make([]int, n)
		for _, tg := range targets {
			s := shardOf(tg, n)
			if s != shardOf(strings.ToUpper(tg), n) || s < 0 || s >= n {
				t.Fatalf("shard of %s: %d (n %d)", tg, s, n)
			}
			counts[s]++
		}
		for k, c := range counts {
			if n > 1 && c < len(targets)/n/3 {
				t.Errorf("shard %d/%d takes %d of %d targets", k+1, n, c, len(targets))
			}
		}
	}
	f := startTestFleet(t, 18, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Samba, fleet.Normal)
	db := filepath.Join(t.TempDir(), "h.db")
	hosts := 0
	for k := 1; k <= 2; k++ {
		args := append([]string{"watch", scanU, "--rounds", "1", "--shard", []string{"", "1/2", "2/2"}[k], "--db", db}, f.Targets()...)
		code, _, errOut := runNetsess(context.Background(), clEnv(nil, nil), args...)
		if code != exitOK {
			t.Fatalf("shard %d: %d %s", k, code, errOut)
		}
		var n int
		for _, h := range f.Targets() {
			if shardOf(h, 2) == k-1 {
				n++
			}
		}
		if !strings.Contains(errOut, "round 1: "+plural(n, "host")) {
			t.Errorf("shard %d/2 should scan %d hosts:\n%s", k, n, errOut)
		}
		hosts += n
	}
	want := 0
	for _, h := range f.Hosts {
		want += len(h.Sessions)
	}
	if got := sessionCount(t, db); hosts != len(f.Hosts) || got != want {
		t.Errorf("the shards scanned %d of %d hosts and stored %d sessions, want %d", hosts, len(f.Hosts), got, want)
	}
}

// Ctrl-C during a round: the hosts that answered are stored and their
// events written, the hanging host (interrupted after --grace) is not an
// observation (no host_failed), and watch exits 130 after its summary.
func TestWatchInterrupted(t *testing.T) {
	f := startTestFleet(t, 19, fleet.Normal, fleet.Hang)
	db := filepath.Join(t.TempDir(), "h.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	code, out, errOut := runNetsess(ctx, clEnv(nil, nil), append([]string{"watch", scanU, "--timeout", "2m", "--grace", "100ms", "--db", db}, f.Targets()...)...)
	if code != exitInterrupted || time.Since(start) > time.Minute {
		t.Fatalf("exit %d after %v:\n%s", code, time.Since(start), errOut)
	}
	evs := readEvents(t, out)
	if len(evs) != len(f.Hosts[0].Sessions) {
		t.Errorf("%d events, want a session_start for each of host 0's %d sessions:\n%s", len(evs), len(f.Hosts[0].Sessions), out)
	}
	for _, e := range evs {
		if e.Kind != history.SessionStart || e.Server.Target != f.Hosts[0].Target {
			t.Errorf("event %+v", e)
		}
	}
	if !strings.Contains(errOut, "canceled 1") || !strings.Contains(errOut, "1 round in") || !strings.Contains(errOut, "interrupted") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if n := sessionCount(t, db); n != len(f.Hosts[0].Sessions) {
		t.Errorf("%d sessions stored, want %d", n, len(f.Hosts[0].Sessions))
	}
}

// The database going away mid-run: watch stops with exit 9 and a message,
// writes none of the events of the round it could not store, and a
// restart picks up where the stored history left (no session started
// twice).
func TestWatchDatabaseFails(t *testing.T) {
	f := startTestFleet(t, 20, fleet.Normal, fleet.Normal)
	total := len(f.Hosts[0].Sessions) + len(f.Hosts[1].Sessions)
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "h")
		env := clEnv(nil, nil)
		env.sleep = func(context.Context, time.Duration) error {
			// Between rounds 1 and 2: the database's directory is
			// removed (a fault that bites as root too), and a session
			// starts that round 2 would report.
			if _, err := f.AddSession(0, fleet.Session{Client: "10.20.9.9", User: "late", Time: 60}); err != nil {
				t.Error(err)
			}
			return os.RemoveAll(dir)
		}
		code, out, errOut := runNetsess(context.Background(), env, append([]string{"watch", scanU, "--rounds", "3", "--db", filepath.Join(dir, "h.db")}, f.Targets()...)...)
		if code != exitDatabase || !strings.Contains(errOut, "round 2: storing 2 observations") || !strings.Contains(errOut, "unavailable") {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
		if evs := readEvents(t, out); len(evs) != total {
			t.Errorf("%d events written, want round 1's %d", len(evs), total)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgharness.Start(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dsn, err := srv.CreateDB(ctx)
		if err != nil {
			t.Fatal(err)
		}
		db := pgURL(t, dsn)
		env := clEnv(nil, nil)
		env.sleep = func(context.Context, time.Duration) error { return srv.Stop() }
		args := append([]string{"watch", scanU, "--rounds", "2", "--db", db}, f.Targets()...)
		code, out, errOut := runNetsess(context.Background(), env, args...)
		if code != exitDatabase || !strings.Contains(errOut, "round 2") || !strings.Contains(errOut, "history database postgres://postgres@/") {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
		first := readEvents(t, out)
		if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		code, out, errOut = runNetsess(context.Background(), clEnv(nil, nil), append([]string{"watch", scanU, "--rounds", "1", "--db", db}, f.Targets()...)...)
		if code != exitOK {
			t.Fatalf("restart: %d %s", code, errOut)
		}
		// Round 1 before the failure started every session; the restart
		// adds only what changed since (the session added for sqlite).
		again := readEvents(t, out)
		starts := 0
		for _, e := range append(slices.Clone(first), again...) {
			if e.Kind == history.SessionStart {
				starts++
			}
		}
		if n := sessionCount(t, db); starts != n {
			t.Errorf("%d session_start events for %d stored sessions (first run %d events, restart %d)", starts, n, len(first), len(again))
		}
	})
}

// The watch unit runs watch with flags it has, reads its credentials
// through LoadCredential, and passes systemd's own check.
func TestSystemdWatchUnit(t *testing.T) {
	keys := checkUnit(t, "../../packaging/netsess-watch.service", "watch", func(fs *cli.FlagSet) { defineWatch(fs, osEnv) })
	if !strings.Contains(strings.Join(keys["LoadCredential"], " "), "watch.cred:") {
		t.Errorf("LoadCredential=%v", keys["LoadCredential"])
	}
	if !strings.Contains(strings.Join(keys["SuccessExitStatus"], " "), "130") {
		t.Errorf("SuccessExitStatus=%v: a stop (SIGTERM) exits 130", keys["SuccessExitStatus"])
	}
}

// ntHash is the NT hash of password as a slice.
func ntHash(password string) []byte {
	h := ntlm.NTHash(password)
	return h[:]
}

// At level 0 (client names only) sessions are snapshots: matched by
// client, started at the first round that lists them, ended at the first
// that does not; the collector's own session cannot be told apart there
// and is kept.
func TestWatchLevel0Snapshots(t *testing.T) {
	f, err := fleet.Start(context.Background(), fleet.Config{Hosts: 1, Behaviors: []fleet.Behavior{fleet.Normal}, Base: testBase(21), MaxSessions: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := f.AddSession(0, fleet.Session{Client: "10.20.7.7", User: "xavier", Time: 300})
	if err != nil {
		t.Fatal(err)
	}
	env := clEnv(nil, nil)
	env.sleep = func(context.Context, time.Duration) error {
		// A snapshot younger than the start tolerance is not ended (the
		// next observation decides): let it age past it.
		x.Close()
		time.Sleep(history.StartTolerance + 500*time.Millisecond)
		return nil
	}
	code, out, errOut := runNetsess(context.Background(), env, "watch", scanU, "--level", "0", "--rounds", "2", "--db", filepath.Join(t.TempDir(), "h.db"), f.Targets()[0])
	if code != exitOK {
		t.Fatalf("%d %s", code, errOut)
	}
	var got []string
	for _, e := range readEvents(t, out) {
		if !e.Session.Snapshot || e.Session.User != "" || e.Session.Level != session.Level0 {
			t.Errorf("not a snapshot: %+v", e)
		}
		got = append(got, string(e.Kind)+" "+e.Session.Client)
	}
	slices.Sort(got)
	want := []string{`session_end \\10.20.7.7`, `session_start \\10.20.7.7`, `session_start \\127.0.0.1`}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}
