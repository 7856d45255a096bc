// Package cli is the command-line layer every netsess command is built on:
// one flag parser, one help style, one duration and one time syntax, and
// shell completion and a manual page generated from the same definitions.
//
// # Defining a command
//
// A command is a *Command in App.Commands (netsess lists its commands in
// newApp, cmd/netsess/cli.go; the help, completion and man commands come
// with every App). Its Define function declares
// the flags on the FlagSet it is given and returns the action, a closure
// over the variables the flags fill:
//
//	&cli.Command{
//		Name:    "scan",
//		Summary: "list the sessions of many servers",
//		Args:    "[TARGET...]",
//		MaxArgs: -1, // any number; the action judges them
//		Help:    "Scans ...\n\nSecond paragraph.",
//		Examples:  []string{"netsess scan --targets hosts.txt --json"},
//		ExitCodes: []cli.ExitCode{{Code: 0, Meaning: "every host answered"}, {Code: 1, Meaning: "usage error"}},
//		Define: func(fs *cli.FlagSet) cli.Action {
//			fs.Group("Connection")
//			conc := fs.Int("concurrency", 64, "hosts scanned at once")
//			every := fs.Duration("interval", 5*time.Minute, "time between two scans")
//			krb := fs.Bool("kerberos,k", "log on with Kerberos")
//			auth := fs.Choice("auth", "auto", []string{"auto", "kerberos", "ntlm"}, "how to log on")
//			keytab := fs.File("keytab", "", "read keys from this `FILE`")
//			return func(ctx context.Context, inv *cli.Invocation) int {
//				if *conc < 1 {
//					return inv.Usagef("--concurrency: at least 1")
//				}
//				... inv.Args, inv.Stdout, inv.Stderr ...
//			}
//		},
//	}
//
// Define is also called with the action thrown away, to print the help,
// the completion scripts and the man page, so it must only declare flags.
// Names are "long", "x" (a one-letter alias only) or "long,x" (both); a
// word in backquotes in the usage names the value in the help (`FILE`).
// Flags defined after fs.Group("Heading") are listed under that heading.
// FlagSet.Count tells whether (and how often) a flag was given, for
// flags that must not be repeated or that conflict. Choice flags refuse
// values outside their list at parse time and offer the list to shell
// completion; File flags complete file names. Usage errors found by the
// action go through Invocation.Usagef (exit 1); help text is plain prose
// that writes flags as --name, the way the parser prints them.
//
// # What the parser accepts
//
// --name VALUE, --name=VALUE, -x VALUE, -xVALUE and -x=VALUE; a boolean
// flag takes no value (--json) or an explicit one (--json=false). A single
// dash before a long name (-level 10) is accepted too, as the standard
// flag package did. Flags and positional arguments mix in any order
// (netsess list HOST -U x --level 10); after "--" every word is
// positional. -h, -help and --help print the command's help on stdout and
// exit 0. An unknown flag, a missing or bad value, or more positional
// arguments than MaxArgs print the error and "see 'PROG CMD --help'" on
// stderr and exit 1 (ExitUsage), never the whole help. A command with
// Subcommands declares the words its first positional argument may be
// once: the parser refuses another word or a wrong number of arguments
// after it the same way, and the synopsis and the shell completions are
// made from them.
//
// # Durations and times
//
// ParseDuration and ParseTime are the only duration and time syntax of
// the program; FlagSet.Duration and FlagSet.Time use them.
package cli

// durationHelp describes the duration and time syntax for the man page.
const durationHelp = "Durations are whole numbers each followed by a unit, w, d, h, m, s or ms, as in 90s, 2h, 7d or 1d12h; a day is 24 hours. " +
	"Times are RFC 3339 (2026-03-01T08:00:00Z), a date (2026-03-01, midnight UTC), now, or a duration before now (2h: two hours ago)."
