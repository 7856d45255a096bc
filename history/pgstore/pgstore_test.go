package pgstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsession/netsession/history"
)

// No server behind the address: a clear error that says the database is
// unavailable (the caller may retry), not a schema or input problem.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "nothing-here")
	_, err := Open(ctx, "host="+dir+" port=5432 user=u dbname=d sslmode=disable connect_timeout=5", Options{})
	var he *history.Error
	if !errors.Is(err, history.ErrUnavailable) || !errors.As(err, &he) || he.Engine != "postgres" {
		t.Fatalf("Open: %v", err)
	}
	t.Log(err)
}

func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://[::1", Options{})
	var he *history.Error
	if !errors.As(err, &he) || he.Op != "open" || errors.Is(err, history.ErrUnavailable) {
		t.Fatalf("Open: %v", err)
	}
}
