package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/sessfmt"
)

const historyHelp = `Answers questions about the history netsess watch keeps (or history
import adds): who was connected where, and when.

  netsess history [flags]            the sessions the filters select
  netsess history summary [flags]    servers, users, sessions, runs, and
                                     sessions started and ended per day
  netsess history events [flags]     the events, in the order they were stored
  netsess history import FILE|-      add the per-host JSON Lines of
                                     "netsess scan --json" to the history

Filters (sessions and summary; events take --user, --server, --client,
--since and --until): --user matches the user part whatever the case, on
every server ("alice" finds alice and CORP\alice; "CORP\alice" finds those
two but not LAB\alice); --server a server's target or address as watch was
given it; --client the client name as the server reported it, with or
without its leading \\; --at the
sessions active at that instant (started by it and not ended by it);
--since and --until the sessions that started or ended within that window
(events: that happened within it). Times are RFC 3339, a date, now, or a
duration before now (2h, 7d), as everywhere in netsess.

Output: a table by default, in local time unless --utc (server text
escaped as in "netsess list"); --json one object per line with times in UTC
RFC 3339 (sessions: session_id, target, address, client, user, start,
first_seen, last_seen, ended_at (absent while open), open, opens,
idle_time, level, snapshot, seq; events: the objects of netsess watch;
summary: one object with servers, failing, users, sessions, open, runs and
days [{date, started, ended}]); --csv with a header, the JSON keys as
columns, and a field that starts with =, +, -, @, a tab or a carriage
return defused with a leading ' (--csv-raw: as stored). A query that
matches nothing prints an empty table (or no line) and exits 0, as a
filtered "netsess list" does.

Import reads the records of "netsess scan --json" (one per host, with its
sessions), as if watch had made those observations: a host interrupted by
Ctrl-C is skipped, a failed one is a failed observation. Importing the
same file twice adds nothing the second time. Records of --per-session
output are refused (they split a host over several lines; scan without
--per-session writes what import reads). The scanning account's own
session, which watch leaves out, is in a scan's output and is imported
like any other. The database is --db, as for watch; only import creates
a SQLite file that is not there.
`

func historyCommand(env envFunc) *cli.Command {
	return &cli.Command{
		Name:    "history",
		Summary: "query the session history (sessions, summary, events) or import scan output into it",
		Subcommands: []cli.Subcommand{
			{Name: "summary", Summary: "count servers, users and sessions per day"},
			{Name: "events", Summary: "list the stored events"},
			{Name: "import", Summary: "import scan --json output (a file, or - for standard input)", Args: "FILE|-", NArgs: 1},
		},
		Help: historyHelp,
		Examples: []string{
			`netsess history --user alice --since 7d`,
			`netsess history --server fs1 --at 2026-03-03T22:00:00Z --utc`,
			`netsess history --since 2026-03-01 --until 2026-03-02 --csv > march1.csv`,
			`netsess history summary --since 30d --json`,
			`netsess history events --since 1h --json`,
			`netsess scan --targets hosts.txt -U 'CORP\auditor' --json | netsess history import -`,
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "success, also a query that matches nothing (an empty table, or no line)"},
			{Code: 1, Meaning: "usage error (bad flag or value, unknown subcommand, a filter import does not take), an import line that is not a per-host scan record, or the output could not be written"},
			{Code: exitDatabase, Meaning: "the history database failed: it is not there (queries), cannot be opened, is from a newer netsess, or refused a write"},
		},
		Define: func(fs *cli.FlagSet) cli.Action { return defineHistory(fs, env) },
	}
}

type historyFlags struct {
	db                   *string
	user, server, client *string
	at, since, until     *time.Time
	limit                *int
	json, csv, csvRaw    *bool
	utc                  *bool
	fs                   *cli.FlagSet
	loc                  *time.Location
}

func defineHistory(fs *cli.FlagSet, env envFunc) cli.Action {
	f := historyFlags{fs: fs}
	fs.Group("History")
	f.db = fs.String("db", "", "the history database: a SQLite file `PATH` or a postgres:// URL (default $XDG_DATA_HOME/netsess/history.db)")
	fs.Group("Filters")
	f.user = fs.String("user", "", "sessions of this `USER` on every server (alice also finds CORP\\alice)")
	f.server = fs.String("server", "", "sessions on this `SERVER` (its target or address)")
	f.client = fs.String("client", "", "sessions from this `CLIENT` (the client name as the server reported it, with or without its leading \\\\)")
	f.at = fs.Time("at", time.Now, "sessions active at this instant")
	f.since = fs.Time("since", time.Now, "sessions that started or ended at or after this time (events: happened)")
	f.until = fs.Time("until", time.Now, "sessions that started or ended before this time (events: happened)")
	f.limit = fs.Int("limit", 0, "at most `N` rows (0: all)")
	fs.Group("Output")
	f.json = fs.Bool("json", "JSON Lines, times in UTC")
	f.csv = fs.Bool("csv", "CSV with a header; the JSON keys as columns; a field that starts with =, +, -, @, a tab or a carriage return gets a leading '")
	f.csvRaw = fs.Bool("csv-raw", "with --csv, write every field as stored (no leading ')")
	f.utc = fs.Bool("utc", "tables in UTC instead of local time")
	return func(ctx context.Context, inv *cli.Invocation) int {
		return runHistory(ctx, inv, &f, env(inv.Stderr))
	}
}

func (f *historyFlags) query() history.Query {
	return history.Query{User: *f.user, Server: *f.server, Client: *f.client, At: *f.at, Since: *f.since, Until: *f.until, Limit: *f.limit}
}

func runHistory(ctx context.Context, inv *cli.Invocation, f *historyFlags, e cliEnv) int {
	f.loc = e.location
	if f.loc == nil {
		f.loc = time.Local
	}
	sub := ""
	if len(inv.Args) > 0 {
		sub = inv.Args[0]
	}
	switch {
	case *f.json && *f.csv:
		return inv.Usagef("--json and --csv exclude each other")
	case *f.csvRaw && !*f.csv:
		return inv.Usagef("--csv-raw goes with --csv")
	case *f.limit < 0:
		return inv.Usagef("--limit: not negative")
	case !f.since.IsZero() && !f.until.IsZero() && !f.until.After(*f.since):
		return inv.Usagef("--until must be after --since")
	}
	// The parser has judged the subcommand and its arguments
	// (historyCommand's Subcommands).
	if sub == "import" {
		for _, name := range []string{"user", "server", "client", "at", "since", "until", "limit", "json", "csv", "csv-raw", "utc"} {
			if f.fs.Count(name) > 0 {
				return inv.Usagef("--%s is not for import (it takes only --db)", name)
			}
		}
	}
	if sub == "events" && f.fs.Count("at") > 0 {
		return inv.Usagef("--at is for sessions and summary; events take --since and --until")
	}
	st, db, err := openStore(ctx, *f.db, sub != "import")
	if err != nil {
		return databaseFailure(inv.Stderr, "history", db, err)
	}
	defer st.Close()
	if sub == "import" {
		return runImport(ctx, inv, st, db, inv.Args[1], e)
	}
	q := f.query()
	var werr error
	switch sub {
	case "":
		var ss []history.Session
		if ss, err = st.Sessions(ctx, q); err == nil {
			werr = f.writeSessions(inv.Stdout, ss)
		}
	case "summary":
		var sum history.Summary
		if sum, err = st.Summary(ctx, q); err == nil {
			werr = f.writeSummary(inv.Stdout, sum)
		}
	case "events":
		var evs []history.Event
		if evs, err = st.Events(ctx, q); err == nil {
			werr = f.writeEvents(inv.Stdout, evs)
		}
	}
	if err != nil {
		return databaseFailure(inv.Stderr, "history", db, err)
	}
	if werr != nil {
		fmt.Fprintf(inv.Stderr, "netsess history: writing the output: %v\n", werr)
		return exitUsage
	}
	return exitOK
}

// stamp renders t for a table: local time (or UTC with --utc) to the
// second; "-" for a zero time.
func (f *historyFlags) stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if *f.utc {
		return t.UTC().Format(time.DateTime) + "Z"
	}
	return t.In(f.loc).Format(time.DateTime)
}

// utcTime renders t in UTC RFC 3339 for JSON and CSV; "" for zero.
func utcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// sessionRecord is the fields of a session in JSON and CSV, in order.
func sessionRecord(s history.Session) []field {
	out := []field{
		{"session_id", s.ID}, {"target", s.Server.Target}, {"address", s.Server.Address},
		{"client", s.Client}, {"user", s.User},
		{"start", utcTime(s.Start)}, {"first_seen", utcTime(s.FirstSeen)}, {"last_seen", utcTime(s.LastSeen)},
	}
	if !s.Open() {
		out = append(out, field{"ended_at", utcTime(s.EndedAt)})
	}
	return append(out, field{"open", s.Open()}, field{"opens", s.Opens}, field{"idle_time", s.IdleTime},
		field{"level", uint32(s.Level)}, field{"snapshot", s.Snapshot}, field{"seq", s.Seq})
}

var sessionColumns = []string{"session_id", "target", "address", "client", "user", "start", "first_seen", "last_seen", "ended_at", "open", "opens", "idle_time", "level", "snapshot", "seq"}

func (f *historyFlags) writeSessions(w io.Writer, ss []history.Session) error {
	switch {
	case *f.json:
		return writeRecords(w, len(ss), func(i int) []field { return sessionRecord(ss[i]) })
	case *f.csv:
		return writeCSV(w, sessionColumns, *f.csvRaw, len(ss), func(i int) []field { return sessionRecord(ss[i]) })
	}
	if len(ss) == 0 {
		_, err := fmt.Fprintln(w, "(no sessions)")
		return err
	}
	rows := [][]string{{"SERVER", "CLIENT", "USER", "START", "LAST SEEN", "ENDED", "OPENS", "IDLE", "LEVEL"}}
	for _, s := range ss {
		ended, user, level := "open", sessfmt.Escape(s.User), strconv.Itoa(int(s.Level))
		if !s.Open() {
			ended = f.stamp(s.EndedAt)
		}
		if s.Snapshot {
			user, level = "-", "0 (snapshot)"
		}
		if user == "" {
			user = "-"
		}
		rows = append(rows, []string{sessfmt.Escape(s.Server.String()), sessfmt.Escape(s.Client), user,
			f.stamp(s.Start), f.stamp(s.LastSeen), ended, strconv.FormatUint(uint64(s.Opens), 10), sessfmt.Duration(s.IdleTime), level})
	}
	return sessfmt.WriteColumns(w, rows)
}

func (f *historyFlags) writeSummary(w io.Writer, sum history.Summary) error {
	days := make([]map[string]any, len(sum.Days))
	for i, d := range sum.Days {
		days[i] = map[string]any{"date": d.Date.UTC().Format(time.DateOnly), "started": d.Started, "ended": d.Ended}
	}
	switch {
	case *f.json:
		return writeJSONLine(w, []field{{"servers", sum.Servers}, {"failing", sum.Failing}, {"users", sum.Users},
			{"sessions", sum.Sessions}, {"open", sum.Open}, {"runs", sum.Runs}, {"days", days}})
	case *f.csv:
		return writeCSV(w, []string{"date", "started", "ended"}, *f.csvRaw, len(sum.Days), func(i int) []field {
			return []field{{"date", days[i]["date"]}, {"started", sum.Days[i].Started}, {"ended", sum.Days[i].Ended}}
		})
	}
	var b []byte
	b = fmt.Appendf(b, "servers   %d (%d failing)\nusers     %d\nsessions  %d (%d open)\nruns      %d\n",
		sum.Servers, sum.Failing, sum.Users, sum.Sessions, sum.Open, sum.Runs)
	if _, err := w.Write(b); err != nil {
		return err
	}
	if len(sum.Days) == 0 {
		return nil
	}
	rows := [][]string{{"DAY (UTC)", "STARTED", "ENDED"}}
	for _, d := range sum.Days {
		rows = append(rows, []string{d.Date.UTC().Format(time.DateOnly), strconv.Itoa(d.Started), strconv.Itoa(d.Ended)})
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	return sessfmt.WriteColumns(w, rows)
}

var eventColumns = []string{"event", "at", "target", "address", "reason", "session_id", "client", "user", "start", "ended_at"}

func eventRecord(e history.Event) []field {
	out := []field{{"event", string(e.Kind)}, {"at", utcTime(e.At)}, {"target", e.Server.Target}, {"address", e.Server.Address}}
	if e.Kind == history.HostFailed {
		out = append(out, field{"reason", e.Reason})
	}
	if e.Kind == history.SessionStart || e.Kind == history.SessionEnd {
		out = append(out, field{"session_id", e.Session.ID}, field{"client", e.Session.Client}, field{"user", e.Session.User}, field{"start", utcTime(e.Session.Start)})
		if !e.Session.Open() {
			out = append(out, field{"ended_at", utcTime(e.Session.EndedAt)})
		}
	}
	return out
}

func (f *historyFlags) writeEvents(w io.Writer, evs []history.Event) error {
	switch {
	case *f.json:
		bw := bufio.NewWriter(w)
		for _, e := range evs {
			b, err := e.MarshalJSON()
			if err != nil {
				return err
			}
			bw.Write(b)
			bw.WriteByte('\n')
		}
		return bw.Flush()
	case *f.csv:
		return writeCSV(w, eventColumns, *f.csvRaw, len(evs), func(i int) []field { return eventRecord(evs[i]) })
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintln(w, "(no events)")
		return err
	}
	rows := [][]string{{"AT", "EVENT", "SERVER", "CLIENT", "USER", "REASON"}}
	for _, e := range evs {
		cl, user := "-", "-"
		if e.Kind == history.SessionStart || e.Kind == history.SessionEnd {
			cl, user = sessfmt.Escape(e.Session.Client), sessfmt.Escape(e.Session.User)
		}
		reason := "-"
		if e.Reason != "" {
			reason = sessfmt.Escape(e.Reason)
		}
		rows = append(rows, []string{f.stamp(e.At), string(e.Kind), sessfmt.Escape(e.Server.String()), cl, user, reason})
	}
	return sessfmt.WriteColumns(w, rows)
}

// writeRecords writes n records as JSON Lines.
func writeRecords(w io.Writer, n int, rec func(int) []field) error {
	bw := bufio.NewWriter(w)
	for i := range n {
		if err := writeJSONLine(bw, rec(i)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeCSV writes a header and n records under cols, strings defused
// unless raw, as "netsess list --csv" does.
func writeCSV(w io.Writer, cols []string, raw bool, n int, rec func(int) []field) error {
	cw := csv.NewWriter(w)
	cw.Write(cols)
	for i := range n {
		row := make([]string, len(cols))
		for _, fd := range rec(i) {
			for j, c := range cols {
				if c != fd.key {
					continue
				}
				switch v := fd.val.(type) {
				case string:
					row[j] = v
					if !raw {
						row[j] = sessfmt.Defuse(v)
					}
				default:
					row[j] = fmt.Sprint(v)
				}
			}
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// importBatch is how many observations one transaction of import applies.
const importBatch = 500

// maxImportLine is the longest scan record import reads (a host with many
// thousands of sessions).
const maxImportLine = 64 << 20

// runImport applies the per-host scan records of name ("-": standard
// input) to the store.
func runImport(ctx context.Context, inv *cli.Invocation, st history.Store, db, name string, e cliEnv) int {
	var in io.Reader
	if name == "-" {
		in = e.stdin
		if in == nil {
			in = eofReader{}
		}
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return inv.Usagef("import: %v", err)
		}
		defer fh.Close()
		in = fh
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxImportLine)
	var (
		batch            []history.Observation
		records, skipped int
		events           = map[history.EventKind]int{}
	)
	flush := func() error {
		evs, err := st.Apply(ctx, batch)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			events[ev.Kind]++
		}
		batch = batch[:0]
		return nil
	}
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		o, ok, err := decodeScanRecord(b)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "netsess history: import %s: line %d: %s; nothing after line %d is imported\n", sessfmt.Escape(name), line, sessfmt.Escape(err.Error()), line-1)
			if ferr := flush(); ferr != nil {
				return databaseFailure(inv.Stderr, "history", db, ferr)
			}
			return exitUsage
		}
		records++
		if !ok {
			skipped++
			continue
		}
		batch = append(batch, o)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return databaseFailure(inv.Stderr, "history", db, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(inv.Stderr, "netsess history: import %s: %v\n", sessfmt.Escape(name), err)
		if ferr := flush(); ferr != nil {
			return databaseFailure(inv.Stderr, "history", db, ferr)
		}
		return exitUsage
	}
	if err := flush(); err != nil {
		return databaseFailure(inv.Stderr, "history", db, err)
	}
	fmt.Fprintf(inv.Stderr, "netsess history: imported %s (%d interrupted, skipped): %d sessions started, %d ended, %d hosts failed, %d recovered\n",
		plural(records, "host record"), skipped, events[history.SessionStart], events[history.SessionEnd], events[history.HostFailed], events[history.HostRecovered])
	return exitOK
}

// eofReader is an empty input.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// errPerSession refuses a record of "netsess scan --json --per-session".
var errPerSession = errors.New(`a per-session record (netsess scan --json --per-session); import reads the per-host records of "netsess scan --json"`)
