package scan_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// Canceling the scan mid-run stops starting targets, interrupts the ones
// in progress and still delivers every result: the collected ones with
// their sessions, the others as canceled, one per target.
func TestScanCancelFlushes(t *testing.T) {
	bs := make([]fleet.Behavior, 40)
	for i := range bs {
		bs[i] = fleet.Normal
		if i%4 == 3 {
			bs[i] = fleet.Hang
		}
	}
	f := startFleet(t, fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(20), Seed: 2})
	s, err := scan.New(scan.Config{
		Client:      client.Options{Credentials: scanCred()},
		Level:       scan.AutoLevel,
		Concurrency: 4,
		HostTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []*scan.Result
	collected := 0
	start := time.Now()
	sum, err := s.Run(ctx, scan.SliceSource(targetsOf(t, f)), func(r *scan.Result) {
		got = append(got, r)
		if r.Collected {
			collected++
			if collected == 3 {
				cancel()
			}
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the scan took %v after the cancel: hung hosts were not interrupted", took)
	}
	if len(got) == len(bs) || sum.Hosts != len(got) || sum.Unstarted != len(bs)-len(got) {
		t.Fatalf("%d results, summary %+v, for %d targets: the cancel did not stop the scan", len(got), sum, len(bs))
	}
	canceled := 0
	for _, r := range got {
		switch {
		case r.Collected:
			if len(r.Sessions) == 0 {
				t.Errorf("%s: collected without its own session", r.Target)
			}
		case r.Failure.Reason == client.ReasonCanceled:
			canceled++
		default:
			t.Errorf("%s: %s (%s)", r.Target, r.Failure.Reason, r.Failure.Detail)
		}
	}
	if collected < 3 || canceled == 0 || sum.Collected != collected || sum.ByReason[client.ReasonCanceled] != canceled {
		t.Errorf("collected %d canceled %d, summary %+v", collected, canceled, sum)
	}
}

// A target whose server never answers costs one host deadline, and the
// others are served meanwhile: with one worker per hung host plus one,
// the normal hosts are all done before the hung ones time out.
func TestScanHungHostsDoNotStall(t *testing.T) {
	bs := []fleet.Behavior{fleet.Hang, fleet.Hang, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal, fleet.Normal}
	f := startFleet(t, fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(21)})
	const deadline = 2 * time.Second
	var order []string
	res, _, err := runScan(t, context.Background(), scan.Config{
		Client:      client.Options{Credentials: scanCred()},
		Level:       session.Level10,
		Concurrency: 3,
		HostTimeout: deadline,
	}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		order = append(order, string(r.Failure.Reason))
		if r.Failure.Reason == client.ReasonTimeout && (r.Duration < deadline || r.Duration > deadline+2*time.Second) {
			t.Errorf("%s: timed out after %v, want one deadline of %v", r.Target, r.Duration, deadline)
		}
	}
	want := []string{"", "", "", "", "", "", "timeout", "timeout"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("results in order %q, want the six collected before the two timeouts", order)
	}
}

// With a pre-check, a closed port is port_closed without a session
// attempt, and an open port's connection is the one the session uses
// (one dial per host).
func TestScanPreCheck(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 3, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Refuse, fleet.Samba}, Base: base(22)})
	var dials atomic.Int32
	var d net.Dialer
	res, _, err := runScan(t, context.Background(), scan.Config{
		Client:   client.Options{Credentials: scanCred()},
		Level:    scan.AutoLevel,
		PreCheck: time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]client.Reason{}
	for _, r := range res {
		reasons[r.Address] = r.Failure.Reason
	}
	if reasons["127.1.22.1"] != "" || reasons["127.1.22.2"] != client.ReasonPortClosed || reasons["127.1.22.3"] != "" {
		t.Errorf("reasons %v", reasons)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials for 3 hosts, want 3 (the pre-check's connection reused)", n)
	}
}

// Names are looked up within the deadline; one that does not resolve is
// name_not_resolved, and a resolved one is reported with its address.
func TestScanNames(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 1, Behaviors: []fleet.Behavior{fleet.Normal}, Base: base(23)})
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "fs1.fleet.test" {
			return []netip.Addr{netip.MustParseAddr("::1"), f.Hosts[0].Addr}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	ts, err := scan.ParseTargets([]string{"fs1.fleet.test:" + strconv.Itoa(f.Port), "nowhere.fleet.test"}, scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := runScan(t, context.Background(), scan.Config{Client: client.Options{Credentials: scanCred()}, Level: session.Level1, Lookup: lookup}, ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		switch r.Target {
		case ts[0].Input:
			if !r.Collected || r.Address != f.Hosts[0].Addr.String() {
				t.Errorf("%s: %+v", r.Target, r)
			}
		default:
			if r.Failure.Reason != client.ReasonNameNotResolved || r.Address != "" {
				t.Errorf("%s: %s %q", r.Target, r.Failure.Reason, r.Address)
			}
		}
	}
}

// The rate limit spaces the starts: ten hosts at 20 per second take at
// least 9/20 s (a lower bound, which load cannot break).
func TestScanRate(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 10, Mix: fleet.Mix{{Behavior: fleet.Refuse, Weight: 1}}, Base: base(24)})
	start := time.Now()
	res, _, err := runScan(t, context.Background(), scan.Config{Rate: 20, Concurrency: 10}, targetsOf(t, f))
	if err != nil || len(res) != 10 {
		t.Fatalf("%d results, %v", len(res), err)
	}
	if took := time.Since(start); took < 440*time.Millisecond {
		t.Errorf("10 hosts at 20/s took %v", took)
	}
}

// Jitter is drawn at nanosecond resolution: a 2 ms jitter delays starts
// by different amounts up to 2 ms (integer-millisecond arithmetic would
// give only 0, 1 or 2 ms, or none at all).
func TestScanJitterSmall(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 30, Mix: fleet.Mix{{Behavior: fleet.Refuse, Weight: 1}}, Base: base(25)})
	var mu sync.Mutex
	var starts []time.Duration
	begin := time.Now()
	_, _, err := runScan(t, context.Background(), scan.Config{
		Jitter:      2 * time.Millisecond,
		Concurrency: 30,
		Rand:        rand.New(rand.NewPCG(1, 2)),
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			starts = append(starts, time.Since(begin))
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[time.Duration]bool{}
	for _, s := range starts {
		distinct[s/(100*time.Microsecond)] = true
	}
	if len(starts) != 30 || len(distinct) < 5 {
		t.Errorf("%d starts in %d distinct 100µs slots: %v", len(starts), len(distinct), starts)
	}
}

// Progress is reported while the scan runs and once at the end, with the
// counts of the results delivered.
func TestScanProgress(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 6, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Denied, fleet.Samba, fleet.Refuse, fleet.Close, fleet.Normal}, Base: base(26)})
	var ps []scan.Progress
	_, sum, err := runScan(t, context.Background(), scan.Config{
		Client:           client.Options{Credentials: scanCred()},
		Level:            scan.AutoLevel,
		OnProgress:       func(p scan.Progress) { ps = append(ps, p) },
		ProgressInterval: time.Millisecond,
	}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	last := ps[len(ps)-1]
	if last.Done != 6 || last.Total != 6 || last.Collected != 3 || last.Failed != 3 || last.Sessions != sum.Sessions {
		t.Errorf("last progress %+v, summary %+v", last, sum)
	}
	if eta, ok := last.ETA(); !ok || eta != 0 {
		t.Errorf("ETA at the end: %v %v", eta, ok)
	}
	line := scan.ProgressLine(last)
	if !strings.HasPrefix(line, "6/6 hosts (100.0%), 3 collected, 3 failed") {
		t.Errorf("progress line %q", line)
	}
	if l := scan.ProgressLine(scan.Progress{Done: 5, Total: -1, Elapsed: time.Second}); strings.Contains(l, "ETA") || !strings.HasPrefix(l, "5 hosts,") {
		t.Errorf("stream progress line %q", l)
	}
	var b bytes.Buffer
	sum.WriteTo(&b)
	if !strings.Contains(b.String(), "scanned 6 hosts") || !strings.Contains(b.String(), "port_closed 1, unreachable 1, access_denied 1") {
		t.Errorf("summary:\n%s", b.String())
	}
}

// The writers: every JSON line decodes, per host and per session; CSV
// rows have the header's width; a host without sessions still has a line.
func TestScanWriters(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 3, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Denied, fleet.Samba}, Base: base(27), Seed: 3, MaxSessions: 4})
	res, _, err := runScan(t, context.Background(), scan.Config{Client: client.Options{Credentials: scanCred()}, Level: scan.AutoLevel}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	scan.SortByTarget(res)
	var hosts, perSession, csvOut, text bytes.Buffer
	jh, js, cw, tw := scan.NewJSONLines(&hosts, false), scan.NewJSONLines(&perSession, true), scan.NewCSV(&csvOut), scan.NewText(&text, false)
	sessions := 0
	for _, r := range res {
		sessions += len(r.Sessions)
		for _, w := range []scan.Writer{jh, js, cw, tw} {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, w := range []scan.Writer{jh, js, cw, tw} {
		w.Flush()
	}
	lines := strings.Split(strings.TrimSpace(hosts.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d host lines", len(lines))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if m["target"] != res[i].Target || m["collected"] != res[i].Collected || int(m["session_count"].(float64)) != len(res[i].Sessions) {
			t.Errorf("line %d: %s", i, l)
		}
		if _, err := time.Parse(time.RFC3339, m["observed_at"].(string)); err != nil {
			t.Errorf("observed_at: %v", err)
		}
	}
	if !strings.Contains(lines[1], `"reason":"access_denied","status":5,"status_name":"ERROR_ACCESS_DENIED"`) {
		t.Errorf("denied host: %s", lines[1])
	}
	plines := strings.Split(strings.TrimSpace(perSession.String()), "\n")
	if len(plines) != sessions+1 { // the denied host has one line of its own
		t.Errorf("%d per-session lines for %d sessions", len(plines), sessions)
	}
	for _, l := range plines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if _, ok := m["sessions"]; ok {
			t.Errorf("per-session line with sessions: %s", l)
		}
		for _, k := range []string{`"transport":`, `"target":`} {
			if strings.Count(l, k) != 1 {
				t.Errorf("key %s not exactly once: %s", k, l)
			}
		}
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != sessions+2 || len(rows[0]) != len(scan.CSVColumns()) {
		t.Errorf("%d CSV rows (%d columns) for %d sessions", len(rows), len(rows[0]), sessions)
	}
	if !strings.Contains(text.String(), "access_denied") || !strings.Contains(text.String(), "level 1 (refused 502:ERROR_INVALID_LEVEL 10:ERROR_INVALID_LEVEL)") {
		t.Errorf("text:\n%s", text.String())
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []scan.Config{{Concurrency: -1}, {HostTimeout: -1}, {Rate: -1}, {Jitter: -1}, {Level: 3}, {Client: client.Options{Transport: "udp"}}} {
		if _, err := scan.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// After a cancel, Grace lets the targets in progress finish; without it
// they are interrupted and reported as canceled.
func TestScanGrace(t *testing.T) {
	bs := []fleet.Behavior{fleet.Slow, fleet.Slow, fleet.Slow}
	f := startFleet(t, fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(28), SlowDelay: 40 * time.Millisecond})
	for _, grace := range []time.Duration{0, time.Minute} {
		s, err := scan.New(scan.Config{Client: client.Options{Credentials: scanCred()}, Level: session.Level1, Grace: grace})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		var got []client.Reason
		_, err = s.Run(ctx, scan.SliceSource(targetsOf(t, f)), func(r *scan.Result) { got = append(got, r.Failure.Reason) })
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("grace %v: %v", grace, err)
		}
		want := client.ReasonCanceled
		if grace > 0 {
			want = ""
		}
		if len(got) != 3 || got[0] != want || got[1] != want || got[2] != want {
			t.Errorf("grace %v: reasons %q, want three %q", grace, got, want)
		}
	}
}

// A stream source: results come as lines arrive; a bad line ends the
// scan with its error after the targets before it; and a cancel while the
// source waits for input returns at once.
func TestScanStream(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 3, Behaviors: []fleet.Behavior{fleet.Normal, fleet.Normal, fleet.Normal}, Base: base(29)})
	s, err := scan.New(scan.Config{Client: client.Options{Credentials: scanCred()}, Level: session.Level10})
	if err != nil {
		t.Fatal(err)
	}
	in := f.Hosts[0].Target + "\n" + f.Hosts[1].Target + "\nnot a target\n" + f.Hosts[2].Target + "\n"
	n := 0
	sum, err := s.Run(context.Background(), scan.NewStreamSource(strings.NewReader(in), scan.ParseOptions{}), func(r *scan.Result) { n++ })
	var te *scan.TargetError
	if !errors.As(err, &te) || te.Line != 3 || n != 2 || sum.Unstarted != 0 {
		t.Errorf("bad line: %v, %d results, %+v", err, n, sum)
	}

	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go io.WriteString(pw, f.Hosts[0].Target+"\n")
	done := make(chan error, 1)
	var got []*scan.Result
	go func() {
		_, err := s.Run(ctx, scan.NewStreamSource(pr, scan.ParseOptions{}), func(r *scan.Result) {
			got = append(got, r)
			cancel() // the source now waits for a line that never comes
		})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || len(got) != 1 || !got[0].Collected {
			t.Errorf("%v, %d results", err, len(got))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the cancel while the stream waited")
	}
}

// What a scan holds is bounded by its concurrency, not by its targets:
// scanning 500 targets with 4 workers never runs more than a handful of
// goroutines beyond the four, whatever the emit callback's pace.
func TestScanBoundedByConcurrency(t *testing.T) {
	f := startFleet(t, fleet.Config{Hosts: 500, Mix: fleet.Mix{{Behavior: fleet.Refuse, Weight: 1}}, Base: base(30)})
	before := runtime.NumGoroutine()
	most := 0
	s, _ := scan.New(scan.Config{Concurrency: 4})
	n := 0
	_, err := s.Run(context.Background(), scan.SliceSource(targetsOf(t, f)), func(r *scan.Result) {
		n++
		most = max(most, runtime.NumGoroutine())
		if n%50 == 0 {
			time.Sleep(5 * time.Millisecond) // a slow consumer now and then
		}
	})
	if err != nil || n != 500 {
		t.Fatalf("%d results, %v", n, err)
	}
	// Four workers, the producer, the closer, and the runtime's own.
	if most-before > 4+2+4 {
		t.Errorf("%d goroutines at most during the scan, %d before", most, before)
	}
}

// Machine accounts are left out on request, on every host.
func TestScanNoMachineAccounts(t *testing.T) {
	bs := []fleet.Behavior{fleet.Normal, fleet.Samba, fleet.Normal, fleet.Samba}
	f := startFleet(t, fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(33), Seed: 6, MaxSessions: 16})
	machines := 0
	for _, h := range f.Hosts {
		for _, s := range h.Sessions {
			if strings.HasSuffix(s.User, "$") {
				machines++
			}
		}
	}
	if machines == 0 {
		t.Fatal("the fleet holds no machine account sessions: nothing to prove")
	}
	res, sum, err := runScan(t, context.Background(), scan.Config{
		Client: client.Options{Credentials: scanCred()},
		Level:  scan.AutoLevel,
		Filter: client.Filter{NoMachineAccounts: true},
	}, targetsOf(t, f))
	if err != nil || sum.Collected != len(bs) {
		t.Fatalf("%+v %v", sum, err)
	}
	total := 0
	for _, h := range f.Hosts {
		total += len(h.Sessions) + 1 // the scanner's own
	}
	if sum.Sessions != total-machines {
		t.Errorf("%d sessions, want %d (%d machine accounts left out)", sum.Sessions, total-machines, machines)
	}
	for _, r := range res {
		for _, s := range r.Sessions {
			if strings.HasSuffix(s.UserName, "$") {
				t.Errorf("%s: machine account %s", r.Target, s.UserName)
			}
		}
	}
}

// Filters apply per host as "netsess list" applies them: only the user's
// sessions come back, from servers that honour the qualifier and from
// those that ignore it (Samba), and a host where nothing matches is
// collected with no sessions, not failed.
func TestScanFilter(t *testing.T) {
	bs := []fleet.Behavior{fleet.Normal, fleet.Samba, fleet.Normal, fleet.Samba, fleet.Normal, fleet.Samba}
	f := startFleet(t, fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(31), Seed: 4, MaxSessions: 12})
	user := f.Hosts[0].Sessions[0].User
	res, _, err := runScan(t, context.Background(), scan.Config{
		Client: client.Options{Credentials: scanCred()},
		Level:  scan.AutoLevel,
		Filter: client.Filter{User: `SOMEDOM\` + strings.ToUpper(user)},
	}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Collected {
			t.Fatalf("%s: %s %s", r.Target, r.Failure.Reason, r.Failure.Detail)
		}
		want := 0
		for _, h := range f.Hosts {
			if h.Target == r.Target {
				for _, s := range h.Sessions {
					if s.User == user {
						want++
					}
				}
			}
		}
		if len(r.Sessions) != want {
			t.Errorf("%s: %d sessions of %s, want %d", r.Target, len(r.Sessions), user, want)
		}
		for _, s := range r.Sessions {
			if s.UserName != user {
				t.Errorf("%s: session of %s", r.Target, s.UserName)
			}
		}
	}
}
