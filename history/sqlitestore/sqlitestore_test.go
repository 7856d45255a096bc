package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/historytest"
)

// A new database file is readable by its owner only, in a directory Open
// creates with mode 0700, and so are the WAL files SQLite adds beside it.
func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share %41#x", "netsess")
	path := filepath.Join(dir, "history.db")
	st, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	obs, _ := historytest.Script()
	if _, err := st.Apply(context.Background(), obs); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(p), fi.Mode(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "share A#x")); err == nil {
		t.Error("the path was read as a URI")
	}
	var mode string
	if err := st.(interface{ DB() *sql.DB }).DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

func TestOpenRejects(t *testing.T) {
	for _, p := range []string{"", "a?b.db"} {
		if _, err := Open(context.Background(), p, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	// A file that is not a database.
	p := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(p, []byte("this is not a database, but it is long enough to look like a header...................."), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), p, Options{})
	var he *history.Error
	if !errors.As(err, &he) || he.Engine != "sqlite" || errors.Is(err, history.ErrUnavailable) {
		t.Errorf("junk file: %v (want a plain error: retrying will not help)", err)
	}
}

// A writer holding the write lock blocks neither readers (WAL) nor,
// beyond its own commit, another writer (busy timeout, immediate
// transactions).
func TestReadersAndWriterCoexist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	obs, _ := historytest.Script()
	if _, err := a.Apply(ctx, obs[:2]); err != nil {
		t.Fatal(err)
	}
	tx, err := a.(interface{ DB() *sql.DB }).DB().BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE servers SET reason = 'held'`); err != nil {
		t.Fatal(err)
	}
	ss, err := b.Sessions(ctx, history.Query{})
	if err != nil || len(ss) != 2 {
		t.Fatalf("reader during a write: %d sessions, %v", len(ss), err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Apply(ctx, obs[2:])
		done <- err
	}()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("second writer: %v", err)
	}
	if ss, err = a.Sessions(ctx, history.Query{}); err != nil || len(ss) != 5 {
		t.Fatalf("after both writers: %d sessions, %v", len(ss), err)
	}
}
