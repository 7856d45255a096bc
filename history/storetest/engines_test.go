package storetest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/pgstore"
	"github.com/netsession/netsession/history/sqlitestore"
	"github.com/netsession/netsession/internal/pgharness"
)

// pg is the PostgreSQL server of this test binary, started on first use.
var pg pgharness.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := pg.Close(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		code = 1
	}
	os.Exit(code)
}

// engine is one history engine under test.
type engine struct {
	name string
	// fresh returns the location of a new, empty database.
	fresh func(tb testing.TB) string
	// open opens a Store on a database (each call: its own connections).
	open func(ctx context.Context, loc string) (history.Store, error)
	// raw opens the database without the store, for inspection.
	raw func(loc string) (*sql.DB, error)
}

func engines() []engine {
	return []engine{
		{
			name:  "sqlite",
			fresh: func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "netsess", "history.db") },
			open: func(ctx context.Context, loc string) (history.Store, error) {
				return sqlitestore.Open(ctx, loc, sqlitestore.Options{BusyTimeout: 30 * time.Second})
			},
			raw: func(loc string) (*sql.DB, error) { return sql.Open("sqlite", loc+"?_busy_timeout=30000") },
		},
		{
			name: "postgres",
			fresh: func(tb testing.TB) string {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				dsn, err := pg.Get(tb).CreateDB(ctx)
				if err != nil {
					tb.Fatal(err)
				}
				return dsn
			},
			open: func(ctx context.Context, loc string) (history.Store, error) {
				return pgstore.Open(ctx, loc, pgstore.Options{})
			},
			raw: func(loc string) (*sql.DB, error) { return sql.Open("pgx", loc) },
		},
	}
}

// forEach runs f as a subtest per engine.
func forEach(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// openT opens a store on loc and closes it when t ends.
func openT(t testing.TB, e engine, loc string) history.Store {
	t.Helper()
	st, err := e.open(context.Background(), loc)
	if err != nil {
		t.Fatalf("open %s: %v", e.name, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
