package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/session"
)

// hostileServer holds sessions whose names a hostile server could send.
func hostileServer(t *testing.T) *clServer {
	t.Helper()
	srv := rpctest.NewServer(t, rpctest.Config{
		Sessions: []rpctest.Session{
			{Spec: session.Spec{Client: "10.0.0.7", User: "evil\x1b[2J\x1b[31mred\r\nfake", ClientType: "\u202egpj.exe"}},
			{Spec: session.Spec{Client: "10.0.0.8", User: `=HYPERLINK("http://x")->x`, ClientType: "@SUM(A1)"}},
			{Spec: session.Spec{Client: "10.0.0.9", User: "田中"}},
			{Spec: session.Spec{Client: "10.0.0.10", User: "-2+3"}},
		},
		Idle: 14*24*time.Hour + time.Second,
	})
	return &clServer{addr: srv.Addr, table: srv.Table}
}

// The injection seeds: the table escapes them, one line per session; CSV
// defuses formulas unless --csv-raw; JSON is exact, > included.
func TestHostileOutput(t *testing.T) {
	srv := hostileServer(t)
	ctx := context.Background()
	code, out, errOut := runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, aliceU, "--level", "502")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(out, "\n") != 6 || strings.ContainsAny(out, "\x1b\r\u202e") {
		t.Errorf("table not escaped:\n%q", out)
	}
	for _, want := range []string{`evil\x1b[2J\x1b[31mred\r\nfake`, `\u202egpj.exe`, "14d 00:00:01"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// 田中 is two cells per rune: the TIME column starts at the same
	// display column on every row.
	lines := strings.Split(out, "\n")[1:6]
	col := -1
	for _, l := range lines {
		i := strings.Index(l, "14d 00:00:01")
		if i < 0 {
			i = strings.Index(l, "TIME")
		}
		w := 0
		for _, r := range l[:i] {
			w++
			if r == '田' || r == '中' {
				w++
			}
		}
		if col >= 0 && w != col {
			t.Errorf("TIME column at %d, want %d:\n%s", w, col, out)
		}
		col = w
	}

	code, out, _ = runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, aliceU, "--level", "502", "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != exitOK || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	byClient := map[string][]string{}
	for _, r := range recs[1:] {
		byClient[r[2]] = r
	}
	if u, ct := byClient["10.0.0.8"][4], byClient["10.0.0.8"][9]; u != `'=HYPERLINK("http://x")->x` || ct != "'@SUM(A1)" {
		t.Errorf("formulas not defused: %q %q", u, ct)
	}
	if u := byClient["10.0.0.10"][4]; u != "'-2+3" {
		t.Errorf("minus not defused: %q", u)
	}
	// (encoding/csv reads a quoted CR LF as LF: look at the bytes.)
	if !strings.Contains(out, "\"evil\x1b[2J\x1b[31mred\r\nfake\"") {
		t.Errorf("CSV changed a field that needs no defusing:\n%q", out)
	}
	code, out, _ = runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, aliceU, "--level", "502", "--csv", "--csv-raw")
	recs, _ = csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != exitOK || recs[2][4] != `=HYPERLINK("http://x")->x` {
		t.Errorf("--csv-raw: %q", recs)
	}
	if code, _, errOut := runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, aliceU, "--csv-raw"); code != exitUsage || !strings.Contains(errOut, "--csv-raw goes with --csv") {
		t.Errorf("--csv-raw alone: %d %s", code, errOut)
	}

	code, out, _ = runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, aliceU, "--level", "502", "--json")
	if code != exitOK || !strings.Contains(out, `"user":"=HYPERLINK(\"http://x\")->x"`) || strings.Contains(out, `\u003e`) {
		t.Errorf("JSON not exact:\n%s", out)
	}
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["client_host"] == "10.0.0.7" && m["user"] != "evil\x1b[2J\x1b[31mred\r\nfake" {
			t.Errorf("JSON user %q", m["user"])
		}
	}
}

// connected_at and last_active_at count back from the answer's arrival;
// they are absent for the unknown time 0xFFFFFFFF.
func TestAbsoluteTimes(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	s := client.Session{Info: session.Info{ClientName: `\\10.0.0.5`, UserName: "a", Time: 14*86400 + 1, IdleTime: 90}, Level: session.Level10, Received: at}
	got := map[string]any{}
	for _, f := range sessionFields("fs1", s, nil) {
		got[f.key] = f.val
	}
	if got["connected_at"] != "2026-02-15T11:59:59Z" || got["last_active_at"] != "2026-03-01T11:58:30Z" || got["time"] != uint32(14*86400+1) {
		t.Errorf("%v", got)
	}
	s.Time, s.IdleTime = session.TimeUnknown, session.TimeUnknown
	for _, f := range sessionFields("fs1", s, nil) {
		if f.key == "connected_at" || f.key == "last_active_at" {
			t.Errorf("%s present for the unknown time", f.key)
		}
	}
	s.Level = session.Level0
	for _, f := range sessionFields("fs1", s, nil) {
		if f.key == "connected_at" {
			t.Error("connected_at at level 0")
		}
	}
}

// --sort and --idle-over, with the one duration syntax.
func TestSortAndIdleOver(t *testing.T) {
	srv := rpctest.NewServer(t, rpctest.Config{})
	open := func(client, user string, opens int) *session.Session {
		s, err := srv.Table.Open(session.Spec{Client: client, User: user})
		if err != nil {
			t.Fatal(err)
		}
		for range opens {
			s.AddOpen()
		}
		return s
	}
	// Times: carol 3h20m, alice 3h10m, Bob 3h; idle: carol 3h20m, Bob
	// 3h, alice 2h.
	open("10.0.0.5", "carol", 1)
	srv.Clock.Advance(10 * time.Minute)
	alice := open("10.0.0.3", "alice", 3)
	srv.Clock.Advance(10 * time.Minute)
	open("10.0.0.4", "Bob", 0)
	srv.Clock.Advance(time.Hour)
	alice.Touch()
	srv.Clock.Advance(2 * time.Hour)
	users := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), append([]string{srv.Addr, aliceU, "--json", "--level", "502"}, args...)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var u []string
		for line := range strings.Lines(out) {
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			u = append(u, m["user"].(string))
		}
		return u
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "carol alice Bob"},
		{[]string{"--sort", "user"}, "alice Bob carol"},
		{[]string{"--sort", "client"}, "alice Bob carol"},
		{[]string{"--sort", "opens"}, "alice carol Bob"},
		{[]string{"--sort", "time"}, "carol alice Bob"},
		{[]string{"--sort", "idle"}, "carol Bob alice"},
		{[]string{"--idle-over", "2h30m"}, "carol Bob"},
		{[]string{"--idle-over", "3h10m", "--sort", "user"}, "carol"},
		{[]string{"--idle-over", "1d"}, ""},
	} {
		if got := strings.Join(users(tc.args...), " "); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.args, got, tc.want)
		}
	}
	// Level auto settling on 0 (no time): --idle-over fails rather than
	// print sessions it cannot vouch for; --sort time prints them unsorted.
	zero := startCLServer(t, "", rpctest.StatusAt(map[uint32]session.Status{502: 0x7C, 10: 0x7C, 1: 0x7C, 2: 0x7C}))
	if code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), zero.addr, aliceU, "--idle-over", "1h"); code != exitStatus || out != "" || !strings.Contains(errOut, "only level 0 answered") {
		t.Errorf("--idle-over at level 0: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), zero.addr, aliceU, "--sort", "time"); code != exitOK || !strings.Contains(out, "(level 0;") || !strings.Contains(errOut, "cannot be applied") {
		t.Errorf("--sort time at level 0: exit %d, %q, %q", code, out, errOut)
	}
	for _, args := range [][]string{{"--sort", "size"}, {"--idle-over", "5"}, {"--idle-over", "-1h"}, {"--level", "0", "--idle-over", "1h"}} {
		if code, _, _ := runClient(t, context.Background(), "list", clEnv(nil, nil), append([]string{srv.Addr, aliceU}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// Flags and the server in any order; one server only.
func TestFlagOrder(t *testing.T) {
	srv := startCLServer(t, "", nil)
	ctx := context.Background()
	for _, args := range [][]string{
		{srv.addr, "-U", "NETSESS\\alice%AlicePass1", "--level", "10"},
		{"-U", "NETSESS\\alice%AlicePass1", srv.addr, "--level", "10"},
		{"--level", "10", "-U", "NETSESS\\alice%AlicePass1", "--", srv.addr},
		{"--level=10", "-UNETSESS\\alice%AlicePass1", "--server=" + srv.addr},
	} {
		code, out, errOut := runClient(t, ctx, "list", clEnv(nil, nil), args...)
		if code != exitOK || !strings.Contains(out, "(level 10)") {
			t.Errorf("%q: exit %d %s %s", args, code, out, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{srv.addr, "other:445", aliceU}, `unexpected argument "other:445" after the server`},
		{[]string{"--server", srv.addr, "--server", "other", aliceU}, "--server given 2 times"},
		{[]string{"--server", srv.addr, "other", aliceU}, "two servers"},
		{[]string{aliceU}, "no server"},
	} {
		code, _, errOut := runClient(t, ctx, "list", clEnv(nil, nil), tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.err) || !strings.Contains(errOut, "use 'netsess scan'") && tc.err != "no server" {
			t.Errorf("%q: exit %d %q, want %q", tc.args, code, errOut, tc.err)
		}
	}
}

// noInternals fails when a message carries a package prefix.
func noInternals(t *testing.T, text string) {
	t.Helper()
	if m := regexp.MustCompile(`\b(client|dcerpc|epm|ntlm|srvs|ndr|rpcauth|pipeclient|smb2|session): `).FindString(text); m != "" {
		t.Errorf("message carries the package prefix %q:\n%s", m, text)
	}
}

// Each misleading message of old, now saying what happened and what to do.
func TestMessages(t *testing.T) {
	ctx := context.Background()
	s := serveBG(t, "--smb", "127.0.0.1:0", "--demo-sessions")
	good := startCLServer(t, "", nil)
	silent := rpctest.Silent(t)
	tests := []struct {
		name   string
		cmd    string
		args   []string
		code   int
		want   []string
		absent []string
	}{
		{"connect level", "list", []string{"--transport", "tcp", s.rpc, "-U", "alice%AlicePass1", "--auth", "connect"}, exitFault,
			[]string{"fault 0x00000005", "refuses calls at DCE/RPC auth level connect", "or it refused the credentials"}, []string{"logon failure"}},
		{"wrong password", "list", []string{"--transport", "tcp", good.addr, "-U", "alice%wrong"}, exitLogon,
			[]string{"logon failure: the server refused the credentials"}, []string{"auth level connect"}},
		{"anonymous refused", "list", []string{s.smb}, exitLogon,
			[]string{"refused the anonymous logon (null session; STATUS_LOGON_FAILURE)", "log on with -U USER"}, nil},
		{"del names the user", "del", []string{good.addr, "--transport", "tcp", aliceU, "--user", "zed"}, exitStatus,
			[]string{"no session of user zed on the server (it answered NERR_ClientNameNotFound)"}, []string{"client name not found"}},
		{"smb to a tcp port", "list", []string{s.rpc, "-U", "alice%AlicePass1"}, exitUnreachable,
			[]string{"SMB2 negotiate", "use --transport tcp"}, []string{"read tcp"}},
		{"tcp to an smb port", "list", []string{"--transport", "tcp", s.smb, "-U", "alice%AlicePass1"}, exitUnreachable,
			[]string{"during the DCE/RPC bind", "use --transport smb"}, nil},
		{"tcp timeout", "list", []string{"--transport", "tcp", silent, aliceU, "--timeout", "300ms"}, exitUnreachable,
			[]string{"timeout: no answer within 300ms (--timeout) during the DCE/RPC bind"}, []string{"interrupted"}},
		{"smb timeout", "list", []string{silent, aliceU, "--timeout", "300ms"}, exitUnreachable,
			[]string{"timeout: no answer within 300ms (--timeout) during the SMB negotiate"}, []string{"interrupted"}},
		{"unknown flag", "list", []string{"--bogus", s.smb}, exitUsage,
			[]string{"netsess list: unknown flag --bogus\nsee 'netsess list --help'\n"}, []string{"Usage:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := newApp(func(io.Writer) cliEnv { return clEnv(nil, nil) }).Run(ctx, append([]string{tc.cmd}, tc.args...), &out, &errb)
			msg := errb.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tc.absent {
				if strings.Contains(msg, w) {
					t.Errorf("has %q:\n%s", w, msg)
				}
			}
			noInternals(t, msg)
			if lines := strings.Split(strings.TrimSpace(msg), "\n"); len(lines) > 0 && strings.Count(lines[0], lines[0][strings.LastIndex(lines[0], ": ")+2:]) > 1 {
				t.Errorf("repeats itself: %s", lines[0])
			}
			// The JSON detail is the same text.
			if tc.code != exitUsage {
				var jo strings.Builder
				newApp(func(io.Writer) cliEnv { return clEnv(nil, nil) }).Run(ctx, append([]string{tc.cmd, "--json"}, tc.args...), &jo, &strings.Builder{})
				var m map[string]any
				if err := json.Unmarshal([]byte(jo.String()), &m); err != nil {
					t.Fatalf("%v: %q", err, jo.String())
				}
				noInternals(t, m["detail"].(string))
			}
		})
	}
}

// --debug: transport, protection, every call with level, bytes and
// duration, and paging, over both transports.
func TestDebug(t *testing.T) {
	ctx := context.Background()
	s := serveBG(t, "--smb", "127.0.0.1:0", "--demo-sessions", "--smb-encrypt", "desired")
	code, _, errOut := runClient(t, ctx, "list", clEnv(nil, nil), "--transport", "smb", s.smb, "-U", "alice%AlicePass1", "--debug", "--level", "1", "--max-len", "200")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"msg=connected", "transport=smb", "msg=\"smb session\"", "dialect=3.1.1", "signing=AES-GMAC", "encryption=AES-", "auth=\"NTLMSSP in SPNEGO (SMB session setup)\"",
		"msg=call", "op=NetrSessionEnum level=1 sent=", "received=", "duration=", "msg=page", "page=2", "more=true", "more=false",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("smb --debug lacks %q:\n%s", want, errOut)
		}
	}
	code, _, errOut = runClient(t, ctx, "list", clEnv(nil, nil), s.rpc, "-U", "alice%AlicePass1", "--debug", "--spnego", "--auth", "privacy", "--level", "10")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"transport=tcp", `auth="NTLMSSP in SPNEGO (auth type 9) at level privacy"`, "max_recv_frag=", "op=NetrSessionEnum level=10"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("tcp --debug lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "{MaxXmitFrag") {
		t.Errorf("a raw Go struct in the debug output:\n%s", errOut)
	}
}
