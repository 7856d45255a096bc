package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Store keeps the history. Implementations are safe for concurrent use, and
// several Store values (in one process or many) may share one database.
type Store interface {
	// Apply reconciles a batch of observations with the stored history in
	// one transaction and returns the events it caused; the events are
	// stored too (see Events). On error nothing of the batch is stored
	// (or, when the connection broke during the commit, possibly all of
	// it): the caller keeps the batch and applies it again later. Applying
	// an observation twice changes nothing the second time, so a batch
	// whose commit did land returns no events again; they are in Events.
	// A batch holding an observation that fails Validate is refused whole
	// (ErrInvalidObservation).
	Apply(ctx context.Context, obs []Observation) ([]Event, error)
	// RecordRun stores a finished scan run.
	RecordRun(ctx context.Context, run Run) error
	// Sessions returns the sessions q selects, by start.
	Sessions(ctx context.Context, q Query) ([]Session, error)
	// Events returns the stored events q selects (Server, User, Client,
	// Since, Until, Limit apply), in the order they were stored.
	Events(ctx context.Context, q Query) ([]Event, error)
	// Runs returns the recorded runs that started within q's window, by
	// start.
	Runs(ctx context.Context, q Query) ([]Run, error)
	// Summary counts what q selects.
	Summary(ctx context.Context, q Query) (Summary, error)
	// Prune deletes the sessions that ended before cutoff, and the events
	// and runs older than it. Open sessions are kept however old.
	Prune(ctx context.Context, cutoff time.Time) (Pruned, error)
	// Close releases the database.
	Close() error
}

// ErrUnavailable is matched (errors.Is) by errors of a Store whose database
// cannot be reached or written: a server that went away, a database file
// that was removed or replaced. The operation did not happen (or, for a
// commit cut short, may have); retrying later is the remedy.
var ErrUnavailable = errors.New("history database unavailable")

// Error is an error of a Store operation.
type Error struct {
	Engine      string // "sqlite" or "postgres"
	Op          string // "open", "migrate", "apply", "query", ...
	Unavailable bool   // the database could not be reached or written
	Err         error
}

func (e *Error) Error() string {
	if e.Unavailable {
		return fmt.Sprintf("history %s: %s: database unavailable: %v", e.Engine, e.Op, e.Err)
	}
	return fmt.Sprintf("history %s: %s: %v", e.Engine, e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true for an unavailable database.
func (e *Error) Is(target error) bool { return target == ErrUnavailable && e.Unavailable }

// SchemaError refuses a database whose schema is newer than this program
// knows: it was written by a later version, which may store things this
// one would misread or destroy.
type SchemaError struct {
	Database  int // the schema version the database has
	Supported int // the newest version this program knows
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("history database has schema version %d, newer than %d, the newest this program knows: upgrade netsess", e.Database, e.Supported)
}

// DefaultPath returns where the SQLite history lives unless told otherwise:
// $XDG_DATA_HOME/netsess/history.db, or ~/.local/share/netsess/history.db
// when XDG_DATA_HOME is unset or not absolute.
func DefaultPath() (string, error) {
	return defaultPath(os.Getenv("XDG_DATA_HOME"), os.UserHomeDir)
}

func defaultPath(xdgDataHome string, home func() (string, error)) (string, error) {
	if xdgDataHome != "" && filepath.IsAbs(xdgDataHome) {
		return filepath.Join(xdgDataHome, "netsess", "history.db"), nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("history: no home directory for the default database: %w", err)
	}
	return filepath.Join(h, ".local", "share", "netsess", "history.db"), nil
}
