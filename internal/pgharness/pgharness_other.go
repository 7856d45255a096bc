//go:build !linux

package pgharness

import (
	"context"
	"errors"
	"os"
	"testing"
)

// ErrNotInstalled is returned by New where the harness cannot run a
// server: it starts PostgreSQL with Linux process attributes (a
// parent-death signal, another user's identity).
var ErrNotInstalled = errors.New("pgharness: a private PostgreSQL for tests needs Linux")

// Server is a running private PostgreSQL server; on this platform there is
// none.
type Server struct {
	Dir, DataDir, Log string
}

// Start skips tb (fails it under CI=true): no server can be started here.
func Start(tb testing.TB) *Server {
	tb.Helper()
	skipOrFail(tb, ErrNotInstalled)
	return nil
}

// New returns ErrNotInstalled.
func New(context.Context) (*Server, error) { return nil, ErrNotInstalled }

func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") != "true" {
		tb.Skipf("%v (set CI=true to make this a failure)", err)
	}
	tb.Fatalf("%v", err)
}

// Restart returns ErrNotInstalled.
func (s *Server) Restart(context.Context) error { return ErrNotInstalled }

// PID returns 0.
func (s *Server) PID() int { return 0 }

// DSN returns "".
func (s *Server) DSN(string) string { return "" }

// CreateDB returns ErrNotInstalled.
func (s *Server) CreateDB(context.Context) (string, error) { return "", ErrNotInstalled }

// Stop does nothing.
func (s *Server) Stop() error { return nil }

// Close does nothing.
func (s *Server) Close() error { return nil }

// Shared is one server for all the tests of a test binary; on this
// platform Get skips.
type Shared struct{}

// Get skips tb (fails it under CI=true).
func (sh *Shared) Get(tb testing.TB) *Server {
	tb.Helper()
	skipOrFail(tb, ErrNotInstalled)
	return nil
}

// Close does nothing.
func (sh *Shared) Close() error { return nil }
