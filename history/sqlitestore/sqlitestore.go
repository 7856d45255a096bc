// Package sqlitestore is the embedded history engine: a SQLite file through
// the pure-Go modernc.org/sqlite driver, nothing to install.
//
// The database runs in WAL mode, so readers never wait for the writer; every
// write transaction begins IMMEDIATE (it takes the write lock at BEGIN, not
// at its first write, so two writers queue instead of failing halfway), and
// a busy timeout makes a writer wait for another instead of failing. Several
// processes may share one file; migrations run in one immediate
// transaction, so concurrent starts apply each version once.
//
// A new file is created with mode 0600 (its directory 0700): sessions say
// who was logged on where. SQLite gives the WAL and shared-memory files the
// database file's mode.
//
// Before each operation the store checks that the path still names the file
// it opened: a database file that was removed or replaced (or whose
// directory was) makes every operation fail with an error matching
// history.ErrUnavailable instead of writing into a file nobody will read.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options tune Open. The zero value is ready.
type Options struct {
	// BusyTimeout is how long a writer waits for another (default 10 s).
	BusyTimeout time.Duration
	// Logger receives migration and retry messages (default: discarded).
	Logger *slog.Logger
}

// Open opens the SQLite history at path, creating the file (mode 0600) and
// its directory (0700) when missing, and migrates its schema. A database
// written by a newer version is refused with a *history.SchemaError.
func Open(ctx context.Context, path string, opt Options) (history.Store, error) {
	wrap := func(err error) error {
		return &history.Error{Engine: "sqlite", Op: "open", Err: err}
	}
	// The driver reads parameters after the first '?', and a name
	// starting with "file:" as a URI: an absolute plain path avoids both.
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, wrap(fmt.Errorf("invalid database path %q (empty, or holding '?')", path))
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, wrap(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, wrap(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, wrap(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, wrap(err)
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 10 * time.Second
	}
	dsn := path + "?_txlock=immediate" +
		"&_busy_timeout=" + strconv.FormatInt(opt.BusyTimeout.Milliseconds(), 10) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, wrap(err)
	}
	d := &sqlstore.Dialect{
		Engine:      "sqlite",
		IDType:      "INTEGER PRIMARY KEY",
		Retryable:   func(err error) bool { return code(err)&0xff == sqlite3.SQLITE_BUSY },
		Unavailable: unavailable,
		Check:       func() error { return sameFile(path, fi) },
	}
	st, err := sqlstore.Open(ctx, db, d, opt.Logger)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// unavailable reports errors of a database file that cannot be opened,
// read or written, or that is no longer where it was.
func unavailable(err error) bool {
	c := code(err)
	switch c & 0xff {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
		return true
	}
	return c == sqlite3.SQLITE_READONLY_DBMOVED || errors.Is(err, errMoved)
}

var errMoved = errors.New("the database file was removed or replaced since it was opened")

// sameFile reports errMoved unless path still names the file fi describes.
func sameFile(path string, fi os.FileInfo) error {
	now, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %v", errMoved, err)
	}
	if !os.SameFile(fi, now) {
		return fmt.Errorf("%w: %s", errMoved, path)
	}
	return nil
}
