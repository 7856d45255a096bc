package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/syncbuf"
)

// scanU logs on to a fleet as its plain user.
const scanU = `-U=FLEET\scanner%ScanPass1`

// The fleets of this package's tests live in 127.1.200.0-127.1.219.255.
func testBase(third byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 1, 200 + third, 1}) }

func startTestFleet(t *testing.T, third byte, bs ...fleet.Behavior) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Start(context.Background(), fleet.Config{
		Hosts: len(bs), Behaviors: bs, Base: testBase(third), Seed: uint64(third) + 1,
		MaxSessions: 4, SlowDelay: 30 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// runScanWith runs "netsess scan args" with env, stdout to out.
func runScanWith(ctx context.Context, env cliEnv, out io.Writer, args ...string) (int, string) {
	var errb syncbuf.Buffer
	code := newApp(func(io.Writer) cliEnv { return env }).Run(ctx, append([]string{"scan"}, args...), out, &errb)
	return code, errb.String()
}

// runScanCmd runs "netsess scan args" with env and returns stdout too.
func runScanCmd(t *testing.T, env cliEnv, args ...string) (int, string, string) {
	t.Helper()
	var out syncbuf.Buffer
	code, errOut := runScanWith(context.Background(), env, &out, args...)
	return code, out.String(), errOut
}

// hostLine is the part of a --json line the tests check.
type hostLine struct {
	Target    string           `json:"target"`
	Collected bool             `json:"collected"`
	Reason    string           `json:"reason"`
	Level     *uint32          `json:"level"`
	Count     int              `json:"session_count"`
	Sessions  []map[string]any `json:"sessions"`
}

func parseHostLines(t *testing.T, out string) map[string]hostLine {
	t.Helper()
	m := map[string]hostLine{}
	for line := range strings.Lines(out) {
		var h hostLine
		if err := json.Unmarshal([]byte(line), &h); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		if _, dup := m[h.Target]; dup {
			t.Errorf("two lines for %s", h.Target)
		}
		m[h.Target] = h
	}
	return m
}

// Every behaviour of the fleet yields exactly its reason in the JSON
// Lines, the sessions collected are the ground truth's, the exit code is
// the one the help gives for an incomplete scan, and progress and the
// summary are on stderr.
func TestScanFleetReasons(t *testing.T) {
	f := startTestFleet(t, 0, fleet.Behaviors()...)
	env := clEnv(nil, map[string]string{"hosts.txt": "# the fleet\n" + strings.Join(f.Targets(), "\n") + "\n" + f.Targets()[0] + " # again\n"})
	code, out, errOut := runScanCmd(t, env, "--targets", "hosts.txt", scanU, "--json", "--timeout", "1s")
	if want := exitCodeFor(t, helpOf(t, "scan"), "some hosts were not collected"); code != want || want != exitIncomplete {
		t.Errorf("exit %d, want %d (help: %d)\n%s", code, exitIncomplete, want, errOut)
	}
	hosts := parseHostLines(t, out)
	if len(hosts) != len(f.Hosts) {
		t.Fatalf("%d hosts in the output, want %d:\n%s", len(hosts), len(f.Hosts), out)
	}
	truth := f.Truth()
	for _, th := range truth.Hosts {
		h := hosts[th.Target]
		if h.Collected != th.Collected || h.Reason != string(th.Reason) {
			t.Errorf("%s (%s): collected %v reason %q, want %v %q", th.Target, th.Behavior, h.Collected, h.Reason, th.Collected, th.Reason)
		}
		if !th.Collected {
			continue
		}
		var got, want []string
		for _, s := range h.Sessions {
			if s["user"] != fleet.ScanUser {
				got = append(got, fmt.Sprintf("%v|%v", s["client_host"], s["user"]))
			}
		}
		for _, s := range th.Sessions {
			want = append(want, s.Client+"|"+s.User)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || h.Count != len(h.Sessions) {
			t.Errorf("%s: sessions %v, truth %v", th.Target, got, want)
		}
	}
	// Every reason of the closed set the fleet can produce is there.
	for _, r := range []client.Reason{client.ReasonAccessDenied, client.ReasonUnreachable, client.ReasonTimeout, client.ReasonPortClosed} {
		if !strings.Contains(out, `"reason":"`+string(r)+`"`) {
			t.Errorf("no %s in:\n%s", r, out)
		}
	}
	for _, want := range []string{"netsess scan: 7/7 hosts (100.0%)", "scanned 7 hosts in", "3 collected, 4 failed", "port_closed 1, unreachable 1, timeout 1, access_denied 1", "sessions: "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// A scan where every host answers exits 0; the default output is the
// text table; --quiet leaves stderr empty; --per-session prints one line
// per session with the host's keys.
func TestScanCollectedAndPerSession(t *testing.T) {
	f := startTestFleet(t, 1, fleet.Normal, fleet.Samba, fleet.Normal)
	args := append(f.Targets(), scanU)
	code, out, errOut := runScanCmd(t, clEnv(nil, nil), append(args, "--quiet")...)
	if code != exitOK || errOut != "" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	for _, tg := range f.Targets() {
		if !strings.Contains(out, tg+" level ") {
			t.Errorf("no line for %s:\n%s", tg, out)
		}
	}
	if !strings.Contains(out, "level 1 (refused 502:ERROR_INVALID_LEVEL 10:ERROR_INVALID_LEVEL)") || !strings.Contains(out, "COMPUTER") {
		t.Errorf("text output:\n%s", out)
	}

	code, out, _ = runScanCmd(t, clEnv(nil, nil), append(args, "--json", "--quiet")...)
	total := 0
	for _, h := range parseHostLines(t, out) {
		total += h.Count
	}
	code2, perSession, _ := runScanCmd(t, clEnv(nil, nil), append(args, "--json", "--per-session", "--quiet")...)
	if code != exitOK || code2 != exitOK {
		t.Fatalf("exit %d, %d", code, code2)
	}
	n := 0
	for line := range strings.Lines(perSession) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if m["target"] == nil || m["user"] == nil || m["sessions"] != nil {
			t.Errorf("per-session line: %s", line)
		}
		n++
	}
	if n != total || total == 0 {
		t.Errorf("%d per-session lines, %d sessions", n, total)
	}
}

// Targets from standard input stream: the progress line counts without a
// total or an ETA, and the results are those of the same targets given
// as arguments.
func TestScanStdin(t *testing.T) {
	f := startTestFleet(t, 2, fleet.Normal, fleet.Refuse, fleet.Normal)
	env := clEnv(nil, nil)
	env.stdin = strings.NewReader("# from a pipe\n" + strings.Join(f.Targets(), "\n") + "\n")
	code, out, errOut := runScanCmd(t, env, "-", scanU, "--json")
	if code != exitIncomplete {
		t.Errorf("exit %d: %s", code, errOut)
	}
	hosts := parseHostLines(t, out)
	if len(hosts) != 3 || hosts[f.Targets()[1]].Reason != "port_closed" || !hosts[f.Targets()[0]].Collected {
		t.Errorf("results: %v", hosts)
	}
	if !strings.Contains(errOut, "netsess scan: 3 hosts, 2 collected, 1 failed") || strings.Contains(errOut, "ETA") {
		t.Errorf("stream progress:\n%s", errOut)
	}
	// A line that is no target ends the scan as a usage error.
	env.stdin = strings.NewReader(f.Targets()[0] + "\nnot a host!\n")
	if code, _, errOut := runScanCmd(t, env, "-", scanU, "--json", "--quiet"); code != exitUsage || !strings.Contains(errOut, "not a host!") {
		t.Errorf("bad stdin line: exit %d: %s", code, errOut)
	}
}

// Usage errors exit 1 with a message that says what is wrong.
func TestScanUsage(t *testing.T) {
	env := clEnv(nil, map[string]string{"bad.txt": "fs1\n10.0.0.0/8\n"})
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{scanU}, "no targets"},
		{[]string{"-", "fs1", scanU}, "the only target source"},
		{[]string{"fs1", "--per-session", scanU}, "--per-session goes with --json"},
		{[]string{"fs1", "--concurrency", "0", scanU}, "--concurrency: at least 1"},
		{[]string{"fs1", "--timeout", "0", scanU}, "--timeout"},
		{[]string{"fs1", "--csv-raw", scanU}, "--csv-raw goes with --csv"},
		{[]string{"fs1", "--json", "--csv", scanU}, "exclude each other"},
		{[]string{"10.0.0.0/15", scanU}, "range too large: 131072 addresses, over the limit of 65536 (split it, or raise the limit); --max-range sets the limit"},
		{[]string{"10.0.0.0/24", "--max-range", "100", scanU}, "range too large"},
		{[]string{"--targets", "bad.txt", scanU}, "bad.txt"},
		{[]string{"--targets", "missing.txt", scanU}, "--targets"},
		{[]string{"fs1", "-U", "alice"}, "no password for alice"},
		{[]string{"fs1", "--burst", "4", scanU}, "--burst goes with --rate"},
		{[]string{"fs1", "--rate", "x", scanU}, "--rate: want a number"},
	}
	for _, tc := range tests {
		code, out, errOut := runScanCmd(t, env, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.msg) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.msg)
		}
	}
}

// CSV from a scan neutralises formulas as list --csv does, unless
// --csv-raw; the table escapes control characters.
func TestScanCSVSafety(t *testing.T) {
	srv := hostileServer(t)
	args := []string{srv.addr, "--transport", "tcp", aliceU, "--level", "502", "--quiet"}
	cells := func(raw bool) []string {
		a := append(slices.Clone(args), "--csv")
		if raw {
			a = append(a, "--csv-raw")
		}
		code, out, errOut := runScanCmd(t, clEnv(nil, nil), a...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) != 5 {
			t.Fatalf("%d records, %v:\n%s", len(recs), err, out)
		}
		user := slices.Index(recs[0], "user")
		var us []string
		for _, r := range recs[1:] {
			us = append(us, r[user])
		}
		return us
	}
	if us := cells(false); !slices.Contains(us, `'=HYPERLINK("http://x")->x`) || !slices.Contains(us, "'-2+3") {
		t.Errorf("formulas not neutralised: %q", us)
	}
	if us := cells(true); !slices.Contains(us, `=HYPERLINK("http://x")->x`) || !slices.Contains(us, "-2+3") {
		t.Errorf("--csv-raw changed fields: %q", us)
	}
	code, out, _ := runScanCmd(t, clEnv(nil, nil), args...)
	if code != exitOK || strings.ContainsAny(out, "\x1b\r\u202e") || !strings.Contains(out, `evil\x1b[2J`) {
		t.Errorf("table not escaped (exit %d):\n%q", code, out)
	}
}

// lineWatcher calls fn once when its output has n lines.
type lineWatcher struct {
	syncbuf.Buffer
	n    int
	once sync.Once
	fn   func()
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Count(w.String(), "\n") >= w.n {
		w.once.Do(w.fn)
	}
	return n, err
}

// Ctrl-C (the context of the command's entry point ending) stops the
// scan: the hosts that answered are written, the ones in progress are
// reported as canceled, the summary is printed, and the exit code is 130.
func TestScanInterrupt(t *testing.T) {
	f := startTestFleet(t, 3, fleet.Normal, fleet.Hang, fleet.Normal, fleet.Hang)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWatcher{n: 2, fn: cancel}
	done := make(chan struct{})
	var code int
	var errOut string
	go func() {
		code, errOut = runScanWith(ctx, clEnv(nil, nil), out, append(f.Targets(), scanU, "--json", "--timeout", "10m")...)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the scan did not stop on cancellation")
	}
	if want := exitCodeFor(t, helpOf(t, "scan"), "interrupted"); code != exitInterrupted || want != exitInterrupted {
		t.Errorf("exit %d, help says %d: %s", code, want, errOut)
	}
	hosts := parseHostLines(t, out.String())
	if len(hosts) != 4 {
		t.Fatalf("%d results:\n%s", len(hosts), out.String())
	}
	for _, h := range f.Hosts {
		got := hosts[h.Target]
		if (h.Behavior == fleet.Normal) != got.Collected || (h.Behavior == fleet.Hang && got.Reason != "canceled") {
			t.Errorf("%s (%s): %+v", h.Target, h.Behavior, got)
		}
	}
	if !strings.Contains(errOut, "scanned 4 hosts") || !strings.Contains(errOut, "canceled 2") || !strings.Contains(errOut, "interrupted") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// netsess fleet serves until interrupted, writes its targets and truth,
// and a scan of the targets file it wrote finds every host.
func TestFleetCommand(t *testing.T) {
	dir := t.TempDir()
	targets, truth := filepath.Join(dir, "t.txt"), filepath.Join(dir, "truth.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"fleet", "--hosts", "5", "--mix", "normal=3,denied", "--base", testBase(4).String(),
			"--port", "0", "--targets-out", targets, "--truth", truth, "--sessions", "3", "--seed", "9"}, &out, &errb)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(truth); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("fleet exited %d: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no truth file")
		}
	}
	if _, err := os.Stat(targets); err != nil {
		t.Fatal(err)
	}
	var tr fleet.Truth
	b, _ := os.ReadFile(truth)
	if err := json.Unmarshal(b, &tr); err != nil || len(tr.Hosts) != 5 || tr.ScanUser != fleet.ScanUser {
		t.Fatalf("truth: %v %+v", err, tr)
	}
	code, scanOut, errOut := runScanCmd(t, osEnv(io.Discard), "--targets", targets, scanU, "--json")
	if code != exitIncomplete {
		t.Errorf("scan exit %d: %s", code, errOut)
	}
	hosts := parseHostLines(t, scanOut)
	for _, th := range tr.Hosts {
		if h := hosts[th.Target]; h.Collected != th.Collected || h.Reason != string(th.Reason) {
			t.Errorf("%s: %+v, truth %+v", th.Target, h, th)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("fleet exit %d: %s", code, errb.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("fleet did not stop")
	}
	o := out.String()
	if !strings.Contains(o, "# netsess fleet: 5 hosts on port ") || !strings.Contains(o, "normal 4, denied 1") ||
		!strings.Contains(o, `-U 'FLEET\scanner%ScanPass1'`) || !strings.Contains(o, "\n"+tr.Hosts[4].Target+"\n") || !strings.Contains(errb.String(), "stopped") {
		t.Errorf("fleet output:\n%s\n%s", o, errb.String())
	}
	// Bad flags are usage errors.
	for _, args := range [][]string{{"--hosts", "0"}, {"--mix", "normal=x"}, {"--base", "10.0.0.1"}, {"--port", "70000"}} {
		if code, _, errOut := runCLI(t, append([]string{"fleet"}, args...)...); code != exitUsage {
			t.Errorf("fleet %v: exit %d: %s", args, code, errOut)
		}
	}
}

// demo --fleet shows a scan of one server of each behaviour and exits 0
// when each yielded what it promises.
func TestDemoFleet(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--fleet")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"one of each behaviour", "level 502, ", "level 1 (refused", "access_denied: ", "unreachable: ", "timeout: ", "port_closed: ", "scanned 7 hosts", "3 collected, 4 failed", "COMPUTER"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	for _, twice := range []string{"unreachable: unreachable:", "timeout: timeout:"} {
		if strings.Contains(out, twice) {
			t.Errorf("%q in:\n%s", twice, out)
		}
	}
	if code, _, errOut := runCLI(t, "demo", "--fleet", "--level", "0"); code != exitUsage || !strings.Contains(errOut, "--fleet takes no other flag") {
		t.Errorf("demo --fleet --level 0: exit %d: %s", code, errOut)
	}
}

// scan's flags are in its help, completion and man page (the generic
// tests check every flag; this names the ones scan adds).
func TestScanHelp(t *testing.T) {
	h := helpOf(t, "scan")
	for _, f := range []string{"--targets", "--max-range", "--concurrency", "--timeout", "--precheck", "--rate", "--burst", "--jitter", "--grace", "--json", "--per-session", "--csv", "--csv-raw", "--quiet", "-U", "--nt-hash", "--level", "--no-machine-accounts"} {
		if !strings.Contains(h, f) {
			t.Errorf("scan help lacks %s", f)
		}
	}
	for _, code := range []int{2, 3, 4, 5, 6} {
		if strings.Contains(h, fmt.Sprintf("\n  %d ", code)) {
			t.Errorf("scan's exit codes reuse %d:\n%s", code, h)
		}
	}
	if c := newApp(osEnv).Find("scan"); c == nil || len(cli.FlagsOf(c)) < 25 {
		t.Errorf("scan flags: %v", c)
	}
}

// On a terminal the progress line is redrawn in place and erased before
// a result or the summary is written.
func TestScanProgressTerminal(t *testing.T) {
	f := startTestFleet(t, 6, fleet.Normal, fleet.Denied)
	env := clEnv(nil, nil)
	env.stderrTerminal = true
	code, _, errOut := runScanCmd(t, env, append(f.Targets(), scanU)...)
	if code != exitIncomplete {
		t.Errorf("exit %d: %q", code, errOut)
	}
	if !strings.HasPrefix(errOut, "\r") || !strings.Contains(errOut, "\r2/2 hosts (100.0%), 1 collected, 1 failed") || !strings.Contains(errOut, "\x1b[K\r\x1b[Kscanned 2 hosts") || strings.Contains(errOut, "netsess scan: 2/2") {
		t.Errorf("terminal progress: %q", errOut)
	}
}

// --no-machine-accounts hides machine accounts from the output and from
// the summary's session count alike.
func TestScanNoMachineAccounts(t *testing.T) {
	f := startTestFleet(t, 7, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal)
	machines := 0
	for _, h := range f.Hosts {
		for _, s := range h.Sessions {
			if strings.HasSuffix(s.User, "$") {
				machines++
			}
		}
	}
	if machines == 0 {
		t.Fatal("the fleet has no machine account session to hide")
	}
	count := func(args ...string) (int, string) {
		code, out, errOut := runScanCmd(t, clEnv(nil, nil), append(append(f.Targets(), scanU, "--json"), args...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		n := 0
		for _, h := range parseHostLines(t, out) {
			n += h.Count
			for _, s := range h.Sessions {
				if u := s["user"].(string); len(args) > 0 && strings.HasSuffix(u, "$") {
					t.Errorf("machine account %s listed", u)
				}
			}
		}
		if !strings.Contains(errOut, fmt.Sprintf("sessions: %d\n", n)) {
			t.Errorf("summary does not count the %d sessions listed:\n%s", n, errOut)
		}
		return n, errOut
	}
	all, _ := count()
	people, _ := count("--no-machine-accounts")
	if all-people != machines {
		t.Errorf("%d sessions, %d without machine accounts, %d machine accounts", all, people, machines)
	}
}
