// Package sqlstore implements history.Store over database/sql for the SQL
// engines; a Dialect carries what differs between them.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/session"
)

// Dialect is what an engine supplies.
type Dialect struct {
	Engine string // "sqlite" or "postgres", for errors
	// IDType is the column type of an auto-increment primary key.
	IDType string
	// Dollar numbers placeholders ($1, $2, ...) instead of '?'.
	Dollar bool
	// LockMigrations serialises schema migrations across processes; it
	// runs first in the migration transaction.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Retryable reports errors after which the whole transaction is
	// retried (serialisation failure, deadlock, busy).
	Retryable func(error) bool
	// Unavailable reports errors that mean the database cannot be
	// reached or written.
	Unavailable func(error) bool
	// Check, if set, runs before every operation and reports a database
	// that went away (its error is an unavailable one).
	Check func() error
}

// Store is a history.Store over a *sql.DB.
type Store struct {
	db  *sql.DB
	d   *Dialect
	log *slog.Logger
}

// maxAttempts bounds the retries of a transaction that keeps failing with
// a retryable error.
const maxAttempts = 20

// Open migrates db to the newest schema and returns a Store that owns db.
// On error db is closed.
func Open(ctx context.Context, db *sql.DB, d *Dialect, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, d: d, log: log}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// DB returns the underlying database (tests and benchmarks).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// wrap makes err a *history.Error of operation op.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var he *history.Error
	if errors.As(err, &he) {
		return err
	}
	var se *history.SchemaError
	if errors.As(err, &se) {
		return &history.Error{Engine: s.d.Engine, Op: op, Err: err}
	}
	unavailable := s.d.Unavailable != nil && s.d.Unavailable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	return &history.Error{Engine: s.d.Engine, Op: op, Unavailable: unavailable, Err: err}
}

// q rewrites '?' placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) check(op string) error {
	if s.d.Check == nil {
		return nil
	}
	if err := s.d.Check(); err != nil {
		return &history.Error{Engine: s.d.Engine, Op: op, Unavailable: true, Err: err}
	}
	return nil
}

// inTx runs f in a write transaction, retrying it from the start after a
// retryable error.
func (s *Store) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if err := s.check(op); err != nil {
			return err
		}
		err := s.tryTx(ctx, f)
		if err == nil {
			return nil
		}
		if s.d.Retryable == nil || !s.d.Retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return s.wrap(op, err)
		}
		s.log.Debug("history: retrying transaction", "op", op, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return s.wrap(op, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (s *Store) tryTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) migrate(ctx context.Context) error {
	return s.inTx(ctx, "open", func(tx *sql.Tx) error {
		if s.d.LockMigrations != nil {
			if err := s.d.LockMigrations(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_us BIGINT NOT NULL)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return &history.SchemaError{Database: v, Supported: len(migrations)}
		}
		for i := v; i < len(migrations); i++ {
			for _, stmt := range migrations[i] {
				if _, err := tx.ExecContext(ctx, s.d.expand(stmt)); err != nil {
					return fmt.Errorf("schema version %d: %w", i+1, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version, applied_us) VALUES (?, ?)`), i+1, time.Now().UnixMicro()); err != nil {
				return err
			}
			s.log.Info("history: schema migrated", "engine", s.d.Engine, "version", i+1)
		}
		return nil
	})
}

// us converts a time to stored microseconds (0 for the zero time).
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// nullUS is us with NULL for the zero time.
func nullUS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// applyStmts are the statements of one Apply transaction, prepared once.
type applyStmts struct {
	server, lastAddress, loadOpen, updServer, insSession, updSession, insEvent *sql.Stmt
}

func (s *Store) prepare(ctx context.Context, tx *sql.Tx) (*applyStmts, error) {
	var st applyStmts
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.server, `INSERT INTO servers (target, address) VALUES (?, ?)
			ON CONFLICT (target, address) DO UPDATE SET target = excluded.target
			RETURNING id, known, failing, reason, last_observed_us, last_success_us`},
		{&st.loadOpen, `SELECT ` + sessionCols + ` FROM sessions s WHERE s.server_id = ? AND (s.ended_us IS NULL OR s.ended_us > ?)`},
		{&st.lastAddress, `SELECT address FROM servers WHERE target = ? AND address <> '' ORDER BY last_observed_us DESC, id LIMIT 1`},
		{&st.updSession, `UPDATE sessions SET first_seen_us = ?, last_seen_us = ?, ended_us = ?, opens = ?, idle = ?, level = ? WHERE id = ?`},
		{&st.insEvent, `INSERT INTO events (at_us, kind, server_id, session_id, user_key, client, body) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&st.updServer, `UPDATE servers SET known = ?, failing = ?, reason = ?, last_observed_us = ?, last_success_us = ? WHERE id = ?`},
		{&st.insSession, `INSERT INTO sessions (server_id, client, user_name, user_key, user_domain, start_us, seq,
			first_seen_us, last_seen_us, ended_us, opens, idle, level, snapshot)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (server_id, client, user_name, start_us, seq) DO NOTHING RETURNING id`},
	} {
		stmt, err := tx.PrepareContext(ctx, s.q(p.query))
		if err != nil {
			return nil, err
		}
		*p.dst = stmt
	}
	return &st, nil
}

// sessionCols are the session columns scanSession reads, without the
// server's.
const sessionCols = `s.id, s.client, s.user_name, s.start_us, s.seq, s.first_seen_us, s.last_seen_us, s.ended_us, s.opens, s.idle, s.level, s.snapshot`

type scanner interface{ Scan(dest ...any) error }

func scanSession(r scanner, extra ...any) (history.Session, error) {
	var (
		x                          history.Session
		start, first, last         int64
		ended                      sql.NullInt64
		opens, idle, level, snapsh int64
	)
	dest := append([]any{&x.ID, &x.Client, &x.User, &start, &x.Seq, &first, &last, &ended, &opens, &idle, &level, &snapsh}, extra...)
	if err := r.Scan(dest...); err != nil {
		return x, err
	}
	x.Start, x.FirstSeen, x.LastSeen = fromUS(start), fromUS(first), fromUS(last)
	if ended.Valid {
		x.EndedAt = fromUS(ended.Int64)
	}
	x.Opens, x.IdleTime, x.Level, x.Snapshot = uint32(opens), uint32(idle), session.Level(level), snapsh != 0
	return x, nil
}

// Apply implements history.Store. Observations are applied by server, then
// time, so that concurrent batches lock servers in one order (no deadlock)
// and each server's observations are applied oldest first. Each server's
// row is upserted first: the row lock that takes serialises every
// transaction touching that server until commit, so the sessions read
// next are the committed truth and two collectors never both insert one
// session.
func (s *Store) Apply(ctx context.Context, obs []history.Observation) ([]history.Event, error) {
	if len(obs) == 0 {
		return nil, nil
	}
	sorted := make([]history.Observation, len(obs))
	for i, o := range obs {
		if err := o.Validate(); err != nil {
			return nil, &history.Error{Engine: s.d.Engine, Op: "apply", Err: err}
		}
		sorted[i] = o.Clean()
	}
	slices.SortStableFunc(sorted, func(a, b history.Observation) int {
		return cmp.Or(cmp.Compare(a.Server.Target, b.Server.Target), cmp.Compare(a.Server.Address, b.Server.Address), a.ObservedAt.Compare(b.ObservedAt))
	})
	var events []history.Event
	err := s.inTx(ctx, "apply", func(tx *sql.Tx) error {
		events = events[:0]
		st, err := s.prepare(ctx, tx)
		if err != nil {
			return err
		}
		for _, o := range sorted {
			ev, err := s.applyOne(ctx, st, o)
			if err != nil {
				return fmt.Errorf("%s at %s: %w", o.Server, o.ObservedAt.UTC().Format(time.RFC3339), err)
			}
			events = append(events, ev...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

func (s *Store) applyOne(ctx context.Context, st *applyStmts, o history.Observation) ([]history.Event, error) {
	var (
		id                int64
		host              history.HostState
		known, failing    int
		lastObs, lastSucc int64
	)
	if o.Server.Address == "" && !o.Collected {
		var addr string
		err := st.lastAddress.QueryRowContext(ctx, o.Server.Target).Scan(&addr)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("server address: %w", err)
		}
		o.Server.Address = addr
	}
	if err := st.server.QueryRowContext(ctx, o.Server.Target, o.Server.Address).Scan(&id, &known, &failing, &host.Reason, &lastObs, &lastSucc); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	host.Known, host.Failing, host.LastObserved, host.LastSuccess = known != 0, failing != 0, fromUS(lastObs), fromUS(lastSucc)
	t := o.ObservedAt.UTC().Truncate(time.Microsecond)

	var cand []history.Session
	if o.Collected {
		rows, err := st.loadOpen.QueryContext(ctx, id, t.UnixMicro())
		if err != nil {
			return nil, fmt.Errorf("open sessions: %w", err)
		}
		for rows.Next() {
			x, err := scanSession(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			x.Server = o.Server
			cand = append(cand, x)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}

	ch := history.Reconcile(host, cand, o)
	if ch.Host != host {
		h := ch.Host
		if _, err := st.updServer.ExecContext(ctx, b2i(h.Known), b2i(h.Failing), h.Reason, us(h.LastObserved), us(h.LastSuccess), id); err != nil {
			return nil, fmt.Errorf("server state: %w", err)
		}
	}
	// Row by row through statements prepared once per transaction: a
	// multi-row UPDATE ... FROM (VALUES ...) measured half as fast in both
	// engines (SQLite parses each new text; PostgreSQL prepares each).
	for i, x := range ch.Sessions {
		if x.ID != 0 {
			if _, err := st.updSession.ExecContext(ctx, us(x.FirstSeen), us(x.LastSeen), nullUS(x.EndedAt), int64(x.Opens), int64(x.IdleTime), int64(x.Level), x.ID); err != nil {
				return nil, fmt.Errorf("session update: %w", err)
			}
			continue
		}
		key, dom := history.UserKey(x.User)
		// The key is taken only by a session this observation cannot
		// see (inconsistent input): take the next seq rather than merge.
		for seq := x.Seq; ; seq++ {
			var newID int64
			err := st.insSession.QueryRowContext(ctx, id, x.Client, x.User, key, dom, us(x.Start), seq,
				us(x.FirstSeen), us(x.LastSeen), nullUS(x.EndedAt), int64(x.Opens), int64(x.IdleTime), int64(x.Level), b2i(x.Snapshot)).Scan(&newID)
			if errors.Is(err, sql.ErrNoRows) && seq < x.Seq+1000 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("session insert: %w", err)
			}
			ch.Stored(i, newID, seq)
			break
		}
	}
	for _, e := range ch.Events {
		body, err := e.MarshalJSON()
		if err != nil {
			return nil, err
		}
		var sid sql.NullInt64
		var ukey, client string
		if e.Kind == history.SessionStart || e.Kind == history.SessionEnd {
			sid = sql.NullInt64{Int64: e.Session.ID, Valid: true}
			ukey, _ = history.UserKey(e.Session.User)
			client = e.Session.Client
		}
		if _, err := st.insEvent.ExecContext(ctx, us(e.At), string(e.Kind), id, sid, ukey, client, string(body)); err != nil {
			return nil, fmt.Errorf("event: %w", err)
		}
	}
	return ch.Events, nil
}

// RecordRun implements history.Store.
func (s *Store) RecordRun(ctx context.Context, r history.Run) error {
	return s.inTx(ctx, "record run", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO runs (collector, started_us, finished_us, targets, failed, target_list) VALUES (?, ?, ?, ?, ?, ?)`),
			r.Collector, us(r.Started), us(r.Finished), len(r.Targets), r.Failed, strings.Join(r.Targets, "\n"))
		return err
	})
}

// bounds returns the window of q as microseconds, open ends widened.
func bounds(q history.Query) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !q.Since.IsZero() {
		lo = q.Since.UnixMicro()
	}
	if !q.Until.IsZero() {
		hi = q.Until.UnixMicro()
	}
	return lo, hi
}

// where builds the session filter of q over sessions s joined to servers v.
func where(q history.Query) (string, []any) {
	var conds []string
	var args []any
	if q.User != "" {
		key, dom := history.UserKey(q.User)
		conds = append(conds, "s.user_key = ?")
		args = append(args, key)
		if dom != "" {
			conds = append(conds, "(s.user_domain = '' OR s.user_domain = ?)")
			args = append(args, dom)
		}
	}
	if q.Server != "" {
		conds = append(conds, "(v.target = ? OR v.address = ?)")
		args = append(args, q.Server, q.Server)
	}
	if q.Client != "" {
		bare, unc := history.ClientForms(q.Client)
		conds = append(conds, "s.client IN (?, ?)")
		args = append(args, bare, unc)
	}
	if !q.At.IsZero() {
		t := q.At.UnixMicro()
		conds = append(conds, "s.start_us <= ? AND (s.ended_us IS NULL OR s.ended_us > ?)")
		args = append(args, t, t)
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		lo, hi := bounds(q)
		conds = append(conds, "((s.start_us >= ? AND s.start_us < ?) OR (s.ended_us >= ? AND s.ended_us < ?))")
		args = append(args, lo, hi, lo, hi)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func limit(q history.Query) string {
	if q.Limit > 0 {
		return " LIMIT " + strconv.Itoa(q.Limit)
	}
	return ""
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err := s.check("query"); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.wrap("query", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, s.wrap("query", err)
		}
		out = append(out, x)
	}
	return out, s.wrap("query", rows.Err())
}

// Sessions implements history.Store.
func (s *Store) Sessions(ctx context.Context, q history.Query) ([]history.Session, error) {
	w, args := where(q)
	return queryAll(ctx, s, `SELECT `+sessionCols+`, v.target, v.address FROM sessions s JOIN servers v ON v.id = s.server_id`+w+` ORDER BY s.start_us, s.id`+limit(q), args,
		func(rows *sql.Rows) (history.Session, error) {
			var srv history.Server
			x, err := scanSession(rows, &srv.Target, &srv.Address)
			x.Server = srv
			return x, err
		})
}

// Events implements history.Store.
func (s *Store) Events(ctx context.Context, q history.Query) ([]history.Event, error) {
	var conds []string
	var args []any
	if q.User != "" {
		key, _ := history.UserKey(q.User)
		conds, args = append(conds, "e.user_key = ?"), append(args, key)
	}
	if q.Server != "" {
		conds, args = append(conds, "(v.target = ? OR v.address = ?)"), append(args, q.Server, q.Server)
	}
	if q.Client != "" {
		bare, unc := history.ClientForms(q.Client)
		conds, args = append(conds, "e.client IN (?, ?)"), append(args, bare, unc)
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		lo, hi := bounds(q)
		conds, args = append(conds, "e.at_us >= ? AND e.at_us < ?"), append(args, lo, hi)
	}
	w := ""
	if len(conds) > 0 {
		w = " WHERE " + strings.Join(conds, " AND ")
	}
	return queryAll(ctx, s, `SELECT e.body FROM events e JOIN servers v ON v.id = e.server_id`+w+` ORDER BY e.id`+limit(q), args,
		func(rows *sql.Rows) (history.Event, error) {
			var body string
			var e history.Event
			if err := rows.Scan(&body); err != nil {
				return e, err
			}
			return e, e.UnmarshalJSON([]byte(body))
		})
}

// Runs implements history.Store.
func (s *Store) Runs(ctx context.Context, q history.Query) ([]history.Run, error) {
	lo, hi := bounds(q)
	return queryAll(ctx, s, `SELECT id, collector, started_us, finished_us, failed, target_list FROM runs WHERE started_us >= ? AND started_us < ? ORDER BY started_us, id`+limit(q), []any{lo, hi},
		func(rows *sql.Rows) (history.Run, error) {
			var r history.Run
			var st, fin int64
			var list string
			if err := rows.Scan(&r.ID, &r.Collector, &st, &fin, &r.Failed, &list); err != nil {
				return r, err
			}
			r.Started, r.Finished = fromUS(st), fromUS(fin)
			if list != "" {
				r.Targets = strings.Split(list, "\n")
			}
			return r, nil
		})
}

// Summary implements history.Store.
func (s *Store) Summary(ctx context.Context, q history.Query) (history.Summary, error) {
	var sum history.Summary
	if err := s.check("query"); err != nil {
		return sum, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(failing), 0) FROM servers WHERE known = 1`).Scan(&sum.Servers, &sum.Failing); err != nil {
		return sum, s.wrap("query", err)
	}
	lo, hi := bounds(q)
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM runs WHERE started_us >= ? AND started_us < ?`), lo, hi).Scan(&sum.Runs); err != nil {
		return sum, s.wrap("query", err)
	}
	w, args := where(q)
	from := ` FROM sessions s JOIN servers v ON v.id = s.server_id` + w
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN s.ended_us IS NULL THEN 1 ELSE 0 END), 0),
		COUNT(DISTINCT CASE WHEN s.user_key <> '' THEN s.user_key END)`+from), args...).Scan(&sum.Sessions, &sum.Open, &sum.Users); err != nil {
		return sum, s.wrap("query", err)
	}
	const day = int64(24 * time.Hour / time.Microsecond)
	days := map[int64]*history.Day{}
	for _, c := range []struct {
		col string
		add func(*history.Day, int)
	}{
		{"s.start_us", func(d *history.Day, n int) { d.Started += n }},
		{"s.ended_us", func(d *history.Day, n int) { d.Ended += n }},
	} {
		// Only starts and ends inside the window count.
		cond := " WHERE "
		if w != "" {
			cond = " AND "
		}
		cond += c.col + " >= ? AND " + c.col + " < ?"
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+c.col+` / `+strconv.FormatInt(day, 10)+` AS d, COUNT(*)`+from+cond+` GROUP BY d`), append(slices.Clone(args), lo, hi)...)
		if err != nil {
			return sum, s.wrap("query", err)
		}
		for rows.Next() {
			var d sql.NullInt64
			var n int
			if err := rows.Scan(&d, &n); err != nil {
				rows.Close()
				return sum, s.wrap("query", err)
			}
			if !d.Valid {
				continue
			}
			at := time.UnixMicro(d.Int64 * day).UTC()
			if days[d.Int64] == nil {
				days[d.Int64] = &history.Day{Date: at}
			}
			c.add(days[d.Int64], n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return sum, s.wrap("query", err)
		}
	}
	for _, d := range days {
		sum.Days = append(sum.Days, *d)
	}
	slices.SortFunc(sum.Days, func(a, b history.Day) int { return a.Date.Compare(b.Date) })
	return sum, nil
}

// Prune implements history.Store.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (history.Pruned, error) {
	var p history.Pruned
	c := cutoff.UnixMicro()
	err := s.inTx(ctx, "prune", func(tx *sql.Tx) error {
		p = history.Pruned{}
		for _, x := range []struct {
			n     *int64
			query string
		}{
			{&p.Events, `DELETE FROM events WHERE at_us < ?`},
			{&p.Sessions, `DELETE FROM sessions WHERE ended_us IS NOT NULL AND ended_us < ?`},
			{&p.Runs, `DELETE FROM runs WHERE started_us < ?`},
		} {
			r, err := tx.ExecContext(ctx, s.q(x.query), c)
			if err != nil {
				return err
			}
			if *x.n, err = r.RowsAffected(); err != nil {
				return err
			}
		}
		return nil
	})
	return p, err
}
