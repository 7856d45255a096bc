package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// exitIncomplete is scan's exit code when some hosts were not collected:
// the run itself went to its end and its output is complete.
const exitIncomplete = 7

// progressEvery is how often a progress line is written when stderr is
// not a terminal (a log is read later, not watched).
const progressEvery = 10 * time.Second

const scanHelp = `Lists the sessions of many servers at once: the NetSessionEnum of "netsess
list" for every target, a bounded number at a time, with one result per
host, always, never a silent empty list.

Targets are the arguments, the lines of --targets FILE (one per line, '#'
starts a comment), or, with the single argument -, standard input, read as
the scan goes: HOST, an IPv4 or IPv6 address, HOST:PORT, [IPV6]:PORT, or a
CIDR range of either family (at most --max-range addresses; an IPv4 range
leaves out its network and broadcast addresses). Duplicates are scanned
once. Arguments and --targets may be combined; - may not, since the total
of a stream is not known (its progress shows counts and a rate, no ETA).

Every host gets one logon, one bind and the whole enumeration, paged to the
end, within one deadline (--timeout) that covers the name lookup, connect,
negotiate, logon, bind and every page: a host that does not answer costs
that deadline and no more. --precheck first tries the port with a short
connect of its own, so a closed or silent port costs that much instead.
--rate and --burst limit how many hosts start per second, --jitter delays
each start by a random amount up to DURATION.

Each result says whether the host was collected and otherwise why not, in
one closed set of reasons (the same as the error objects of "netsess list
--json"): name_not_resolved, port_closed, unreachable, timeout,
logon_failure, guest_refused, access_denied, invalid_level, not_supported,
status (another status; see status and status_name), rpc_fault,
protocol_error, canceled. A timeout is never reported as a success.

Output: a table per host by default (server text escaped, as in "netsess
list"); --json prints one JSON object per host per line as each host
finishes, with the keys target, range, address, port, transport,
observed_at (RFC 3339), duration_ms, collected, level, levels_refused,
reason, status, status_name, fault, fault_name, detail, session_count and
sessions (the session keys of "netsess list --json"); --per-session prints
one line per session instead (a host without sessions still gets a line).
--csv has one row per session (a host without sessions: one row), with the
same formula neutralisation as "netsess list --csv" (--csv-raw: as sent).

On stderr: a progress line while the scan runs (redrawn in place on a
terminal: done/total, rate, ETA, failures so far; otherwise a plain line
every 10s), and a summary at the end: hosts by outcome, sessions, elapsed,
hosts/s. --quiet prints neither the progress nor the summary.

Ctrl-C stops starting hosts; the ones in progress may finish within
--grace, then are interrupted and reported as canceled; every result
obtained is written, then the summary, and the exit code is 130.

` + scanDirectoryHelp + scanCredentialsHelp

func scanCommand(env envFunc) *cli.Command {
	return &cli.Command{
		Name:    "scan",
		Summary: "list the sessions of many servers at once (targets, ranges, files, stdin)",
		Args:    "[TARGET...] [-]",
		MaxArgs: -1,
		Help:    scanHelp,
		Examples: []string{
			`netsess scan --targets hosts.txt -U 'CORP\auditor' --json > sessions.jsonl`,
			`netsess scan 10.0.0.0/24 fs1 fs2:4445 -U 'CORP\auditor' --level 10 --user alice`,
			`cat hosts.txt | netsess scan - -U 'CORP\auditor' --csv > sessions.csv`,
			`netsess scan --targets t.txt -U 'FLEET\scanner%ScanPass1' --concurrency 256 --timeout 5s --precheck 1s`,
			`netsess scan --ldap dc1.corp.example -U 'CORP\auditor' --active-days 30 --exclude-dcs --bloodhound out/`,
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "every host was collected"},
			{Code: 1, Meaning: "usage error (bad flag or value, no target, a target that cannot be parsed, an unreadable --targets file), or the output could not be written"},
			{Code: exitIncomplete, Meaning: "some hosts were not collected (each has its reason in the output, which is complete)"},
			{Code: exitDirectory, Meaning: "--ldap: the directory could not be asked (DC unreachable, TLS or bind refused, search failed); nothing was scanned"},
			{Code: 130, Meaning: "interrupted (Ctrl-C); every result obtained is written, then the summary"},
		},
		Define: func(fs *cli.FlagSet) cli.Action { return defineScan(fs, env) },
	}
}

// scanFlags are scan's own flags beside the shared connection and
// credential flags.
type scanFlags struct {
	cf                  connFlags
	targetsFile         *string
	maxRange            *int
	level, client, user *string
	noMachine           *bool
	concurrency, burst  *int
	precheck, jitter    *time.Duration
	grace               *time.Duration
	rate                *float64
	perSession, quiet   *bool
	ld                  ldapFlags
	fs                  *cli.FlagSet
}

func defineScan(fs *cli.FlagSet, env envFunc) cli.Action {
	f := scanFlags{fs: fs}
	f.registerEngine(fs, true)
	f.cf.registerOutputAs(fs, true, "JSON Lines: one object per host, with its sessions, as each host finishes")
	f.perSession = fs.Bool("per-session", "with --json, one line per session instead of one per host (a host without sessions still gets a line)")
	f.quiet = fs.Bool("quiet,q", "no progress and no summary on stderr")
	return func(ctx context.Context, inv *cli.Invocation) int {
		return runScan(ctx, inv, &f, env(inv.Stderr))
	}
}

// registerEngine defines the flags scan and watch share: targets (with
// directory, scan's --ldap flags too), connection, credentials and query.
func (f *scanFlags) registerEngine(fs *cli.FlagSet, directory bool) {
	f.fs = fs
	fs.Group("Targets")
	f.targetsFile = fs.File("targets", "", "read targets from `FILE`, one per line ('#' comments)")
	f.maxRange = fs.Int("max-range", scan.DefaultMaxRange, "the most addresses one CIDR range may expand to")
	if directory {
		f.ld.register(fs)
	} else {
		f.ld.port = new(int)
	}
	fs.Group("Connection")
	f.cf.registerTransport(fs, "the one deadline per host: name lookup, connect, negotiate, logon, bind and every page (30s, 2m)")
	f.concurrency = fs.Int("concurrency", scan.DefaultConcurrency, "hosts scanned at once")
	f.precheck = fs.Duration("precheck", 0, "first check the port with a TCP connect of this `DURATION` (1s); 0: no pre-check")
	f.rate = fs.Float64("rate", 0, "start at most this many hosts per second, fractions allowed (0: no limit)")
	f.burst = fs.Int("burst", 0, "with --rate, how many hosts may start at once (0: 1)")
	f.jitter = fs.Duration("jitter", 0, "delay each host's start by a random time up to `DURATION`")
	f.grace = fs.Duration("grace", 0, "on Ctrl-C, let the hosts in progress run this long before interrupting them (0: at once)")
	f.cf.registerCredentials(fs)
	fs.Group("Query")
	f.level = fs.Choice("level", "auto", []string{"auto", "0", "1", "2", "10", "502"}, "SESSION_INFO `LEVEL`: 0, 1, 2, 10, 502 or auto (per host: 502, 10, 1, 0)")
	f.client = fs.String("client", "", `only sessions from this `+"`CLIENT`"+` (the \\ is added when missing)`)
	f.user = fs.String("user", "", "only sessions of this `USER` (also matches DOMAIN\\USER as a Samba AD DC reports it)")
	f.noMachine = fs.Bool("no-machine-accounts", "hide sessions of machine accounts (user names ending in $)")
}

// checkEngine refuses engine flag values that cannot work.
func (f *scanFlags) checkEngine() error {
	switch {
	case *f.concurrency < 1:
		return usagef("--concurrency: at least 1, not %d", *f.concurrency)
	case *f.maxRange < 1:
		return usagef("--max-range: at least 1, not %d", *f.maxRange)
	case f.cf.timeout <= 0:
		return usagef("--timeout: a scan needs a deadline per host (such as 30s)")
	case *f.rate < 0 || *f.burst < 0:
		return usagef("--rate and --burst: not negative")
	case *f.burst > 0 && *f.rate == 0:
		return usagef("--burst goes with --rate")
	}
	return nil
}

// engineConfig is the scan configuration of the engine flags.
func (f *scanFlags) engineConfig(opts client.Options) scan.Config {
	lv, _ := parseLevel(*f.level, session.Levels()...)
	cfg := scan.Config{
		Client:      opts,
		Level:       lv,
		Filter:      client.Filter{Client: *f.client, User: *f.user},
		Concurrency: *f.concurrency,
		HostTimeout: f.cf.timeout,
		PreCheck:    *f.precheck,
		Rate:        *f.rate,
		Burst:       *f.burst,
		Jitter:      *f.jitter,
		Grace:       *f.grace,
		Logger:      opts.Logger,
		Lookup:      f.ld.lookup(),
	}
	if *f.noMachine {
		cfg.Keep = func(s client.Session) bool { return !strings.HasSuffix(s.UserName, "$") }
	}
	return cfg
}

func runScan(ctx context.Context, inv *cli.Invocation, f *scanFlags, e cliEnv) int {
	if err := f.checkEngine(); err != nil {
		return inv.Usagef("%v", err)
	}
	if *f.perSession && !f.cf.json {
		return inv.Usagef("--per-session goes with --json")
	}
	if err := f.ld.check(inv.Args, f.fs); err != nil {
		return inv.Usagef("%v", err)
	}
	toStdout := f.ld.bloodhound == bloodhoundStdout
	if toStdout && (f.cf.json || f.cf.csv) {
		return inv.Usagef("--bloodhound - writes the results on stdout: not with --json or --csv")
	}
	opts, err := f.cf.clientOptions(e, inv.Stderr)
	if err != nil {
		return inv.Usagef("%v", err)
	}
	// One Kerberos client serves every host of the scan (a ticket per
	// host's cifs SPN); closing it stops its renewal goroutine.
	defer f.cf.kerb.close()
	var ds *domainScan
	if f.ld.dc != "" {
		defer f.ld.close()
		ds, err = f.ld.discover(ctx, opts.Credentials, opts, f.cf.kerb.ccache, inv.Stderr)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "netsess scan: %s\n", directoryText(err))
			if errors.Is(err, directory.ErrConfig) {
				return exitUsage
			}
			return exitDirectory
		}
	}
	src, err := scanSource(inv.Args, f, e, ds)
	if errors.Is(err, scan.ErrRangeTooLarge) {
		return inv.Usagef("%s; --max-range sets the limit", userText(err))
	}
	if err != nil {
		return inv.Usagef("%s", userText(err))
	}

	cfg := f.engineConfig(opts)
	prog := &progressOut{w: inv.Stderr, terminal: e.stderrTerminal}
	if !*f.quiet {
		cfg.OnProgress = prog.show
		cfg.ProgressInterval = time.Second
		if !e.stderrTerminal {
			cfg.ProgressInterval = progressEvery
		}
	}
	sc, err := scan.New(cfg)
	if err != nil {
		return inv.Usagef("%s", userText(err))
	}

	var w scan.Writer
	switch {
	case toStdout:
		w = discard{}
	case f.cf.json:
		w = scan.NewJSONLines(inv.Stdout, *f.perSession)
	case f.cf.csv:
		c := scan.NewCSV(inv.Stdout)
		c.Raw = f.cf.csvRaw
		w = c
	default:
		w = scan.NewText(inv.Stdout, false)
	}
	// A write error (stdout closed) ends the scan: there is no one left
	// to tell the results to.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var writeErr error
	sum, runErr := sc.Run(runCtx, src, func(r *scan.Result) {
		if writeErr != nil {
			return
		}
		prog.clear()
		if ds != nil {
			ds.add(ctx, r)
		}
		if writeErr = w.Write(r); writeErr != nil {
			stop(writeErr)
		}
	})
	if writeErr == nil {
		writeErr = w.Flush()
	}
	if ds != nil && writeErr == nil {
		prog.clear()
		writeErr = ds.finish(f.ld.bloodhound, inv.Stdout, inv.Stderr, *f.quiet)
	}
	prog.clear()
	if !*f.quiet {
		sum.WriteTo(inv.Stderr)
	}
	switch {
	case writeErr != nil:
		fmt.Fprintf(inv.Stderr, "netsess scan: writing the results: %v\n", writeErr)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(inv.Stderr, "netsess scan: interrupted")
		return exitInterrupted
	case runErr != nil:
		// The source failed: a line of the stream that cannot be parsed.
		fmt.Fprintf(inv.Stderr, "netsess scan: %s\n", userText(runErr))
		return exitUsage
	case !sum.Complete():
		return exitIncomplete
	}
	return exitOK
}

// scanSource builds the targets: the arguments and --targets read whole,
// or standard input as a stream for the single argument "-".
func scanSource(args []string, f *scanFlags, e cliEnv, ds *domainScan) (scan.Source, error) {
	popt := scan.ParseOptions{MaxRange: *f.maxRange, DefaultPort: *f.ld.port}
	if f.cf.transport == client.TransportSMB && popt.DefaultPort == 0 {
		popt.DefaultPort = 445
	}
	if slices.Contains(args, "-") {
		if len(args) > 1 || *f.targetsFile != "" {
			return nil, errors.New("- (targets from standard input) is the only target source when given: no other argument and no --targets")
		}
		in := e.stdin
		if in == nil {
			in = strings.NewReader("")
		}
		return scan.NewStreamSource(in, popt), nil
	}
	ts, err := scan.ParseTargets(args, popt)
	if err != nil {
		return nil, err
	}
	if *f.targetsFile != "" {
		b, err := e.readFile(*f.targetsFile)
		if err != nil {
			return nil, fmt.Errorf("--targets: %w", err)
		}
		more, err := scan.ReadTargets(bytes.NewReader(b), popt)
		if err != nil {
			return nil, fmt.Errorf("--targets %s: %w", *f.targetsFile, err)
		}
		ts = scan.Dedup(append(ts, more...), popt)
	}
	if ds != nil {
		ds.targets, ds.comps = ds.disc.ScanTargets(popt.DefaultPort)
		// The directory's targets come first, then the others not among
		// them: the union, each host once.
		ts = scan.Dedup(append(slices.Clone(ds.targets), ts...), popt)
		if len(ts) == 0 {
			return nil, errors.New("no targets: the directory has no computer to scan with these filters, and none was given")
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("no targets: give them as arguments, with --targets FILE, or - for standard input (netsess scan --help)")
	}
	return scan.SliceSource(ts), nil
}

// discard is the results writer of --bloodhound -, whose stdout is the
// computers file.
type discard struct{}

func (discard) Write(*scan.Result) error { return nil }
func (discard) Flush() error             { return nil }

// progressOut writes scan progress on stderr: on a terminal one line
// redrawn in place (and cleared before a result or the summary is
// written, so that the two do not mix), otherwise a plain line each time.
type progressOut struct {
	w        io.Writer
	terminal bool
	shown    bool
}

func (p *progressOut) show(pr scan.Progress) {
	line := scan.ProgressLine(pr)
	if !p.terminal {
		fmt.Fprintf(p.w, "netsess scan: %s\n", line)
		return
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", sessfmt.Escape(line))
	p.shown = true
}

// clear erases the progress line on a terminal.
func (p *progressOut) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
