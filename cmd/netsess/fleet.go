package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/internal/cli"
)

const fleetHelp = `Serves a simulated fleet of SMB2/3 servers in one process, to try "netsess
scan" (or another scanner) on: --hosts servers, each on its own loopback
address (127.1.0.1, 127.1.0.2, ... from --base), all on one port, each with
\PIPE\srvsvc and its own table of plausible sessions (users shared across
servers, administrators, service and machine accounts, IPv4 and IPv6
clients).

--mix sets the share of each behaviour, as name=weight pairs: normal
(answers every level), denied (refuses non-administrators, as Windows
Server 2019 and later), samba (levels 0 and 1 only), close (accepts and
closes), hang (accepts and never answers), refuse (nothing listens), slow
(answers after --slow). Every behaviour with a weight gets at least one
host when --hosts allows.

Every server knows two accounts: FLEET\scanner (password ScanPass1), a
plain user, which denied servers refuse, and FLEET\fleetadmin
(AdminPass1), an administrator everywhere.

The targets are printed on stdout, one ADDR:PORT a line after '#' comment
lines (notes, accounts): the output is itself a targets file.
--targets-out writes the targets to a file and --truth the ground truth as
JSON (each host's behaviour, what a scan as FLEET\scanner at level auto
yields, and its sessions), both once every host listens. The fleet serves
until Ctrl-C (SIGINT or SIGTERM), then stops every server.

--port 0 (the default) uses port 445 when run as root and it is free, which
tools that cannot change port need; otherwise a free port, and a note says
so. The soft limit on open files is raised to the hard one; a fleet that
cannot fit it is refused before it listens.`

func fleetCommand() *cli.Command {
	return &cli.Command{
		Name:    "fleet",
		Summary: "serve a simulated fleet of SMB2/3 servers on loopback, to scan",
		Help:    fleetHelp,
		Examples: []string{
			"netsess fleet --hosts 50 --targets-out t.txt --truth truth.json",
			"netsess fleet --hosts 1000 --mix normal=90,denied=5,samba=3,hang=1,refuse=1 --seed 7",
			"netsess fleet --hosts 8 --mix slow --slow 2s --port 4445",
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "stopped after an interrupt (SIGINT or SIGTERM)"},
			{Code: 1, Meaning: "usage error (bad flag or value)"},
			{Code: 5, Meaning: "could not start (not enough file descriptors, an address or port in use) or write --truth or --targets-out"},
		},
		Define: defineFleet,
	}
}

func defineFleet(fs *cli.FlagSet) cli.Action {
	hosts := fs.Int("hosts", 20, "number of servers (1 to 65534)")
	mix := fs.String("mix", fleet.DefaultMix().String(), "behaviours and their weights, as `MIX` normal=90,denied=4,hang=1 (a bare name weighs 1)")
	seed := fs.Uint32("seed", 1, "the same seed gives the same fleet")
	sessions := fs.Int("sessions", fleet.DefaultMaxSessions, "the most sessions a server holds besides its callers' (each holds 0 to N)")
	base := fs.String("base", fleet.DefaultBase.String(), "the first host's `ADDRESS` in 127.0.0.0/8; host i is ADDRESS+i")
	port := fs.Int("port", 0, "the port every host listens on (0: 445 when root and free, otherwise a free port)")
	slow := fs.Duration("slow", fleet.DefaultSlowDelay, "how long a slow server waits before each answer")
	truth := fs.File("truth", "", "write the ground truth as JSON to `FILE`")
	targetsOut := fs.File("targets-out", "", "write the targets, one a line, to `FILE`")
	return func(ctx context.Context, inv *cli.Invocation) int {
		switch {
		case *hosts < 1 || *hosts > fleet.MaxHosts:
			return inv.Usagef("--hosts: 1 to %d, not %d", fleet.MaxHosts, *hosts)
		case *sessions < 0:
			return inv.Usagef("--sessions: not negative")
		case *port < 0 || *port > 65535:
			return inv.Usagef("--port: 0 to 65535, not %d", *port)
		case *slow <= 0:
			return inv.Usagef("--slow: a positive duration")
		}
		m, err := fleet.ParseMix(*mix)
		if err != nil {
			return inv.Usagef("--mix: %s", userText(err))
		}
		b, err := netip.ParseAddr(*base)
		if err != nil || !b.Is4() || b.As4()[0] != 127 {
			return inv.Usagef("--base: want an IPv4 address in 127.0.0.0/8, not %q", *base)
		}
		cfg := fleet.Config{
			Hosts: *hosts, Mix: m, Seed: uint64(*seed), MaxSessions: *sessions, Base: b,
			Port: *port, TryStandardPort: *port == 0, SlowDelay: *slow,
		}
		if *sessions == 0 {
			cfg.MaxSessions = -1
		}
		f, err := fleet.Start(ctx, cfg)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "netsess fleet: %s\n", userText(err))
			return exitInternal
		}
		defer f.Close()
		if *truth != "" {
			if err := writeFileAtomic(*truth, f.WriteTruth); err != nil {
				fmt.Fprintf(inv.Stderr, "netsess fleet: --truth: %v\n", err)
				return exitInternal
			}
		}
		if *targetsOut != "" {
			err := writeFileAtomic(*targetsOut, func(w io.Writer) error {
				_, err := io.WriteString(w, strings.Join(f.Targets(), "\n")+"\n")
				return err
			})
			if err != nil {
				fmt.Fprintf(inv.Stderr, "netsess fleet: --targets-out: %v\n", err)
				return exitInternal
			}
		}
		writeFleetTargets(inv.Stdout, f)
		<-ctx.Done()
		f.Close()
		fmt.Fprintln(inv.Stderr, "netsess fleet: stopped")
		return exitOK
	}
}

// writeFleetTargets prints the fleet's targets after comment lines that
// describe it: the output is a targets file.
func writeFleetTargets(w io.Writer, f *fleet.Fleet) {
	count := f.Count()
	var mix []string
	for _, b := range fleet.Behaviors() {
		if n := count[b]; n > 0 {
			mix = append(mix, fmt.Sprintf("%s %d", b, n))
		}
	}
	fmt.Fprintf(w, "# netsess fleet: %d hosts on port %d (%s)\n", len(f.Hosts), f.Port, strings.Join(mix, ", "))
	for _, n := range f.Notes {
		fmt.Fprintf(w, "# note: %s\n", n)
	}
	fmt.Fprintf(w, "# scan as %s\\%s, password %s (administrator: %s\\%s, %s):\n", fleet.Domain, fleet.ScanUser, fleet.ScanPassword, fleet.Domain, fleet.AdminUser, fleet.AdminPassword)
	fmt.Fprintf(w, "#   netsess scan --targets FILE -U '%s\\%s%%%s'\n", fleet.Domain, fleet.ScanUser, fleet.ScanPassword)
	fmt.Fprintln(w, "# serving until Ctrl-C")
	for _, t := range f.Targets() {
		fmt.Fprintln(w, t)
	}
}

// writeFileAtomic writes a file through a temporary file in the same
// directory and a rename, so that a reader waiting for it never sees it
// half written.
func writeFileAtomic(name string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
