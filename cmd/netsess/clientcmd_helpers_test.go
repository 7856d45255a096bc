package main

import (
	"context"
	"encoding/hex"
	"io"
	"io/fs"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/session"
)

// clServer is an in-process srvsvc server for the client commands' tests:
// alice (Administrators, password AlicePass1) and bob (BobPass1); sessions
// alice from 10.0.0.5, carol (guest, one open, client type) from 10.0.0.7,
// a machine account from 10.0.0.8.
type clServer struct {
	addr  string
	table *session.Table
}

func startCLServer(t *testing.T, policy string, wrap func(dcerpc.Handler) dcerpc.Handler) *clServer {
	t.Helper()
	srv := rpctest.NewServer(t, rpctest.Config{
		Policy: policy,
		Sessions: []rpctest.Session{
			{Spec: session.Spec{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`}},
			{Spec: session.Spec{Client: "10.0.0.7", User: "carol", Guest: true, ClientType: "Windows 5.0"}, Opens: 1},
			{Spec: session.Spec{Client: "10.0.0.8", User: "WKS8$"}},
		},
		Idle: 65 * time.Second,
		Wrap: wrap,
	})
	return &clServer{addr: srv.Addr, table: srv.Table}
}

// clEnv is a process environment with no terminal.
func clEnv(vars map[string]string, files map[string]string) cliEnv {
	return cliEnv{
		getenv: func(k string) string { return vars[k] },
		readFile: func(name string) ([]byte, error) {
			if s, ok := files[name]; ok {
				return []byte(s), nil
			}
			return nil, &net.AddrError{Err: "no such file", Addr: name}
		},
		readSecret: func(name string) ([]byte, fs.FileMode, error) {
			if s, ok := files[name]; ok {
				return []byte(s), 0o600, nil
			}
			return nil, 0, &net.AddrError{Err: "no such file", Addr: name}
		},
	}
}

// runClient runs one of the client commands with env over tcp.
func runClient(t *testing.T, ctx context.Context, cmd string, env cliEnv, args ...string) (int, string, string) {
	t.Helper()
	// The servers of these tests speak ncacn_ip_tcp.
	code, out, errOut, ok := runCommand(ctx, cmd, env, append([]string{"--transport=tcp"}, args...)...)
	if !ok {
		t.Fatalf("no command %q", cmd)
	}
	return code, out, errOut
}

// runCommand runs list, get or del with env; ok is false for another
// command.
func runCommand(ctx context.Context, cmd string, env cliEnv, args ...string) (code int, stdout, stderr string, ok bool) {
	var out, errb strings.Builder
	switch cmd {
	case "list":
		code = listCmd(ctx, args, &out, &errb, env)
	case "get":
		code = getCmd(ctx, args, &out, &errb, env)
	case "del":
		code = delCmd(ctx, args, &out, &errb, env)
	default:
		return 0, "", "", false
	}
	return code, out.String(), errb.String(), true
}

func newTestFlagSet() *cli.FlagSet { return cli.NewFlagSet() }

func hexString(b []byte) string { return hex.EncodeToString(b) }

// runList is "netsess list" with the process environment.
func listCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	return newApp(func(io.Writer) cliEnv { return env }).Run(ctx, append([]string{"list"}, args...), stdout, stderr)
}

// getCmd is "netsess get" with env.
func getCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	return newApp(func(io.Writer) cliEnv { return env }).Run(ctx, append([]string{"get"}, args...), stdout, stderr)
}

// delCmd is "netsess del" with env.
func delCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	return newApp(func(io.Writer) cliEnv { return env }).Run(ctx, append([]string{"del"}, args...), stdout, stderr)
}

// runServe is "netsess serve".
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(osEnv).Run(ctx, append([]string{"serve"}, args...), stdout, stderr)
}

// runList, runGet and runDel are the client commands with the process
// environment.
func runList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return listCmd(ctx, args, stdout, stderr, osEnv(stderr))
}

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return getCmd(ctx, args, stdout, stderr, osEnv(stderr))
}

func runDel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return delCmd(ctx, args, stdout, stderr, osEnv(stderr))
}
