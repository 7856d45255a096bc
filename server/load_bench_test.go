package server

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// seedsN returns n seeds with distinct clients and users; like current
// Windows clients they have no client type.
func seedsN(n int) []Seed {
	s := make([]Seed, n)
	for i := range s {
		s[i] = Seed{Client: fmt.Sprintf("10.%d.%d.%d", i/62500, i/250%250, i%250+1), User: fmt.Sprintf("user%05d", i),
			Opens: uint32(i % 3), Time: uint32(3600 + i), Idle: uint32(i)}
	}
	return s
}

// loadStats are the latencies of a closed-loop load run.
type loadStats struct {
	p50, p99, max time.Duration
	// meanSpread is the largest per-client mean latency over the
	// smallest; doneSpread the last client's completion time over the
	// first's, both measured from the common start.
	meanSpread, doneSpread float64
	wall                   time.Duration
	calls                  int
	// cpu is the process's user and system time over the run (clients
	// and server together), gcs the collections it ran.
	cpu time.Duration
	gcs uint32
}

func (s loadStats) report(b *testing.B) {
	b.ReportMetric(float64(s.p50), "p50-ns")
	b.ReportMetric(float64(s.p99), "p99-ns")
	b.ReportMetric(float64(s.max), "max-ns")
	b.ReportMetric(s.meanSpread, "client-mean-max/min")
	b.ReportMetric(s.doneSpread, "client-done-max/min")
	b.ReportMetric(float64(s.calls)/s.wall.Seconds(), "calls/s")
	b.ReportMetric(float64(s.cpu)/float64(s.calls)/float64(time.Microsecond), "CPU-µs/call")
	b.ReportMetric(float64(s.gcs)/float64(s.calls), "GCs/call")
}

// runLoad has every client make calls calls with call, all starting at
// once, and returns the latency distribution.
func runLoad(b *testing.B, clients, calls int, call func(client, i int) error) loadStats {
	b.Helper()
	lat := make([][]time.Duration, clients)
	done := make([]time.Duration, clients)
	var wg sync.WaitGroup
	startc := make(chan struct{})
	errc := make(chan error, clients)
	var t0 time.Time
	for c := range clients {
		lat[c] = make([]time.Duration, 0, calls)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startc
			for i := range calls {
				s := time.Now()
				if err := call(c, i); err != nil {
					errc <- fmt.Errorf("client %d call %d: %w", c, i, err)
					return
				}
				lat[c] = append(lat[c], time.Since(s))
			}
			done[c] = time.Since(t0)
		}()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC
	cpu0, _ := readProcTimes(os.Getpid())
	t0 = time.Now()
	close(startc)
	wg.Wait()
	wall := time.Since(t0)
	cpu1, _ := readProcTimes(os.Getpid())
	runtime.ReadMemStats(&ms)
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	var all []time.Duration
	minMean, maxMean := time.Duration(1<<62), time.Duration(0)
	for _, l := range lat {
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		m := sum / time.Duration(len(l))
		minMean, maxMean = min(minMean, m), max(maxMean, m)
		all = append(all, l...)
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return loadStats{
		p50: q(0.50), p99: q(0.99), max: all[len(all)-1],
		meanSpread: float64(maxMean) / float64(minMean),
		doneSpread: float64(slices.Max(done)) / float64(slices.Min(done)),
		wall:       wall, calls: len(all),
		cpu: ticks(cpu1.self - cpu0.self), gcs: ms.NumGC - gc0,
	}
}

// BenchmarkSMBLoad502 is the latency of NetrSessionEnum at level 502 under
// load: NETSESS_LOAD_CLIENTS clients (default 200), each with its own SMB
// connection and logon (this module's client over \PIPE\srvsvc, signed),
// make NETSESS_LOAD_CALLS calls each (default 50) at once against a table
// of 1,000 seeded sessions (plus the clients' own). It reports the p50,
// p99 and largest latency of a call, the spread between clients (largest
// over smallest per-client mean latency, and last over first client to
// finish) and the calls per second. Clients and server share the
// process and the machine's cores. One iteration is one whole run:
//
//	go test -run '^$' -bench SMBLoad502 -benchtime 1x ./server
func BenchmarkSMBLoad502(b *testing.B) {
	clients, calls := envInt("NETSESS_LOAD_CLIENTS", 200), envInt("NETSESS_LOAD_CALLS", 50)
	const seeded = 1000
	r := start(b, Config{SMBAddr: "127.0.0.1:0", Seeds: seedsN(seeded)})
	ctx := context.Background()
	cs := make([]*client.Client, clients)
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(ctx, r.addrs.SMB, client.Options{Transport: client.TransportSMB,
				Credentials: client.Credentials{User: "alice", Password: "AlicePass1"}, Timeout: time.Minute})
			if err != nil {
				errc <- err
				return
			}
			cs[i] = c
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	want := seeded + clients
	var st loadStats
	for b.Loop() {
		st = runLoad(b, clients, calls, func(c, _ int) error {
			res, err := cs[c].EnumAll(ctx, session.Level502, client.Filter{})
			if err != nil {
				return err
			}
			if len(res.Sessions) != want {
				return fmt.Errorf("%d sessions, want %d", len(res.Sessions), want)
			}
			return nil
		})
	}
	b.Logf("%d clients x %d calls: p50 %v p99 %v max %v, per-client mean max/min %.2f, done max/min %.2f, %.0f calls/s, CPU %.0f µs/call, %.3f GCs/call",
		clients, calls, st.p50, st.p99, st.max, st.meanSpread, st.doneSpread, float64(st.calls)/st.wall.Seconds(),
		float64(st.cpu)/float64(st.calls)/float64(time.Microsecond), float64(st.gcs)/float64(st.calls))
	st.report(b)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
