package storetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/historytest"
	"github.com/netsession/netsession/history/pgstore"
	"github.com/netsession/netsession/history/sqlitestore"
	"github.com/netsession/netsession/internal/pgharness"
)

// faultWorld returns batches of observations of a small world and what
// applying them all must give.
func faultWorld() (batches [][]history.Observation, events []history.Event, sessions []history.Session) {
	w := historytest.Generate(5, 3, 20, 20*time.Minute)
	obs := worldObservations(w, 40, 30*time.Second)
	var ref history.Tracker
	for i := 0; i < len(obs); i += len(w.Servers) {
		b := obs[i:min(i+len(w.Servers), len(obs))]
		batches = append(batches, b)
		for _, o := range b {
			events = append(events, ref.Apply(o)...)
		}
	}
	return batches, events, ref.Sessions()
}

// checkHistory compares a store with the reference: sessions, and the
// stored events (IDs aside, as the reference numbers sessions its own way).
func checkHistory(t *testing.T, st history.Store, events []history.Event, sessions []history.Session) {
	t.Helper()
	if d := gocmp.Diff(withoutIDs(sessions), withoutIDs(allSessions(t, st))); d != "" {
		t.Errorf("sessions (-want +got):\n%s", d)
	}
	stored, err := st.Events(context.Background(), history.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if d := gocmp.Diff(historytest.Lines(events), historytest.Lines(stored)); d != "" {
		t.Errorf("stored events (-want +got):\n%s", d)
	}
}

// PostgreSQL stopped while a collector runs: the batches that fail come
// back with an error matching ErrUnavailable and nothing of them stored;
// once the server is back, the collector applies them again and the
// history is complete, every event stored once.
func TestFaultPostgresStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := pgharness.Start(t)
	dsn, err := srv.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	batches, wantEvents, wantSessions := faultWorld()

	var applied, failures atomic.Int32
	stopped := make(chan struct{})
	sawFailure := make(chan struct{})
	stopperDone := make(chan error, 1)
	go func() {
		for applied.Load() < int32(len(batches)/3) {
			time.Sleep(5 * time.Millisecond)
		}
		err := srv.Stop()
		close(stopped)
		if err == nil {
			select {
			case <-sawFailure:
			case <-ctx.Done():
			}
			err = srv.Restart(ctx)
		}
		stopperDone <- err
	}()

	var got []history.Event
	var firstErr error
	for i := 0; i < len(batches); {
		ev, err := st.Apply(ctx, batches[i])
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
			if ev != nil {
				t.Errorf("failed Apply returned events %v", historytest.Lines(ev))
			}
			if failures.Add(1) == 1 {
				firstErr = err
				close(sawFailure)
			}
			time.Sleep(50 * time.Millisecond)
			continue // the same batch again
		}
		got = append(got, ev...)
		applied.Add(1)
		i++
		if i == len(batches)/3 {
			<-stopped // make sure the stop lands mid-run
		}
	}
	if err := <-stopperDone; err != nil {
		t.Fatal(err)
	}
	if failures.Load() == 0 {
		t.Fatal("no Apply failed while the server was down")
	}
	if !errors.Is(firstErr, history.ErrUnavailable) {
		t.Errorf("error %v does not match ErrUnavailable", firstErr)
	}
	var he *history.Error
	if !errors.As(firstErr, &he) || he.Engine != "postgres" || he.Op != "apply" || !strings.Contains(firstErr.Error(), "unavailable") {
		t.Errorf("unclear error: %v", firstErr)
	}
	t.Logf("%d failed attempts; first: %v", failures.Load(), firstErr)
	if d := gocmp.Diff(historytest.Lines(wantEvents), historytest.Lines(got)); d != "" {
		t.Errorf("events returned to the collector (-want +got):\n%s", d)
	}
	checkHistory(t, st, wantEvents, wantSessions)
}

// SQLite: a database file replaced behind the store's back, or its
// directory removed (faults that bite as root, which ignores permissions),
// fails every operation with a clear error matching ErrUnavailable, and the
// store writes nothing into the file nobody will read. With the original
// file back, a new store applies the failed batch and the history is
// complete.
func TestFaultSQLite(t *testing.T) {
	ctx := context.Background()
	batches, wantEvents, wantSessions := faultWorld()
	half := len(batches) / 2
	for _, fault := range []string{"file replaced", "directory removed"} {
		t.Run(fault, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			path := filepath.Join(dir, "history.db")
			st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range batches[:half] {
				if _, err := st.Apply(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			keep := filepath.Join(t.TempDir(), "kept")
			if err := os.Mkdir(keep, 0o700); err != nil {
				t.Fatal(err)
			}
			// Keep the original files reachable (hard links), then fault.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Link(path+suffix, filepath.Join(keep, "history.db"+suffix)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			switch fault {
			case "file replaced":
				tmp := path + ".new"
				if err := os.WriteFile(tmp, []byte("not the history"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, path); err != nil {
					t.Fatal(err)
				}
			case "directory removed":
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			ev, err := st.Apply(ctx, batches[half])
			if err == nil || ev != nil {
				t.Fatalf("Apply after the fault: %v, %v", historytest.Lines(ev), err)
			}
			var he *history.Error
			if !errors.Is(err, history.ErrUnavailable) || !errors.As(err, &he) || he.Engine != "sqlite" ||
				!strings.Contains(err.Error(), "removed or replaced") {
				t.Errorf("unclear error: %v", err)
			}
			if _, err := st.Sessions(ctx, history.Query{}); !errors.Is(err, history.ErrUnavailable) {
				t.Errorf("query after the fault: %v", err)
			}
			t.Logf("error: %v", err)
			st.Close()

			// Put the original back and go on where it stopped.
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			os.Remove(path)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
				if err := os.Rename(filepath.Join(keep, "history.db"+suffix), path+suffix); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			st, err = sqlitestore.Open(ctx, path, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, b := range batches[half:] {
				if _, err := st.Apply(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			checkHistory(t, st, wantEvents, wantSessions)
		})
	}
}
