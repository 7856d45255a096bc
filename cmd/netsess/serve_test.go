package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/syncbuf"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// serving is a runServe started in the background.
type serving struct {
	rpc, epm, smb string
	stderr        *syncbuf.Buffer
	stop          func() int
}

// serveBG runs "netsess serve" with args plus a ready file and waits for
// the ready file.
func serveBG(t *testing.T, args ...string) *serving {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stderr: &syncbuf.Buffer{}}
	codec := make(chan int, 1)
	var stdout syncbuf.Buffer
	go func() { codec <- runServe(ctx, append(args, "--ready-file", ready), &stdout, s.stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(ready)
		if err == nil {
			var a map[string]string
			if err := json.Unmarshal(b, &a); err != nil {
				cancel()
				t.Fatalf("ready file %q: %v", b, err)
			}
			s.rpc, s.epm, s.smb = a["rpc"], a["epm"], a["smb"]
			break
		}
		select {
		case code := <-codec:
			cancel()
			t.Fatalf("serve exited with %d before it was ready:\n%s", code, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no ready file:\n%s", s.stderr)
		}
	}
	code, stopped := 0, false
	s.stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-codec:
			case <-time.After(15 * time.Second):
				t.Fatal("serve did not stop after its context was cancelled")
			}
		}
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func bindAs(t *testing.T, addr, user, pass string, level dcerpc.AuthLevel) *srvs.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ini, err := rpcauth.Initiator(ctx, &ntlm.Client{User: user, Password: pass}, dcerpc.AuthTypeNTLM, level)
	if err != nil {
		t.Fatal(err)
	}
	rpc := dcerpc.NewClient(conn, dcerpc.ClientConfig{Auth: ini, AuthContextID: 1})
	t.Cleanup(func() { rpc.Close() })
	c, err := srvs.Bind(ctx, rpc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enumAt(c *srvs.Client, level session.Level) (*srvs.EnumResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.EnumAll(ctx, level, "", "", session.MaxPreferredLength)
}

func TestServeUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-h"}, exitOK, "Usage: netsess serve"},
		{[]string{"--policy", "strict"}, exitUsage, "netsess serve: --policy"},
		{[]string{"--cname", "odd"}, exitUsage, "--cname: want windows or bare"},
		{[]string{"--compat", "samba-3"}, exitUsage, "--compat: want none or samba-4.17"},
		{[]string{"--compat", "samba-4.17", "--cname", "windows"}, exitUsage, "contradicts --compat samba-4.17"},
		{[]string{"--log-level", "loud"}, exitUsage, "--log-level"},
		{[]string{"--smb-encrypt", "on"}, exitUsage, "--smb-encrypt: want off, desired or required"},
		{[]string{"--log-format", "xml"}, exitUsage, "--log-format"},
		{[]string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"--nosuch"}, exitUsage, "netsess serve: unknown flag --nosuch\nsee 'netsess serve --help'"},
		{[]string{"--smb-idle-timeout", "5"}, exitUsage, "--smb-idle-timeout: \"5\" is not a duration"},
		{[]string{"--rpc", "0.0.0.0:0"}, exitInternal, "refusing to serve the built-in demo accounts on a non-loopback address"},
		{[]string{"--rpc", "127.0.0.1:0", "--epm", ":0"}, exitInternal, "non-loopback"},
		{[]string{"--users", "/nonexistent/accounts.json"}, exitInternal, "accounts.json"},
		{[]string{"--seed", "/nonexistent/seed.json"}, exitInternal, "seed file /nonexistent/seed.json"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb syncbuf.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			code := runServe(ctx, tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.out) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.out, out.String(), errb.String())
			}
		})
	}
	var out, errb syncbuf.Buffer
	runServe(context.Background(), []string{"-h"}, &out, &errb)
	for _, want := range []string{"--rpc", "--epm", "--users", "--policy", "--seed", "--ready-file", "--cname", "--compat", "--allow-connect-level", "--log-level", "Examples:", "Exit codes:", `"nt_hash"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestServeSeedErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.json")
	if err := os.WriteFile(path, []byte(`[{"client": "10.0.0.5", "user": "a"}, {"client": "10.0.0.6", "opens": -3}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb syncbuf.Buffer
	code := runServe(context.Background(), []string{"--seed", path}, &out, &errb)
	if code != exitInternal || !strings.Contains(errb.String(), path) || !strings.Contains(errb.String(), "entry 1") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// The daemon end to end: seeds replayed, the ready file, the mapper,
// demo accounts, JSON logs, then a graceful stop on cancel.
func TestServeRoundTrip(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "seed.json")
	list := `{"server": "fs1", "client": "\\\\10.0.0.5", "client_host": "10.0.0.5", "user": "carol", "opens": 2, "time": 3600, "idle_time": 60, "user_flags": 0, "client_type": "", "transport": "\\Device\\NetbiosSmb", "level": 502}
{"server": "fs1", "client": "wks7", "user": "dave", "opens": 0, "time": 10, "idle_time": 10, "user_flags": 1, "level": 1}
`
	if err := os.WriteFile(seed, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serveBG(t, "--seed", seed, "--epm", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug")
	if s.epm == "" {
		t.Fatal("no mapper address in the ready file")
	}
	c := bindAs(t, s.rpc, "alice", "AlicePass1", dcerpc.AuthLevelPrivacy)
	res, err := enumAt(c, 502)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 2 {
		t.Fatalf("%d entries", len(res.Entries))
	}
	e0, e1 := res.Entries[0], res.Entries[1]
	if e0.ClientName != `\\10.0.0.5` || e0.UserName != "carol" || e0.NumOpens != 2 || e0.Time < 3600 || e0.Time > 3660 || e0.IdleTime < 60 || e0.IdleTime > 120 || e0.Transport != `\Device\NetbiosSmb` {
		t.Errorf("first seed: %+v", e0)
	}
	if e1.ClientName != `\\wks7` || e1.UserFlags != session.FlagGuest || e1.Time < 10 {
		t.Errorf("second seed: %+v", e1)
	}
	// bob is a demo account but no administrator.
	if _, err := enumAt(bindAs(t, s.rpc, "bob", "BobPass1", dcerpc.AuthLevelIntegrity), 0); !errors.Is(err, session.StatusAccessDenied) {
		t.Errorf("bob: %v", err)
	}
	if code := s.stop(); code != exitOK {
		t.Errorf("exit %d after cancel:\n%s", code, s.stderr)
	}
	logs := s.stderr.String()
	for _, want := range []string{`"msg":"listening"`, `"msg":"srvsvc call"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if conn, err := net.DialTimeout("tcp", s.rpc, time.Second); err == nil {
		conn.Close()
		t.Error("still listening after stop")
	}
}

func TestServeConnectLevel(t *testing.T) {
	for _, allow := range []bool{false, true} {
		args := []string{"--demo-sessions"}
		if allow {
			args = append(args, "--allow-connect-level")
		}
		s := serveBG(t, args...)
		c := bindAs(t, s.rpc, "alice", "AlicePass1", dcerpc.AuthLevelConnect)
		res, err := enumAt(c, 10)
		var fe *dcerpc.Fault
		switch {
		case !allow && (!errors.As(err, &fe) || fe.Status != dcerpc.StatusAccessDenied):
			t.Errorf("connect level by default: %v, want fault 0x5", err)
		case allow && (err != nil || len(res.Entries) != 5):
			t.Errorf("connect level allowed: %+v, %v", res, err)
		}
	}
}

// An accounts file replaces the demo accounts, and then any address may be
// served (here still loopback).
func TestServeUsersFile(t *testing.T) {
	users := filepath.Join(t.TempDir(), "accounts.json")
	if err := os.WriteFile(users, []byte(`{"domain": "LAB", "users": [{"name": "root2", "password": "S3cret!", "groups": ["Server Operators"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serveBG(t, "--users", users, "--demo-sessions", "--compat", "samba-4.17")
	res, err := enumAt(bindAs(t, s.rpc, "root2", "S3cret!", dcerpc.AuthLevelIntegrity), 1)
	if err != nil || len(res.Entries) != 5 || res.Entries[0].ClientName != "10.0.0.5" {
		t.Fatalf("operator under samba-4.17: %+v, %v", res, err)
	}
	if _, err := enumAt(bindAs(t, s.rpc, "root2", "S3cret!", dcerpc.AuthLevelIntegrity), 10); !errors.Is(err, session.StatusInvalidLevel) {
		t.Errorf("level 10 under samba-4.17: %v", err)
	}
	c := bindAs(t, s.rpc, "alice", "AlicePass1", dcerpc.AuthLevelIntegrity)
	if _, err := enumAt(c, 1); err == nil {
		t.Error("a demo account logged on although an accounts file was given")
	}
}
