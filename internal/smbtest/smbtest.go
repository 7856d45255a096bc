// Package smbtest is test support: our own SMB2/3 server (package smb2)
// on a loopback port, serving srvsvc over a session table, for the tests
// of the packages that talk SMB to it (smb2 itself, its pipe client, the
// client library).
//
// It lives outside the _test files so that those packages share one
// implementation; it is not meant for use outside tests. Start takes a
// testing.TB, fails the test on a setup error and stops what it started
// with t.Cleanup.
package smbtest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// The accounts the server knows, in the NETSESS domain: AdminUser is in
// Administrators, PlainUser in no group (the same as rpctest's).
const (
	AdminUser, AdminPass = rpctest.AdminUser, rpctest.AdminPass
	PlainUser, PlainPass = rpctest.PlainUser, rpctest.PlainPass
)

// Server is an SMB server on loopback serving srvsvc inline (smb2.Server.RPC)
// until the test ends.
type Server struct {
	SMB   *smb2.Server
	RPC   *dcerpc.Server // the srvsvc server behind the pipe
	Table *session.Table
	Addr  string // host:port
	Port  string
}

// Start runs a Server over table (nil: a new table with the default
// options) on 127.0.0.1 and a free port. opts adjust the smb2.Server
// before it serves. With SMB2_TEST_LOG set in the environment the server
// logs at debug level to stderr.
func Start(t testing.TB, table *session.Table, opts ...func(*smb2.Server)) *Server {
	t.Helper()
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: AdminUser, NTHash: ntlm.NTHash(AdminPass), Groups: []string{"Administrators"}},
		ntlm.Account{Name: PlainUser, NTHash: ntlm.NTHash(PlainPass)},
	)
	if err != nil {
		t.Fatal(err)
	}
	if table == nil {
		table = session.New(session.Options{})
	}
	s := &Server{Table: table, RPC: &dcerpc.Server{}}
	if err := s.RPC.Register((&srvs.Handler{Table: table}).Interface()); err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if os.Getenv("SMB2_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s.SMB = &smb2.Server{
		Table:  table,
		Auth:   &ntlm.Server{Accounts: accounts, ComputerName: "NETSESS"},
		RPC:    s.RPC,
		Logger: logger,
	}
	for _, o := range opts {
		o(s.SMB)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	_, s.Port, _ = net.SplitHostPort(s.Addr)
	errc := make(chan error, 1)
	go func() { errc <- s.SMB.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		s.SMB.Close()
		if err := <-errc; !errors.Is(err, smb2.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		s.RPC.Close()
	})
	return s
}
