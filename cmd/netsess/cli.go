package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is the release this tree builds; -ldflags "-X main.version=..."
// overrides it.
var version = "0.1.0-dev"

// Exit codes, documented in the help text.
const (
	exitOK       = 0
	exitUsage    = 1
	exitInternal = 5
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"list", "list the sessions of a server (NetSessionEnum)", runList},
		{"get", "show one session of a server (NetSessionGetInfo)", runGet},
		{"del", "close sessions on a server (NetSessionDel)", runDel},
		{"serve", "serve sessions over MS-SRVS (ncacn_ip_tcp, NTLM) with an endpoint mapper", runServe},
		{"demo", "serve demo sessions on loopback and list them, no setup needed", runDemo},
		{"version", "print the version", runVersion},
		{"help", "show help for netsess or one of its commands", runHelp},
	}
}

const usageText = `netsess - Windows server sessions (NetSessionEnum, NetSessionGetInfo,
NetSessionDel) and the MS-SRVS protocol behind them.

Usage:
  netsess <command> [flags]

Commands:
%s
Run "netsess help <command>" or "netsess <command> -h" for a command's flags.

Exit codes (each command's help says which apply):
  0    success (also a filtered list that matches nothing)
  1    usage error (unknown command or flag, bad value)
  2    server unreachable, or a timeout
  3    logon failure
  4    access denied
  5    the server answered another failure status
  6    the RPC failed: fault, refused bind, or an answer that cannot be decoded
  130  interrupted (Ctrl-C); what was read so far is printed
`

func usage() string {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(usageText, b.String())
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "netsess: unknown command %q\n\n%s", args[0], usage())
	return exitUsage
}

func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] && c.name != "help" {
			return c.run(ctx, []string{"-h"}, stdout, stderr)
		}
	}
	if args[0] == "help" {
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	fmt.Fprintf(stderr, "netsess help: unknown command %q\n", args[0])
	return exitUsage
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "netsess version: takes no arguments\n")
		return exitUsage
	}
	fmt.Fprintf(stdout, "netsess %s", version)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(stdout, " (%s", bi.GoVersion)
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				fmt.Fprintf(stdout, ", %s", s.Value[:12])
			}
		}
		fmt.Fprint(stdout, ")")
	}
	fmt.Fprintln(stdout)
	return exitOK
}

// parseFlags runs fs.Parse with the commands' conventions: -h prints the
// help once, on stdout, and exits 0; a bad flag prints the flag package's
// message and the help on fs's output (stderr) and exits 1.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package would print it before returning ErrHelp
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			out := fs.Output()
			fs.SetOutput(stdout)
			fs.Usage()
			fs.SetOutput(out)
			return exitOK, false
		}
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}
