package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/history/historytest"
	"github.com/netsession/netsession/history/internal/sqlstore"
	"github.com/netsession/netsession/session"
)

// large reports whether the large benchmarks were asked for.
func large() bool { return os.Getenv("NETSESS_HISTORY_BENCH") == "1" }

// churn generates observations of servers whose sessions come and go: each
// step every server is observed once; each live session ends with
// probability 1/8 and new ones replace them, about perServer live at once.
type churn struct {
	r       *rand.Rand
	servers []history.Server
	live    [][]historytest.Truth
	step    int
	next    int
}

func newChurn(servers, perServer int) *churn {
	c := &churn{r: rand.New(rand.NewPCG(1, 2))}
	for i := range servers {
		c.servers = append(c.servers, history.Server{Target: fmt.Sprintf("bench%04d", i), Address: fmt.Sprintf("10.9.%d.%d", i/250, i%250+1)})
		c.live = append(c.live, nil)
		for range perServer {
			c.live[i] = append(c.live[i], c.session(i, historytest.Epoch().Add(-time.Hour)))
		}
	}
	return c
}

func (c *churn) session(srv int, start time.Time) historytest.Truth {
	c.next++
	return historytest.Truth{Server: c.servers[srv], Client: "10.8." + strconv.Itoa(c.next/250%250) + "." + strconv.Itoa(c.next%250+1),
		User: "user" + strconv.Itoa(c.r.IntN(500)), Start: start}
}

// batch returns the next step's observations, one per server.
func (c *churn) batch() []history.Observation {
	at := historytest.Epoch().Add(time.Duration(c.step) * time.Minute)
	c.step++
	out := make([]history.Observation, 0, len(c.servers))
	for i, srv := range c.servers {
		o := history.Observation{Server: srv, ObservedAt: at, Collected: true, Level: session.Level10}
		keep := c.live[i][:0]
		for _, tr := range c.live[i] {
			if c.r.IntN(8) == 0 {
				keep = append(keep, c.session(i, at.Add(-time.Duration(c.r.IntN(50))*time.Second)))
				continue
			}
			keep = append(keep, tr)
		}
		c.live[i] = keep
		for _, tr := range keep {
			o.Sessions = append(o.Sessions, session.Info{ClientName: tr.Client, UserName: tr.User, Time: uint32(at.Sub(tr.Start) / time.Second), NumOpens: 1})
		}
		out = append(out, o)
	}
	return out
}

// BenchmarkApply measures events and observations per second into each
// engine: one batch per iteration, one observation of each of 50 servers
// with about 40 sessions each (about 12% of sessions ending and as many
// starting per step). The first batch (every session new) is applied
// before the timer starts.
func BenchmarkApply(b *testing.B) {
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			st := openT(b, e, e.fresh(b))
			c := newChurn(50, 40)
			if _, err := st.Apply(ctx, c.batch()); err != nil {
				b.Fatal(err)
			}
			batches := make([][]history.Observation, b.N)
			for i := range batches {
				batches[i] = c.batch()
			}
			events, obs := 0, 0
			b.ResetTimer()
			for i := range b.N {
				ev, err := st.Apply(ctx, batches[i])
				if err != nil {
					b.Fatal(err)
				}
				events += len(ev)
				obs += len(batches[i])
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(obs)/b.Elapsed().Seconds(), "obs/s")
		})
	}
}

// BenchmarkUserQuery measures "sessions of a user" (history --user) on a
// large stored history: 10 million sessions with NETSESS_HISTORY_BENCH=1,
// 20,000 otherwise; 1,000 servers; about 100 sessions per user. The rows
// are generated inside the database. It also reports the size on disk per
// million sessions (indexes included).
func BenchmarkUserQuery(b *testing.B) {
	n := 20_000
	if large() {
		n = 10_000_000
	}
	for _, e := range engines() {
		// Filled once, outside the measured function, which the testing
		// package calls several times.
		ctx := context.Background()
		loc := e.fresh(b)
		st := openT(b, e, loc)
		db := st.(interface{ DB() *sql.DB }).DB()
		before := diskSize(b, e.name, db, loc)
		start := time.Now()
		fill(b, e.name, db, n)
		loadTime := time.Since(start)
		size := diskSize(b, e.name, db, loc) - before
		users := n / 100
		b.Run(fmt.Sprintf("%s/%d", e.name, n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			rows := 0
			for range b.N {
				ss, err := st.Sessions(ctx, history.Query{User: "user" + strconv.Itoa(r.IntN(users))})
				if err != nil {
					b.Fatal(err)
				}
				rows += len(ss)
			}
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
			b.ReportMetric(float64(size)/float64(n)*1e6/(1<<20), "MiB/Msessions")
			b.ReportMetric(float64(n)/loadTime.Seconds(), "loaded/s")
		})
		st.Close()
	}
}

// fill generates n sessions (and 1,000 servers) inside the database, in
// chunks of a million rows per statement, as a bulk load would: the
// secondary indexes are dropped first and rebuilt at the end, rows arrive in
// the unique key's order (server, then start).
func fill(b *testing.B, engine string, db *sql.DB, n int) {
	b.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	const servers = 1000
	gen := `WITH RECURSIVE g(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM g WHERE x < ?) SELECT x FROM g`
	if engine == "postgres" {
		gen = `SELECT x FROM generate_series($1::bigint, $2::bigint) AS x`
		exec(`SET maintenance_work_mem = '256MB'`)
	} else {
		exec(`PRAGMA cache_size = -262144`)
	}
	names, defs := sqlstore.SessionIndexes()
	for _, name := range names {
		exec(`DROP INDEX ` + name)
	}
	exec(`INSERT INTO servers (target, address, known, last_observed_us, last_success_us)
		SELECT 'srv' || x, '10.7.' || (x / 250) || '.' || (x % 250), 1, 0, 0 FROM (`+gen+`) AS s`, 1, servers)
	var first int64
	if err := conn.QueryRowContext(ctx, `SELECT MIN(id) FROM servers`).Scan(&first); err != nil {
		b.Fatal(err)
	}
	users := strconv.Itoa(max(n/100, 1))
	per := strconv.Itoa((n + servers - 1) / servers)
	base := strconv.FormatInt(historytest.Epoch().UnixMicro(), 10)
	start := base + ` + ((x - 1) % ` + per + `) * 60000000`
	for lo := 1; lo <= n; lo += 1_000_000 {
		hi := min(lo+999_999, n)
		exec(`INSERT INTO sessions (server_id, client, user_name, user_key, user_domain, start_us, seq,
			first_seen_us, last_seen_us, ended_us, opens, idle, level, snapshot)
			SELECT `+strconv.FormatInt(first, 10)+` + (x - 1) / `+per+`,
				'10.' || (x % 200) || '.' || (x / 200 % 250) || '.' || (x / 50000 % 250),
				'user' || (x * 7919 % `+users+`), 'user' || (x * 7919 % `+users+`), '',
				`+start+`, 0, `+start+` + 5000000, `+start+` + 600000000,
				CASE WHEN x % 10 = 0 THEN NULL ELSE `+start+` + 900000000 END,
				1, 5, 10, 0
			FROM (`+gen+`) AS s`, lo, hi)
	}
	for _, def := range defs {
		exec(def)
	}
	exec(`ANALYZE`)
}

// diskSize is the database's size on disk: the SQLite file after a WAL
// checkpoint, or PostgreSQL's database size.
func diskSize(b *testing.B, engine string, db *sql.DB, loc string) int64 {
	b.Helper()
	if engine == "postgres" {
		var n int64
		if err := db.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(filepath.Clean(loc + suffix)); err == nil {
			total += fi.Size()
		}
	}
	return total
}
