package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/netsession/netsession/internal/cli"
)

// version is the release this tree builds when the build says nothing
// better: a "go install ...@vX" build reports vX (the module version in
// the build information), and -ldflags "-X main.version=..." overrides
// both.
var version = ""

// develVersion is what a build from a source tree without a version says.
const develVersion = "0.1.0-dev"

// Exit codes, documented in the help text.
const (
	exitOK       = 0
	exitUsage    = cli.ExitUsage
	exitInternal = 5
)

// envFunc gives the client commands what they take from the process.
type envFunc func(stderr io.Writer) cliEnv

// newApp is the netsess program: its commands, on the cli package's
// parser.
func newApp(env envFunc) *cli.App {
	return &cli.App{
		Name: "netsess",
		Summary: "Windows server sessions (NetSessionEnum, NetSessionGetInfo, NetSessionDel) " +
			"and the MS-SRVS protocol behind them",
		Overview: `netsess asks a Windows or Samba server who is connected to it (list, get)
and closes sessions (del), over SMB2/3 (\PIPE\srvsvc, port 445) or
ncacn_ip_tcp. "netsess serve --smb ADDR" is itself such a server: an SMB2/3
server for IPC$ and \PIPE\srvsvc whose own sessions are the ones it lists,
plus srvsvc on ncacn_ip_tcp and an endpoint mapper. "netsess scan" asks
many servers at once (one result per host, with a reason when it was not
collected), "netsess watch" scans them again at an interval and keeps the
history of their sessions (who was connected where, and when), which
"netsess history" queries, and "netsess fleet" serves a simulated fleet on
loopback to scan. "netsess demo" runs both ends on loopback with nothing
to set up (--fleet: a scan of a small fleet).

Durations are whole numbers with a unit (90s, 2h, 7d, 1d12h); times are
RFC 3339, a date, now, or a duration before now.`,
		Version: versionString(buildInfo()),
		Commands: []*cli.Command{
			listCommand(env),
			getCommand(env),
			delCommand(env),
			scanCommand(env),
			watchCommand(env),
			historyCommand(env),
			fleetCommand(),
			serveCommand(),
			demoCommand(),
			versionCommand(),
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "success (also a filtered list that matches nothing)"},
			{Code: 1, Meaning: "usage error (unknown command or flag, bad value)"},
			{Code: 2, Meaning: "server unreachable, or a timeout"},
			{Code: 3, Meaning: "logon failure"},
			{Code: 4, Meaning: "access denied"},
			{Code: 5, Meaning: "the server answered another failure status (get and del: no such session)"},
			{Code: 6, Meaning: "the RPC failed: fault, refused bind, or an answer that cannot be decoded"},
			{Code: exitIncomplete, Meaning: "scan: some hosts were not collected (the output is complete; scan never exits 2 to 6)"},
			{Code: exitDirectory, Meaning: "scan --ldap: the directory could not be asked (nothing was scanned)"},
			{Code: exitDatabase, Meaning: "watch, history: the history database failed (cannot be opened, newer than this netsess, went away or refused a write)"},
			{Code: 130, Meaning: "interrupted (Ctrl-C); what was read so far is printed"},
		},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(osEnv).Run(ctx, args, stdout, stderr)
}

// buildInfo is the binary's build information, nil when it has none.
func buildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// versionString says which netsess this is: the version (-X main.version,
// else the module version of a "go install ...@vX" build, else
// 0.1.0-dev), the Go release, and the source revision, or that the build
// did not record one (go run, -buildvcs=false, a build outside a
// repository).
func versionString(bi *debug.BuildInfo) string {
	v := version
	if v == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = develVersion
	}
	if bi == nil {
		return v + " (no build information)"
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		rev = "revision unknown"
	case len(rev) > 12:
		rev = "revision " + rev[:12]
	default:
		rev = "revision " + rev
	}
	if modified {
		rev += " with local changes"
	}
	return fmt.Sprintf("%s (%s, %s)", v, bi.GoVersion, rev)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:    "version",
		Summary: "print the version",
		Help: `Prints the version: the module version of a "go install ...@vX" build (or
what -ldflags "-X main.version=..." set; 0.1.0-dev for a build from a
source tree), the Go release, and the source revision the build recorded,
or "revision unknown" when it recorded none (go run, -buildvcs=false, a
build outside a repository).`,
		ExitCodes: []cli.ExitCode{{Code: 0, Meaning: "printed"}, {Code: 1, Meaning: "usage error (an argument or flag)"}},
		Define: func(fs *cli.FlagSet) cli.Action {
			return func(_ context.Context, inv *cli.Invocation) int {
				fmt.Fprintf(inv.Stdout, "netsess %s\n", versionString(buildInfo()))
				return exitOK
			}
		},
	}
}
