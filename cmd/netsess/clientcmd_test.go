package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/server"
	"github.com/netsession/netsession/session"
)

const aliceU = "-U=NETSESS\\alice%AlicePass1"

func TestListTable(t *testing.T) {
	srv := startCLServer(t, "", nil)
	code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, aliceU)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"Sessions on " + srv.addr + " (level 502)", "COMPUTER", "TRANSPORT", `\\10.0.0.5`, "carol", "guest", "0:01:05", "Windows 5.0", "WKS8$"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	// The server as the only argument; --no-machine-accounts.
	code, out, _ = runClient(t, context.Background(), "list", clEnv(nil, nil), aliceU, "--no-machine-accounts", srv.addr)
	if code != exitOK || strings.Contains(out, "WKS8$") || !strings.Contains(out, "carol") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// --json: per level exactly the keys the level carries, zeros included.
func TestListJSONFields(t *testing.T) {
	srv := startCLServer(t, "", nil)
	want := map[session.Level][]string{
		0:   {"server", "client", "client_host", "level"},
		1:   {"server", "client", "client_host", "user", "opens", "time", "connected_at", "idle_time", "last_active_at", "user_flags", "level"},
		2:   {"server", "client", "client_host", "user", "opens", "time", "connected_at", "idle_time", "last_active_at", "user_flags", "client_type", "level"},
		10:  {"server", "client", "client_host", "user", "time", "connected_at", "idle_time", "last_active_at", "level"},
		502: {"server", "client", "client_host", "user", "opens", "time", "connected_at", "idle_time", "last_active_at", "user_flags", "client_type", "transport", "level"},
	}
	for _, l := range session.Levels() {
		code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, aliceU, "--json", "--level", levelArg(l))
		if code != exitOK {
			t.Fatalf("level %d: exit %d: %s", l, code, errOut)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("level %d: %d lines:\n%s", l, len(lines), out)
		}
		for _, line := range lines {
			if got := jsonKeys(t, line); !cmp.Equal(got, want[l]) {
				t.Errorf("level %d keys %v, want %v", l, got, want[l])
			}
		}
		var first map[string]any
		json.Unmarshal([]byte(lines[0]), &first)
		if first["client"] != `\\10.0.0.5` || first["client_host"] != "10.0.0.5" || first["level"] != float64(l) || first["server"] != srv.addr {
			t.Errorf("level %d: %v", l, first)
		}
		if l == 1 || l == 502 {
			// alice has no opens and no flags: zeros are printed.
			if !strings.Contains(lines[0], `"opens":0`) || !strings.Contains(lines[0], `"user_flags":0`) || !strings.Contains(lines[0], `"time":65`) {
				t.Errorf("level %d zeros: %s", l, lines[0])
			}
			if !strings.Contains(lines[1], `"opens":1`) || !strings.Contains(lines[1], `"user_flags":1`) {
				t.Errorf("level %d carol: %s", l, lines[1])
			}
		}
	}
}

func levelArg(l session.Level) string {
	return map[session.Level]string{0: "0", 1: "1", 2: "2", 10: "10", 502: "502"}[l]
}

// jsonKeys returns the keys of one JSON object in order.
func jsonKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestListCSV(t *testing.T) {
	srv := startCLServer(t, "0,1=user", nil)
	code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, "-U", "bob%BobPass1", "--csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The absolute times are the last two columns: the server's sessions
	// are 65 s old and idle.
	for i, r := range recs[1:] {
		c, errC := time.Parse(time.RFC3339, r[15])
		a, errA := time.Parse(time.RFC3339, r[16])
		if errC != nil || errA != nil || !c.Equal(a) || time.Since(c) < 64*time.Second || time.Since(c) > 5*time.Minute {
			t.Errorf("row %d: connected_at %q, last_active_at %q", i+1, r[15], r[16])
		}
	}
	for i := range recs {
		recs[i] = recs[i][:15]
	}
	want := [][]string{
		{"server", "client", "client_host", "client_name", "user", "opens", "time", "idle_time", "user_flags", "client_type", "transport", "level", "error", "status", "fault"},
		{srv.addr, `\\10.0.0.5`, "10.0.0.5", "", "alice", "0", "65", "65", "0", "", "", "1", "", "", ""},
		{srv.addr, `\\10.0.0.7`, "10.0.0.7", "", "carol", "1", "65", "65", "1", "", "", "1", "", "", ""},
		{srv.addr, `\\10.0.0.8`, "10.0.0.8", "", "WKS8$", "0", "65", "65", "0", "", "", "1", "", "", ""},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
	// A failure is one row with the error columns.
	code, out, _ = runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, "-U", "bob%BobPass1", "--csv", "--level", "502")
	recs, _ = csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != exitDenied || len(recs) != 2 || recs[1][12] != "access denied" || recs[1][13] != "5" || recs[1][11] != "502" || recs[1][17] != "access_denied" || recs[0][17] != "reason" {
		t.Errorf("exit %d: %q", code, recs)
	}
}

// Level auto with a policy that denies 502 and 10 settles on 1 and says so.
func TestListAuto(t *testing.T) {
	srv := startCLServer(t, "0,1=user", nil)
	code, out, _ := runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, "-U", "bob%BobPass1")
	if code != exitOK || !strings.Contains(out, "(level 1; refused: 502 ERROR_ACCESS_DENIED 10 ERROR_ACCESS_DENIED)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	samba := startCLServer(t, "", rpctest.StatusAt(map[uint32]session.Status{502: 0x7C, 10: 0x7C}))
	code, out, _ = runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", samba.addr, aliceU, "--json")
	if code != exitOK || !strings.Contains(out, `"level":1}`) || strings.Count(out, "\n") != 3 {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	srv := startCLServer(t, "", nil)
	tests := []struct {
		args  []string
		users []string
	}{
		{[]string{"--user", "CAROL"}, []string{"carol"}},
		{[]string{"--client", "10.0.0.5"}, []string{"alice"}},
		{[]string{"--client", `\\10.0.0.8`, "--user", "wks8$"}, []string{"WKS8$"}},
		{[]string{"--user", "mallory"}, nil},
		{[]string{"--client", "10.9.9.9"}, nil},
		{[]string{"--max-len", "1"}, []string{"alice", "carol", "WKS8$"}},
	}
	for _, tc := range tests {
		args := append([]string{"--server", srv.addr, aliceU, "--json", "--level", "10"}, tc.args...)
		code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
			continue
		}
		var users []string
		for line := range strings.Lines(out) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			users = append(users, m["user"].(string))
		}
		if !cmp.Equal(users, tc.users) {
			t.Errorf("%v: users %v, want %v", tc.args, users, tc.users)
		}
	}
	// The table of an empty filtered list.
	code, out, _ := runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, aliceU, "--user", "mallory")
	if code != exitOK || !strings.Contains(out, "(no sessions)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// Every exit code, with a message that says which failure it was, and the
// JSON error line.
func TestClientExitCodes(t *testing.T) {
	good := startCLServer(t, "", nil)
	fault := startCLServer(t, "", rpctest.Faulting(0x6F7))
	other := startCLServer(t, "", rpctest.StatusAt(map[uint32]session.Status{502: 8}))
	silent := rpctest.Silent(t)
	closed := rpctest.ClosedPort(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		stderr  string
		jsonOut map[string]any
	}{
		{"unreachable", []string{"--server", closed, aliceU}, exitUnreachable, "unreachable: cannot connect (connection refused)", map[string]any{"error": "unreachable", "reason": "port_closed"}},
		{"timeout", []string{"--server", silent, aliceU, "--timeout", "200ms"}, exitUnreachable, "timeout", map[string]any{"error": "timeout", "reason": "timeout"}},
		{"logon failure", []string{"--server", good.addr, "-U", "alice%wrong"}, exitLogon, "logon failure", map[string]any{"error": "logon failure", "reason": "logon_failure", "fault": 5.0}},
		{"logon failure spnego", []string{"--server", good.addr, "-U", "alice%wrong", "--spnego", "--auth", "privacy"}, exitLogon, "logon failure", map[string]any{"error": "logon failure", "reason": "logon_failure"}},
		{"access denied", []string{"--server", good.addr, "-U", "bob%BobPass1", "--level", "502"}, exitDenied, "access denied (ERROR_ACCESS_DENIED, 5) at level 502",
			map[string]any{"error": "access denied", "reason": "access_denied", "status": 5.0, "status_name": "ERROR_ACCESS_DENIED", "level": 502.0}},
		{"access denied auto", []string{"--server", good.addr, "--anonymous"}, exitDenied, "level auto tried 502 (ERROR_ACCESS_DENIED), 10 (ERROR_ACCESS_DENIED), 1 (ERROR_ACCESS_DENIED), 0 (ERROR_ACCESS_DENIED)",
			map[string]any{"error": "access denied", "reason": "access_denied", "status": 5.0}},
		{"other status", []string{"--server", other.addr, aliceU}, exitStatus, "not enough memory (ERROR_NOT_ENOUGH_MEMORY, 8) at level 502", map[string]any{"reason": "status", "status": 8.0, "level": 502.0}},
		{"fault", []string{"--server", fault.addr, aliceU}, exitFault, "the RPC failed: fault 0x000006f7", map[string]any{"error": "rpc fault", "reason": "rpc_fault", "fault": 1783.0}},
		{"usage", []string{"--server", good.addr, "--level", "3"}, exitUsage, "--level: want auto, 0, 1, 2, 10 or 502, not \"3\"\nsee 'netsess list --help'", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d (want %d), stderr %q, want %q\n%s", code, tc.code, errOut, tc.stderr, out)
			}
			if tc.jsonOut == nil {
				return
			}
			code, out, _ = runClient(t, context.Background(), "list", clEnv(nil, nil), append(tc.args, "--json")...)
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil || code != tc.code || strings.Count(out, "\n") != 1 {
				t.Fatalf("exit %d, %v: %q", code, err, out)
			}
			if m["server"] == nil || m["detail"] == nil {
				t.Errorf("no server or detail: %v", m)
			}
			for k, v := range tc.jsonOut {
				if m[k] != v {
					t.Errorf("%s = %v, want %v (%v)", k, m[k], v, m)
				}
			}
		})
	}
}

func TestListInterrupted(t *testing.T) {
	silent := rpctest.Silent(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, errOut := runClient(t, ctx, "list", clEnv(nil, nil), "--server", silent, aliceU)
	if code != exitInterrupted || !strings.Contains(errOut, "interrupted") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestGetAndDel(t *testing.T) {
	srv := startCLServer(t, "", nil)
	ctx := context.Background()
	code, out, errOut := runClient(t, ctx, "get", clEnv(nil, nil), "--server", srv.addr, aliceU, "--client", "10.0.0.7", "--user", "carol", "--json")
	if code != exitOK || !strings.Contains(out, `"client_type":"Windows 5.0"`) || !strings.Contains(out, `"level":2}`) {
		t.Errorf("get auto: exit %d %s %s", code, out, errOut)
	}
	code, out, _ = runClient(t, ctx, "get", clEnv(nil, nil), "--server", srv.addr, aliceU, "--client", "10.0.0.7", "--user", "carol", "--level", "0")
	if code != exitOK || !strings.Contains(out, "(level 0)") || !strings.Contains(out, `\\10.0.0.7`) {
		t.Errorf("get 0: exit %d %s", code, out)
	}
	code, _, errOut = runClient(t, ctx, "get", clEnv(nil, nil), "--server", srv.addr, aliceU, "--client", "10.0.0.7", "--user", "alice")
	if code != exitStatus || !strings.Contains(errOut, "NERR_ClientNameNotFound") {
		t.Errorf("get no match: exit %d %s", code, errOut)
	}
	for _, args := range [][]string{{"--client", "x"}, {"--user", "x"}, {"--client", "x", "--user", "y", "--level", "502"}} {
		if code, _, _ := runClient(t, ctx, "get", clEnv(nil, nil), append([]string{"--server", srv.addr, aliceU}, args...)...); code != exitUsage {
			t.Errorf("get %v: exit %d", args, code)
		}
	}

	code, _, errOut = runClient(t, ctx, "del", clEnv(nil, nil), "--server", srv.addr, "-U", "bob%BobPass1", "--user", "carol")
	if code != exitDenied || !strings.Contains(errOut, "access denied (ERROR_ACCESS_DENIED, 5)") {
		t.Errorf("del as bob: exit %d %s", code, errOut)
	}
	code, out, _ = runClient(t, ctx, "del", clEnv(nil, nil), "--server", srv.addr, aliceU, "--client", "10.0.0.7", "--json")
	if code != exitOK || out != `{"server":"`+srv.addr+`","client":"\\\\10.0.0.7","deleted":true}`+"\n" || srv.table.Len() != 2 {
		t.Errorf("del: exit %d %q, %d left", code, out, srv.table.Len())
	}
	code, _, errOut = runClient(t, ctx, "del", clEnv(nil, nil), "--server", srv.addr, aliceU, "--client", "10.0.0.7")
	if code != exitStatus || !strings.Contains(errOut, "NERR_ClientNameNotFound") {
		t.Errorf("del again: exit %d %s", code, errOut)
	}
	code, out, _ = runClient(t, ctx, "del", clEnv(nil, nil), "--server", srv.addr, aliceU, "--user", "WKS8$")
	if code != exitOK || !strings.Contains(out, "Closed the sessions of WKS8$") {
		t.Errorf("del user: exit %d %s", code, out)
	}
	if code, _, errOut := runClient(t, ctx, "del", clEnv(nil, nil), "--server", srv.addr, aliceU); code != exitUsage || !strings.Contains(errOut, "give --client, --user or both") {
		t.Errorf("del nothing: exit %d %s", code, errOut)
	}
}

// Credentials from every source, and their conflicts.
func TestCredentials(t *testing.T) {
	prompted := func(pw string) cliEnv {
		e := clEnv(nil, nil)
		e.prompt = func(label string) (string, error) {
			if !strings.HasPrefix(label, "Password for ") {
				return "", errors.New("bad label " + label)
			}
			return pw, nil
		}
		return e
	}
	tests := []struct {
		name                       string
		args                       []string
		env                        cliEnv
		user, domain, pass, ntHash string
		anonymous                  bool
		err                        string
	}{
		{"none", nil, clEnv(nil, nil), "", "", "", "", true, ""},
		{"anonymous", []string{"--anonymous"}, clEnv(nil, nil), "", "", "", "", true, ""},
		{"user%pass", []string{"-U", "alice%p%w"}, clEnv(nil, nil), "alice", "", "p%w", "", false, ""},
		{"empty password", []string{"-U", "alice%"}, clEnv(nil, nil), "alice", "", "", "", false, ""},
		{"backslash", []string{"-U", `CORP\alice%pw`}, clEnv(nil, nil), "alice", "CORP", "pw", "", false, ""},
		{"upn", []string{"-U", "alice@corp.example%pw"}, clEnv(nil, nil), "alice", "corp.example", "pw", "", false, ""},
		{"--domain", []string{"-U", "alice%pw", "--domain", "CORP"}, clEnv(nil, nil), "alice", "CORP", "pw", "", false, ""},
		{"domain conflict", []string{"-U", `A\alice%pw`, "--domain", "B"}, clEnv(nil, nil), "", "", "", "", false, "names domain"},
		{"env", []string{"-U", "alice"}, clEnv(map[string]string{"NETSESS_PASSWORD": "envpw"}, nil), "alice", "", "envpw", "", false, ""},
		{"file", []string{"-U", "alice", "--password-file", "pw.txt"}, clEnv(map[string]string{"NETSESS_PASSWORD": "envpw"}, map[string]string{"pw.txt": "filepw\r\nrest\n"}), "alice", "", "filepw", "", false, ""},
		{"missing file", []string{"-U", "alice", "--password-file", "nope"}, clEnv(nil, nil), "", "", "", "", false, "--password-file"},
		{"prompt", []string{"-U", "alice"}, prompted("typed"), "alice", "", "typed", "", false, ""},
		{"no terminal", []string{"-U", "alice"}, clEnv(nil, nil), "", "", "", "", false, "stdin is not a terminal"},
		{"hash", []string{"-U", "alice", "--nt-hash", "AAD3B435B51404EEAAD3B435B51404EE:31d6cfe0d16ae931b73c59d7e0c089c0"}, clEnv(nil, nil), "alice", "", "", "31d6cfe0d16ae931b73c59d7e0c089c0", false, ""},
		{"bad hash", []string{"-U", "alice", "--nt-hash", "31d6"}, clEnv(nil, nil), "", "", "", "", false, "32 hex digits"},
		{"hash and password", []string{"-U", "alice%pw", "--nt-hash", "31d6cfe0d16ae931b73c59d7e0c089c0"}, clEnv(nil, nil), "", "", "", "", false, "excludes a password"},
		{"two passwords", []string{"-U", "alice%pw", "--password-file", "f"}, clEnv(nil, nil), "", "", "", "", false, "another"},
		{"anonymous and user", []string{"--anonymous", "-U", "alice%pw"}, clEnv(nil, nil), "", "", "", "", false, "excludes"},
		{"hash without user", []string{"--nt-hash", "31d6cfe0d16ae931b73c59d7e0c089c0"}, clEnv(nil, nil), "", "", "", "", false, "need -U"},
		{"no user name", []string{"-U", `CORP\%pw`}, clEnv(nil, nil), "", "", "", "", false, "no user name"},
		{"anonymous signing", []string{"--anonymous", "--auth", "integrity"}, clEnv(nil, nil), "", "", "", "", false, "needs credentials"},
		{"bad auth", []string{"-U", "a%b", "--auth", "sign"}, clEnv(nil, nil), "", "", "", "", false, "--auth: want"},
		{"auth over smb", []string{"-U", "a%b", "--auth", "privacy", "--transport", "smb"}, clEnv(nil, nil), "", "", "", "", false, "are for --transport tcp"},
		{"bad transport", []string{"--transport", "udp"}, clEnv(nil, nil), "", "", "", "", false, "--transport: want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFlagSet()
			var cf connFlags
			cf.register(fs)
			pos, err := fs.Parse(append([]string{"--server", "h:1", "--transport", "tcp"}, tc.args...))
			if err != nil {
				if tc.err != "" && strings.Contains(err.Error(), tc.err) {
					return // refused by the parser
				}
				t.Fatal(err)
			}
			_, o, err := cf.options("list", pos, tc.env, &strings.Builder{})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || exitCode(err) != exitUsage {
					t.Errorf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := o.Credentials
			if c.User != tc.user || c.Domain != tc.domain || c.Password != tc.pass || hexString(c.NTHash) != tc.ntHash || c.IsAnonymous() != tc.anonymous {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestClientHelp(t *testing.T) {
	for _, cmd := range []string{"list", "get", "del"} {
		code, out, _ := runClient(t, context.Background(), cmd, clEnv(nil, nil), "-h")
		for _, s := range []string{"Usage: netsess " + cmd, "Exit codes:", "130", "      --nt-hash HASH", "Examples:", "NETSESS_PASSWORD"} {
			if !strings.Contains(out, s) {
				t.Errorf("%s help lacks %q", cmd, s)
			}
		}
		if code != exitOK || strings.Contains(out, "%%") {
			t.Errorf("%s -h: exit %d, or an unexpanded %%%%:\n%s", cmd, code, out)
		}
		if code, _, errOut := runClient(t, context.Background(), cmd, clEnv(nil, nil)); code != exitUsage || !strings.Contains(errOut, "netsess "+cmd+": ") {
			t.Errorf("%s without flags: %d %q", cmd, code, errOut)
		}
	}
}

// What list --json prints at level 502 is what serve --seed reads back.
func TestListJSONFeedsSeed(t *testing.T) {
	srv := startCLServer(t, "", nil)
	code, out, errOut := runClient(t, context.Background(), "list", clEnv(nil, nil), "--server", srv.addr, aliceU, "--json", "--level", "502")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	seeds, err := server.ParseSeed("list.json", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []server.Seed{
		{Client: `\\10.0.0.5`, User: "alice", Time: 65, Idle: 65, Transport: `\Device\NetbiosSmb`},
		{Client: `\\10.0.0.7`, User: "carol", Opens: 1, Time: 65, Idle: 65, Flags: 1, ClientType: "Windows 5.0"},
		{Client: `\\10.0.0.8`, User: "WKS8$", Time: 65, Idle: 65},
	}
	for i := range want {
		want[i].Client = strings.TrimPrefix(want[i].Client, `\\`)
	}
	if diff := cmp.Diff(want, seeds); diff != "" {
		t.Errorf("seeds (-want +got):\n%s", diff)
	}
}

// --resolve adds client_name for the addresses a PTR lookup names.
func TestListResolve(t *testing.T) {
	srv := startCLServer(t, "", nil)
	env := clEnv(nil, nil)
	var asked []string
	env.lookupAddr = func(_ context.Context, addr string) ([]string, error) {
		asked = append(asked, addr)
		if addr == "10.0.0.7" {
			return []string{"wks7.corp.example."}, nil
		}
		return nil, errors.New("no PTR")
	}
	code, out, _ := runClient(t, context.Background(), "list", env, "--server", srv.addr, aliceU, "--json", "--resolve", "--level", "10")
	if code != exitOK || strings.Count(out, `"client_name":"wks7.corp.example"`) != 1 || strings.Count(out, "client_name") != 1 {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if !cmp.Equal(asked, []string{"10.0.0.5", "10.0.0.7", "10.0.0.8"}) {
		t.Errorf("looked up %v", asked)
	}
	code, out, _ = runClient(t, context.Background(), "list", env, "--server", srv.addr, aliceU, "--resolve")
	if code != exitOK || !strings.Contains(out, `\\10.0.0.7 (wks7.corp.example)`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
	// Without --resolve nothing is looked up.
	asked = nil
	runClient(t, context.Background(), "list", env, "--server", srv.addr, aliceU)
	if asked != nil {
		t.Errorf("looked up %v without --resolve", asked)
	}
}
