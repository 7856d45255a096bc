package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/pgstore"
	"github.com/netsession/netsession/history/sqlitestore"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/internal/watchmetrics"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// exitDatabase is the exit code of watch and history when the history
// database fails: it cannot be opened, is from a newer netsess, or went
// away or refused a write.
const exitDatabase = 9

// minInterval is the shortest --interval watch accepts: a round costs
// every server a logon, and a shorter period would make the collector
// a load on the estate rather than an observer of it.
const minInterval = 10 * time.Second

// storeTimeout bounds each write to the history database, which runs
// even after Ctrl-C (what was collected is stored before the exit).
const storeTimeout = time.Minute

const watchHelp = `Scans the same targets again and again, every --interval, and keeps the
history of what it saw in a database: sessions with a lifetime (first and
last seen, estimated start, end), servers that failed and recovered, and
every round as a run. Targets, connection, credentials and query flags are
those of "netsess scan" (arguments, --targets FILE, CIDR ranges, and the
domain's computers with --ldap DC and its directory flags; not standard
input).

A session is the same from one round to the next when server, client and
user are equal and its estimated start (the time of the answer less the
session's age) moves by at most 3 seconds; a reconnect is a new session.
A session ends when a later successful round of its server no longer lists
it. A server that cannot be asked ends nothing (unknown is not gone): it
gets host_failed, then host_recovered when it answers again. A server that
answers only level 0 (client names, no user, no time) has its sessions
kept as snapshots (snapshot true), as precise as the rounds. The
collector's own session (its logon user's, set up during the enumeration)
is left out; at level 0 it cannot be told apart and is kept.

Every change is written as one JSON object per line to standard output
(or --events FILE, appended to), and stored: session_start and
session_end (with the session: session_id, client, user, start,
first_seen, last_seen, ended_at, opens, idle_time, level, snapshot, seq),
host_failed (with reason) and host_recovered; every event has event, at,
target and address. Times are UTC RFC 3339. A line per round on stderr
says what the round found.

The database (--db) is a SQLite file, by default
$XDG_DATA_HOME/netsess/history.db (else ~/.local/share/netsess/history.db,
created with mode 0600), or a PostgreSQL database named by a postgres://
URL (postgres://user:pass@host/db, or postgres:///db?host=/run/postgresql
for a socket), which several collectors may share. --shard K/N makes this
collector take the targets whose FNV-1a hash (64 bits, of the target as
written, lower-cased; for a range, of each address) modulo N is K-1: N
collectors given 1/N to N/N with the same targets split them without
overlap, and each target stays with its collector from run to run.
--retain deletes, after each round, sessions that ended and events and
runs older than that; open sessions are kept however old.

With --metrics ADDRESS, watch serves Prometheus metrics (text format
0.0.4) at http://ADDRESS/metrics while it runs, all named netsess_watch_
(apart from serve's): rounds, round and per-host durations, hosts of the
latest round by outcome (collected or the failure reason), host results
by outcome, events by kind, failed store writes, and for each server its
sessions at its latest successful collection (the collector's own left
out) and the time of that collection: one series per server for each of
the last two. The listener takes at most 64 connections, 16 from one
address; expose it on loopback or behind a firewall only.

Rounds start every --interval (at least 10s), counted from the start of
the previous one; a round longer than the interval is followed at once by
the next. --rounds N stops after N rounds (for cron: --rounds 1).
Ctrl-C (SIGINT) or SIGTERM stops the round in progress as scan does (the
hosts in progress may finish within --grace), stores and writes what it
collected (interrupted hosts are not observations and change nothing),
prints the summary and exits 130. If the database fails, watch stops with
exit 9 and a message: the round in progress is not stored and none of its
events is written, and a restart picks up from what was stored.

BloodHound: with --ldap DC, --bloodhound DIR writes after every round the
BloodHound CE computers file (and its zip) of the sessions seen within
--bloodhound-window (default 24h) before the round's end, from the history:
every session an observation listed in the window, ended since or not,
each server with the outcome of the round (a server whose round failed is
not collected, with that round's reason, and carries no pairs; one the
round did not cover, in the window from an earlier run, is collected as of
its latest enumeration that listed a session), pairs deduplicated across
the window (a user who reconnected is one pair). Names resolve through the
directory as scan's do (--dns, --netbios), on a connection opened for each
write; the file of the previous round is replaced. A write that fails is
reported on stderr and watch goes on. The targets are then the
directory's computers at the start (as scan's --ldap filters select them)
and the arguments.

` + scanCredentialsHelp

func watchCommand(env envFunc) *cli.Command {
	return &cli.Command{
		Name:    "watch",
		Summary: "scan targets at an interval and keep the history of their sessions (events as JSON Lines)",
		Args:    "[TARGET...]",
		MaxArgs: -1,
		Help:    watchHelp,
		Examples: []string{
			`netsess watch --targets hosts.txt --credentials /etc/netsess/watch.cred --interval 5m --retain 90d`,
			`netsess watch fs1 fs2 10.0.0.0/24 -U 'CORP\auditor' --events events.jsonl --db postgres://netsess@db1/netsess --shard 1/2`,
			`netsess watch --targets hosts.txt -k --keytab auditor.keytab -U auditor@CORP.EXAMPLE --rounds 1`,
			`netsess watch --targets hosts.txt --credentials watch.cred --metrics 127.0.0.1:9101   # then: curl -s http://127.0.0.1:9101/metrics`,
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "--rounds N rounds were made (hosts that failed are events, not an exit code)"},
			{Code: 1, Meaning: "usage error (bad flag or value, no target, an unreadable --targets or --credentials file, --interval under 10s, a --metrics address that cannot be listened on), or the events could not be written"},
			{Code: exitDirectory, Meaning: "--ldap: the directory could not be asked at the start (DC unreachable, bind refused, search failed); nothing was scanned"},
			{Code: exitDatabase, Meaning: "the history database failed: it cannot be opened, is from a newer netsess, or went away or refused a write; the round in progress is not stored and its events are not written"},
			{Code: 130, Meaning: "interrupted (Ctrl-C, SIGTERM); the round in progress is stored and its events written, then the summary"},
		},
		Define: func(fs *cli.FlagSet) cli.Action { return defineWatch(fs, env) },
	}
}

// watchFlags are watch's flags: scan's engine flags and its own.
type watchFlags struct {
	scanFlags
	interval   *time.Duration
	rounds     *int
	retain     *time.Duration
	db, events *string
	shard      *string
	quiet      *bool
	bhWindow   *time.Duration
	metrics    *string
}

func defineWatch(fs *cli.FlagSet, env envFunc) cli.Action {
	f := watchFlags{}
	f.registerEngine(fs, true)
	f.ld.cmd = "watch"
	fs.Group("Watch")
	f.interval = fs.Duration("interval", 5*time.Minute, "start a round every `DURATION` (at least 10s)")
	f.rounds = fs.Int("rounds", 0, "stop after `N` rounds (0: until interrupted)")
	f.shard = fs.String("shard", "", "take only share `K/N` of the targets (a stable hash of each target; K from 1 to N)")
	fs.Group("History")
	f.db = fs.String("db", "", "the history database: a SQLite file `PATH` or a postgres:// URL (default $XDG_DATA_HOME/netsess/history.db)")
	f.retain = fs.Duration("retain", 0, "after each round delete ended sessions, events and runs older than `DURATION` (90d); 0 keeps everything")
	f.bhWindow = fs.Duration("bloodhound-window", defaultBloodHoundWindow, "with --bloodhound, the sessions seen within this `DURATION` before each round's end go into the file")
	fs.Group("Output")
	f.events = fs.File("events", "", "append the events to `FILE` (created with mode 0600) instead of standard output")
	fs.BoolVar(&f.cf.debug, "debug", "log each host's exchange to stderr")
	f.quiet = fs.Bool("quiet,q", "no line per round and no summary on stderr")
	f.metrics = fs.String("metrics", "", "serve Prometheus metrics at http://`ADDRESS`/metrics while watching (netsess_watch_...); empty: none")
	return func(ctx context.Context, inv *cli.Invocation) int {
		return runWatch(ctx, inv, &f, env(inv.Stderr))
	}
}

// parseShard reads K/N (1 <= K <= N).
func parseShard(s string) (k, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		k, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || k < 1 || k > n {
		return 0, 0, usagef("--shard: want K/N with 1 <= K <= N (such as 2/4), not %q", s)
	}
	return k, n, nil
}

// shardOf is the shard (0 to n-1) a target belongs to: FNV-1a (64 bits)
// of the target as written, lower-cased, modulo n.
func shardOf(target string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(target)))
	return int(h.Sum64() % uint64(n))
}

// isPostgres reports whether --db names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// dbName is --db as messages show it: a URL without its password.
func dbName(db string) string {
	if isPostgres(db) {
		if u, err := url.Parse(db); err == nil {
			return u.Redacted()
		}
		return "the PostgreSQL database"
	}
	return db
}

// openStore opens the history --db names ("" the default SQLite file).
// mustExist refuses a SQLite file that is not there (a query would
// otherwise create an empty history).
func openStore(ctx context.Context, db string, mustExist bool) (history.Store, string, error) {
	if db == "" {
		p, err := history.DefaultPath()
		if err != nil {
			return nil, "", err
		}
		db = p
	}
	if isPostgres(db) {
		st, err := pgstore.Open(ctx, db, pgstore.Options{})
		return st, dbName(db), err
	}
	if mustExist {
		if _, err := os.Stat(db); err != nil {
			return nil, db, fmt.Errorf("no history at %s (netsess watch or history import creates it; --db names another): %w", db, err)
		}
	}
	st, err := sqlitestore.Open(ctx, db, sqlitestore.Options{})
	return st, db, err
}

// databaseFailure prints the message of a failed history database and
// returns exitDatabase.
func databaseFailure(stderr io.Writer, cmd, db string, err error) int {
	msg := userText(err)
	var se *history.SchemaError
	switch {
	case errors.As(err, &se):
		msg = se.Error()
	case errors.Is(err, history.ErrUnavailable):
		msg = "unavailable (" + msg + ")"
	}
	fmt.Fprintf(stderr, "netsess %s: history database %s: %s\n", cmd, db, msg)
	return exitDatabase
}

func runWatch(ctx context.Context, inv *cli.Invocation, f *watchFlags, e cliEnv) int {
	if err := f.checkEngine(); err != nil {
		return inv.Usagef("%v", err)
	}
	switch {
	case *f.interval < minInterval:
		return inv.Usagef("--interval: at least %s, not %s (each round logs on to every server)", cli.FormatDuration(minInterval), cli.FormatDuration(*f.interval))
	case *f.rounds < 0:
		return inv.Usagef("--rounds: not negative")
	case *f.retain < 0:
		return inv.Usagef("--retain: not negative")
	case f.ld.bloodhound == bloodhoundStdout:
		return inv.Usagef("--bloodhound -: watch writes its events on standard output; give --bloodhound a directory")
	case f.fs.Count("bloodhound-window") > 0 && f.ld.bloodhound == "":
		return inv.Usagef("--bloodhound-window goes with --bloodhound DIR")
	case *f.bhWindow <= 0:
		return inv.Usagef("--bloodhound-window: more than 0, not %s", cli.FormatDuration(*f.bhWindow))
	case slices.Contains(inv.Args, "-"):
		return inv.Usagef("- (targets from standard input): watch scans the same targets every round; give them as arguments or with --targets FILE")
	}
	k, n := 1, 1
	if *f.shard != "" {
		var err error
		if k, n, err = parseShard(*f.shard); err != nil {
			return inv.Usagef("%v", err)
		}
	}
	opts, err := f.cf.clientOptions(e, inv.Stderr)
	if err != nil {
		return inv.Usagef("%v", err)
	}
	defer f.cf.kerb.close()
	if err := f.ld.check(inv.Args, f.fs); err != nil {
		return inv.Usagef("%v", err)
	}
	if f.ld.bloodhound != "" {
		if err := checkBloodHoundDir(f.ld.bloodhound); err != nil {
			return inv.Usagef("%v", err)
		}
	}
	var ds *domainScan
	if f.ld.dc != "" {
		defer f.ld.close()
		// The directory's computers at the start are the targets of every
		// round; --bloodhound resolves through a connection of its own at
		// each write.
		saved := f.ld.bloodhound
		f.ld.bloodhound = ""
		ds, err = f.ld.discover(ctx, opts.Credentials, opts, f.cf.kerb.ccache, inv.Stderr)
		f.ld.bloodhound = saved
		if err != nil {
			fmt.Fprintf(inv.Stderr, "netsess watch: %s\n", directoryText(err))
			if errors.Is(err, directory.ErrConfig) {
				return exitUsage
			}
			return exitDirectory
		}
		ds.conn.Close()
	}
	src, err := scanSource(inv.Args, &f.scanFlags, e, ds)
	if errors.Is(err, scan.ErrRangeTooLarge) {
		return inv.Usagef("%s; --max-range sets the limit", userText(err))
	}
	if err != nil {
		return inv.Usagef("%s", userText(err))
	}
	var targets []scan.Target
	for {
		t, err := src.Next(ctx)
		if err != nil {
			break
		}
		if shardOf(t.Input, n) == k-1 {
			targets = append(targets, t)
		}
	}
	sc, err := scan.New(f.engineConfig(opts))
	if err != nil {
		return inv.Usagef("%s", userText(err))
	}
	var ml net.Listener
	if *f.metrics != "" {
		if ml, err = net.Listen("tcp", *f.metrics); err != nil {
			return inv.Usagef("--metrics: %v", err)
		}
		defer ml.Close()
	}

	var out io.Writer = inv.Stdout
	if *f.events != "" {
		ef, err := os.OpenFile(*f.events, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return inv.Usagef("--events: %v", err)
		}
		defer ef.Close()
		out = ef
	}
	st, db, err := openStore(ctx, *f.db, false)
	if err != nil {
		return databaseFailure(inv.Stderr, "watch", db, err)
	}
	defer st.Close()

	collector, _ := os.Hostname()
	if n > 1 {
		collector += fmt.Sprintf(" shard %d/%d", k, n)
	}
	w := &watcher{
		scanner:   sc,
		targets:   targets,
		store:     st,
		out:       bufio.NewWriter(out),
		interval:  *f.interval,
		rounds:    *f.rounds,
		retain:    *f.retain,
		collector: collector,
		own:       ownSession{user: opts.Credentials.User, anonymous: opts.Credentials.IsAnonymous()},
		sleep:     e.sleep,
	}
	if !*f.quiet {
		w.OnRound = append(w.OnRound, func(r Round) { fmt.Fprintf(inv.Stderr, "netsess watch: %s\n", r) })
	}
	if f.ld.bloodhound != "" {
		bh := &historyBloodHound{ld: &f.ld, cred: opts.Credentials, opts: opts, ccache: f.cf.kerb.ccache,
			comps: ds.comps, dir: f.ld.bloodhound, window: *f.bhWindow, store: st, now: w.now}
		w.OnRound = append(w.OnRound, func(r Round) {
			// The file is written even after Ctrl-C, within the store's
			// timeout: the round's results are stored.
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
			defer cancel()
			rep, st, err := bh.write(bctx, r.Results)
			switch {
			case err != nil:
				fmt.Fprintf(inv.Stderr, "netsess watch: round %d: BloodHound: %s\n", r.N, bloodHoundWriteText(err))
			case !*f.quiet:
				historyBloodHoundLine(inv.Stderr, "watch", rep, st, bh.prevJSON)
			}
		})
	}
	if ml != nil {
		stop := w.exportMetrics(ml, slog.New(slog.NewTextHandler(inv.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		defer stop()
		if !*f.quiet {
			fmt.Fprintf(inv.Stderr, "netsess watch: metrics at http://%s/metrics\n", ml.Addr())
		}
	}
	if len(targets) == 0 {
		fmt.Fprintf(inv.Stderr, "netsess watch: shard %d/%d holds none of the %s: its rounds scan nothing\n", k, n, plural(src.Total(), "target"))
	}
	sum, err := w.run(ctx)
	if !*f.quiet {
		fmt.Fprintf(inv.Stderr, "netsess watch: %s\n", sum)
	}
	var we *writeError
	switch {
	case errors.As(err, &we):
		fmt.Fprintf(inv.Stderr, "netsess watch: writing the events: %v (they are stored: netsess history events lists them)\n", we.err)
		return exitUsage
	case err != nil:
		return databaseFailure(inv.Stderr, "watch", db, err)
	case ctx.Err() != nil:
		fmt.Fprintln(inv.Stderr, "netsess watch: interrupted")
		return exitInterrupted
	}
	return exitOK
}

// exportMetrics serves w's metrics on l (see watchmetrics) until the
// function it returns is called: every round, its events and every failed
// store write are counted from now on.
func (w *watcher) exportMetrics(l net.Listener, log *slog.Logger) (stop func()) {
	m := watchmetrics.New()
	own := w.own
	m.Exclude = func(r *scan.Result, s client.Session) bool { return own.is(s, r.Duration) }
	w.store = m.Store(w.store)
	w.OnRound = append(w.OnRound, func(r Round) {
		m.Round(r.Results, r.Started.Add(r.Duration), r.Duration)
		m.Events(r.Events)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	srv := &promtext.Server{Handler: m.Handler(log), Logger: log}
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, l); err != nil {
			log.Warn("metrics: serving stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// plural is "1 target" or "n targets".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// Round is what one round of watch did, as its observers get it.
type Round struct {
	// N counts the rounds from 1.
	N int
	// Started is when the round began and Duration how long the scan
	// and the store took.
	Started  time.Time
	Duration time.Duration
	// Results are the hosts' results, interrupted ones included (they
	// are not stored).
	Results []*scan.Result
	// Scan counts the results.
	Scan scan.Summary
	// Events are what the round changed in the history.
	Events []history.Event
	// Pruned is what --retain deleted after the round.
	Pruned history.Pruned
}

// String is the round's line on stderr.
func (r Round) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "round %d: %s, %d collected", r.N, plural(r.Scan.Hosts, "host"), r.Scan.Collected)
	if failed := r.Scan.Hosts - r.Scan.Collected; failed > 0 {
		var parts []string
		for _, why := range client.Reasons() {
			if c := r.Scan.ByReason[why]; c > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", why, c))
			}
		}
		fmt.Fprintf(&b, ", %d failed (%s)", failed, strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, ", %d sessions, %s in %v", r.Scan.Sessions, plural(len(r.Events), "event"), r.Duration.Round(time.Millisecond))
	if p := r.Pruned; p.Sessions+p.Events+p.Runs > 0 {
		fmt.Fprintf(&b, "; pruned %d sessions, %d events, %d runs", p.Sessions, p.Events, p.Runs)
	}
	return b.String()
}

// watchSummary is what a watch did in all, for the summary on stderr.
type watchSummary struct {
	Rounds  int
	Elapsed time.Duration
	Events  map[history.EventKind]int
}

func (s watchSummary) String() string {
	return fmt.Sprintf("%s in %v: %d sessions started, %d ended, %d hosts failed, %d recovered",
		plural(s.Rounds, "round"), s.Elapsed.Round(time.Millisecond),
		s.Events[history.SessionStart], s.Events[history.SessionEnd], s.Events[history.HostFailed], s.Events[history.HostRecovered])
}

// writeError is a failure to write the events out (the store has them).
type writeError struct{ err error }

func (e *writeError) Error() string { return "writing the events: " + e.err.Error() }

// ownSession tells the collector's own session apart: the logon user's
// (for a null session, the empty user's), set up during the enumeration
// that lists it.
type ownSession struct {
	user      string
	anonymous bool
}

// is reports whether s, listed by a result that took d, is the
// collector's own session.
func (o ownSession) is(s client.Session, d time.Duration) bool {
	if !s.Level.Fields().Has(session.FieldUserName) || !s.Level.Fields().Has(session.FieldTime) {
		return false
	}
	if o.anonymous != (s.UserName == "") {
		return false
	}
	if !o.anonymous {
		u, _ := history.UserKey(s.UserName)
		own, _ := history.UserKey(o.user)
		if u != own {
			return false
		}
	}
	// Time is whole seconds measured by the server after the logon; the
	// enumeration took d.
	return s.Time == session.TimeUnknown || time.Duration(s.Time)*time.Second <= d+time.Second
}

// observation turns a scan result into what the history stores; ok is
// false for a host the scan interrupted (Ctrl-C), which was not
// observed. The observation time is when the answer arrived (the start
// of the host's work plus its duration), the instant the sessions' ages
// count back from. own, when not nil, leaves out the collector's own
// session.
func observation(r *scan.Result, own *ownSession) (history.Observation, bool) {
	if !r.Collected && r.Failure.Reason == client.ReasonCanceled {
		return history.Observation{}, false
	}
	o := history.Observation{
		Server:     history.Server{Target: r.Target, Address: r.Address},
		Port:       r.Port,
		Transport:  r.Transport,
		ObservedAt: r.ObservedAt.Add(r.Duration),
		Collected:  r.Collected,
		Reason:     string(r.Failure.Reason),
	}
	if r.HasLevel {
		o.Level = r.Level
	}
	if !r.Collected {
		return o, true
	}
	o.Sessions = make([]session.Info, 0, len(r.Sessions))
	for _, s := range r.Sessions {
		if own != nil && own.is(s, r.Duration) {
			continue
		}
		o.Sessions = append(o.Sessions, s.Info)
	}
	return o, true
}

// watcher is the loop of netsess watch: a round of scan.Scanner over the
// targets, applied to the store, its events written; then the wait for
// the next round.
type watcher struct {
	scanner   *scan.Scanner
	targets   []scan.Target
	store     history.Store
	out       *bufio.Writer
	interval  time.Duration
	rounds    int // 0: until ctx ends
	retain    time.Duration
	collector string
	own       ownSession
	// sleep waits d or until ctx ends (nil: a timer). Tests replace it to
	// run rounds without waiting and to change the world between them.
	sleep func(ctx context.Context, d time.Duration) error
	// now is the clock of runs and retention (nil: time.Now).
	now func() time.Time
	// OnRound are called after each round that was stored, in order,
	// from the loop's goroutine (a slow observer delays the next round).
	// An exporter of metrics attaches itself here.
	OnRound []func(Round)
}

func (w *watcher) clock() time.Time {
	if w.now != nil {
		return w.now()
	}
	return time.Now()
}

func (w *watcher) wait(ctx context.Context, d time.Duration) error {
	if w.sleep != nil {
		return w.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run makes rounds until w.rounds are made or ctx ends. It returns the
// summary and the error that stopped it: a *writeError, or the store's;
// nil when the rounds are made or ctx ended (the round in progress is
// then stored first).
func (w *watcher) run(ctx context.Context) (sum watchSummary, err error) {
	sum.Events = map[history.EventKind]int{}
	began := time.Now()
	defer func() { sum.Elapsed = time.Since(began) }()
	for n := 1; w.rounds == 0 || n <= w.rounds; n++ {
		start := time.Now()
		r, rerr := w.round(ctx, n)
		if rerr != nil {
			return sum, rerr
		}
		sum.Rounds++
		for _, e := range r.Events {
			sum.Events[e.Kind]++
		}
		for _, f := range w.OnRound {
			f(r)
		}
		if ctx.Err() != nil || (w.rounds > 0 && n == w.rounds) {
			break
		}
		if err := w.wait(ctx, w.interval-time.Since(start)); err != nil || ctx.Err() != nil {
			break
		}
	}
	return sum, nil
}

// round scans once, stores the observations, writes the events and
// records the run. The store is written even when ctx has ended (what a
// round collected before Ctrl-C is kept), within storeTimeout.
func (w *watcher) round(ctx context.Context, n int) (Round, error) {
	r := Round{N: n, Started: w.clock()}
	begin := time.Now()
	var obs []history.Observation
	sum, _ := w.scanner.Run(ctx, scan.SliceSource(w.targets), func(res *scan.Result) {
		r.Results = append(r.Results, res)
		if o, ok := observation(res, &w.own); ok {
			obs = append(obs, o)
		}
	})
	r.Scan = sum
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	events, err := w.store.Apply(sctx, obs)
	if err != nil {
		return r, fmt.Errorf("round %d: storing %s: %w", n, plural(len(obs), "observation"), err)
	}
	r.Events = events
	for _, e := range events {
		b, err := e.MarshalJSON()
		if err != nil {
			return r, &writeError{err}
		}
		w.out.Write(b)
		w.out.WriteByte('\n')
	}
	if err := w.out.Flush(); err != nil {
		return r, &writeError{err}
	}
	run := history.Run{Collector: w.collector, Started: r.Started, Finished: w.clock(), Failed: sum.Hosts - sum.Collected + sum.Unstarted}
	for _, t := range w.targets {
		run.Targets = append(run.Targets, t.Input)
	}
	if err := w.store.RecordRun(sctx, run); err != nil {
		return r, fmt.Errorf("round %d: recording the run: %w", n, err)
	}
	if w.retain > 0 {
		p, err := w.store.Prune(sctx, w.clock().Add(-w.retain))
		if err != nil {
			return r, fmt.Errorf("round %d: pruning: %w", n, err)
		}
		r.Pruned = p
	}
	r.Duration = time.Since(begin)
	return r, nil
}
