package main

import (
	"context"
	"encoding/hex"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
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
	if policy == "" {
		policy = "modern"
	}
	pol, err := session.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	clock := session.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	table := session.New(session.Options{Clock: clock, Policy: pol})
	for _, sp := range []session.Spec{
		{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`},
		{Client: "10.0.0.7", User: "carol", Guest: true, ClientType: "Windows 5.0"},
		{Client: "10.0.0.8", User: "WKS8$"},
	} {
		s, err := table.Open(sp)
		if err != nil {
			t.Fatal(err)
		}
		if sp.User == "carol" {
			s.AddOpen()
		}
	}
	clock.Advance(65 * time.Second)
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("BobPass1")},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dcerpc.Server{Auth: rpcauth.Acceptors(&ntlm.Server{Accounts: accounts})}
	iface := (&srvs.Handler{Table: table}).Interface()
	if wrap != nil {
		iface.Handler = wrap(iface.Handler)
	}
	if err := srv.Register(iface); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(context.Background(), l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return &clServer{addr: l.Addr().String(), table: table}
}

// clStatusAt answers NetrSessionEnum at the given levels with a status.
func clStatusAt(statuses map[uint32]session.Status) func(dcerpc.Handler) dcerpc.Handler {
	return func(h dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
			if call.Opnum == srvs.OpNetrSessionEnum {
				var req srvs.SessionEnumRequest
				if err := req.UnmarshalNDR(call.Stub); err != nil {
					return nil, err
				}
				if st, ok := statuses[req.Level]; ok {
					resp := req.Response(uint32(st))
					return resp.MarshalNDR()
				}
			}
			return h.ServeRPC(ctx, call)
		})
	}
}

func clFaulting(status uint32) func(dcerpc.Handler) dcerpc.Handler {
	return func(dcerpc.Handler) dcerpc.Handler {
		return dcerpc.HandlerFunc(func(context.Context, *dcerpc.Call) ([]byte, error) {
			return nil, &dcerpc.Fault{Status: status}
		})
	}
}

// clSilent accepts connections and never answers.
func clSilent(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

func clClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
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
	}
}

// runClient runs one of the client commands with env.
func runClient(t *testing.T, ctx context.Context, cmd string, env cliEnv, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	var code int
	// The servers of these tests speak ncacn_ip_tcp.
	args = append([]string{"--transport=tcp"}, args...)
	switch cmd {
	case "list":
		code = listCmd(ctx, args, &out, &errb, env)
	case "get":
		code = getCmd(ctx, args, &out, &errb, env)
	case "del":
		code = delCmd(ctx, args, &out, &errb, env)
	default:
		t.Fatalf("no command %q", cmd)
	}
	return code, out.String(), errb.String()
}

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func hexString(b []byte) string { return hex.EncodeToString(b) }
