package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/scan"
)

// demoFleetBase is where demo --fleet puts its servers, away from the
// default block of "netsess fleet" so that the two can run side by side.
var demoFleetBase = netip.AddrFrom4([4]byte{127, 1, 254, 1})

// demoFleetTimeout is the host deadline of demo --fleet: what the server
// that never answers costs.
const demoFleetTimeout = 2 * time.Second

// runDemoFleet serves a fleet with one server of every behaviour, scans
// it as "netsess scan" would, and prints the scan as its text table.
func runDemoFleet(ctx context.Context, inv *cli.Invocation) int {
	for _, f := range inv.Flags.Flags() {
		if f.Name != "fleet" && inv.Flags.Count(f.Name) > 0 {
			return inv.Usagef("--fleet takes no other flag (--%s)", f.Name)
		}
	}
	behaviors := fleet.Behaviors()
	f, err := fleet.Start(ctx, fleet.Config{
		Hosts: len(behaviors), Behaviors: behaviors, Seed: 1, MaxSessions: 4,
		Base: demoFleetBase, SlowDelay: 50 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintf(inv.Stderr, "netsess demo: %s\n", userText(err))
		return exitInternal
	}
	defer f.Close()
	fmt.Fprintf(inv.Stdout, "Serving a simulated fleet of %d SMB2/3 servers on loopback port %d, one of each behaviour:\n", len(f.Hosts), f.Port)
	behaviorOf := map[string]fleet.Behavior{}
	for _, h := range f.Hosts {
		behaviorOf[h.Target] = h.Behavior
		fmt.Fprintf(inv.Stdout, "  %-22s %s\n", h.Target, h.Behavior)
	}
	fmt.Fprintf(inv.Stdout, "Scanning it as %s\\%s at level auto, %v per host (\"netsess fleet\" serves such a fleet until Ctrl-C):\n\n",
		fleet.Domain, fleet.ScanUser, demoFleetTimeout)
	ts, err := scan.ParseTargets(f.Targets(), scan.ParseOptions{})
	if err != nil {
		fmt.Fprintf(inv.Stderr, "netsess demo: %s\n", userText(err))
		return exitInternal
	}
	sc, err := scan.New(scan.Config{
		Client: client.Options{Credentials: client.Credentials{
			Domain: fleet.Domain, User: fleet.ScanUser, Password: fleet.ScanPassword}},
		Level:       scan.AutoLevel,
		HostTimeout: demoFleetTimeout,
	})
	if err != nil {
		fmt.Fprintf(inv.Stderr, "netsess demo: %s\n", userText(err))
		return exitInternal
	}
	var results []*scan.Result
	sum, err := sc.Run(ctx, scan.SliceSource(ts), func(r *scan.Result) { results = append(results, r) })
	scan.SortByTarget(results)
	w := scan.NewText(inv.Stdout, false)
	for _, r := range results {
		w.Write(r)
	}
	fmt.Fprintln(inv.Stdout)
	sum.WriteTo(inv.Stdout)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "netsess demo: %s\n", userText(err))
		return exitInterrupted
	}
	// Every host must have yielded what its behaviour promises.
	code := exitOK
	for _, r := range results {
		want := fleet.Expect(behaviorOf[r.Target])
		if r.Collected != want.Collected || r.Reason() != want.Reason ||
			(want.HasLevel && r.Level != want.Level) || !slices.Equal(r.LevelsRefused, want.LevelsRefused) {
			fmt.Fprintf(inv.Stderr, "netsess demo: %s (%s) yielded %q, expected %q\n", r.Target, behaviorOf[r.Target], r.Reason(), want.Reason)
			code = exitInternal
		}
	}
	return code
}
