package scan_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// Each test package keeps to its own part of the fleets' block.
func base(third byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 1, third, 1}) }

func startFleet(t testing.TB, cfg fleet.Config) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func scanCred() client.Credentials {
	return client.Credentials{User: fleet.Domain + `\` + fleet.ScanUser, Password: fleet.ScanPassword}
}

func targetsOf(t testing.TB, f *fleet.Fleet) []scan.Target {
	t.Helper()
	ts, err := scan.ParseTargets(f.Targets(), scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func runScan(t testing.TB, ctx context.Context, cfg scan.Config, ts []scan.Target) ([]*scan.Result, scan.Summary, error) {
	t.Helper()
	s, err := scan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []*scan.Result
	sum, err := s.Run(ctx, scan.SliceSource(ts), func(r *scan.Result) { out = append(out, r) })
	return out, sum, err
}

// sessionKeys renders sessions for comparison, leaving out the scanner's
// own session.
func sessionKeys(ss []client.Session) []string {
	var out []string
	for _, s := range ss {
		if s.UserName == fleet.ScanUser {
			continue
		}
		out = append(out, fmt.Sprintf("%s|%s|%d", s.ClientHost(), s.UserName, s.NumOpens))
	}
	sort.Strings(out)
	return out
}

func truthKeys(ss []fleet.Session, level session.Level) []string {
	var out []string
	for _, s := range ss {
		opens := s.Opens
		if !level.Fields().Has(session.FieldNumOpens) {
			opens = 0
		}
		out = append(out, fmt.Sprintf("%s|%s|%d", s.Client, s.User, opens))
	}
	sort.Strings(out)
	return out
}

// TestScanFleetBehaviours scans a fleet with every behaviour (three hosts
// of each): every host yields exactly the reason, level and refusals its
// behaviour implies, and the sessions collected are the ground truth.
func TestScanFleetBehaviours(t *testing.T) {
	var bs []fleet.Behavior
	for _, b := range fleet.Behaviors() {
		bs = append(bs, b, b, b)
	}
	f := startFleet(t, fleet.Config{Hosts: len(bs), Behaviors: bs, Base: base(10), Seed: 1, SlowDelay: 20 * time.Millisecond})
	truth := f.Truth()
	ctx := context.Background()
	const deadline = 3 * time.Second
	res, sum, err := runScan(t, ctx, scan.Config{
		Client:      client.Options{Credentials: scanCred()},
		Level:       scan.AutoLevel,
		Concurrency: 8,
		HostTimeout: deadline,
	}, targetsOf(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(bs) || sum.Hosts != len(bs) {
		t.Fatalf("%d results, summary %d, want %d", len(res), sum.Hosts, len(bs))
	}
	byTarget := map[string]*scan.Result{}
	for _, r := range res {
		byTarget[r.Target] = r
	}
	nonEmpty := 0
	for _, th := range truth.Hosts {
		r := byTarget[th.Target]
		if r == nil {
			t.Fatalf("%s (%s): no result", th.Target, th.Behavior)
		}
		exp := fleet.Expect(th.Behavior)
		if r.Collected != exp.Collected || r.Failure.Reason != exp.Reason {
			t.Errorf("%s (%s): collected %v reason %q (%s), want %v %q", th.Target, th.Behavior, r.Collected, r.Failure.Reason, r.Failure.Detail, exp.Collected, exp.Reason)
			continue
		}
		if r.HasLevel != exp.HasLevel || (exp.HasLevel && r.Level != exp.Level) {
			t.Errorf("%s (%s): level %v/%d, want %v/%d", th.Target, th.Behavior, r.HasLevel, r.Level, exp.HasLevel, exp.Level)
		}
		if !slices.Equal(r.LevelsRefused, exp.LevelsRefused) {
			t.Errorf("%s (%s): levels refused %v, want %v", th.Target, th.Behavior, r.LevelsRefused, exp.LevelsRefused)
		}
		if r.Address != th.Address || r.Port != truth.Port || r.Transport != "smb" || r.ObservedAt.IsZero() {
			t.Errorf("%s: address %q port %d transport %q observed %v", th.Target, r.Address, r.Port, r.Transport, r.ObservedAt)
		}
		if th.Behavior == fleet.Hang && (r.Duration < deadline || r.Duration > deadline+time.Second) {
			t.Errorf("%s (hang): took %v, want one deadline (%v)", th.Target, r.Duration, deadline)
		}
		if !exp.Collected {
			if len(r.Sessions) != 0 {
				t.Errorf("%s (%s): %d sessions on a failure", th.Target, th.Behavior, len(r.Sessions))
			}
			continue
		}
		if got, want := sessionKeys(r.Sessions), truthKeys(th.Sessions, r.Level); !slices.Equal(got, want) {
			t.Errorf("%s (%s): sessions\n got %q\nwant %q", th.Target, th.Behavior, got, want)
		}
		if len(th.Sessions) > 0 {
			nonEmpty++
		}
		// Ages restored: each session at least as old and idle as the
		// truth says, and no older than the time since.
		since := uint32(time.Since(truth.Started)/time.Second) + 1
		for _, s := range r.Sessions {
			if s.UserName == fleet.ScanUser || !r.Level.Fields().Has(session.FieldTime) {
				continue
			}
			i := slices.IndexFunc(th.Sessions, func(x fleet.Session) bool { return x.Client == s.ClientHost() && x.User == s.UserName })
			ts := th.Sessions[i]
			if s.Time < ts.Time || s.Time > ts.Time+since || s.IdleTime < ts.Idle || s.IdleTime > ts.Idle+since {
				t.Errorf("%s: session %s/%s time %d idle %d, truth %d %d", th.Target, s.ClientName, s.UserName, s.Time, s.IdleTime, ts.Time, ts.Idle)
			}
		}
	}
	if nonEmpty == 0 {
		t.Error("no answering host held sessions: the comparison proved nothing")
	}
}
