package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

const getHelp = `Usage: netsess get --server HOST[:PORT] --client CLIENT --user USER [flags]

Shows one session (NetSessionGetInfo). There is no GetInfo on the wire: it
is NetrSessionEnum with both qualifiers and no resume handle, returning the
first match. Levels 0, 1, 2 and 10 (502 is not offered by NetSessionGetInfo);
auto, the default, tries 2, 10, 1, 0 like list does. A session that does not
exist is a returned status (NERR_ClientNameNotFound or NERR_UserNotFound):
exit code 5.

Connection, credentials and output formats are those of "netsess list".

` + credentialsHelp + `
Flags:
`

const getExamples = `
Examples:
  netsess get --server 127.0.0.1:49670 --transport tcp -U alice%AlicePass1 --client 10.0.0.5 --user carol
  netsess get --server fs1 -U 'CORP\alice' --client '\\10.0.0.5' --user carol --level 1 --json

`

// runGet is "netsess get".
func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return getCmd(ctx, args, stdout, stderr, osEnv(stderr))
}

func getCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	level := fs.String("level", "auto", "SESSION_INFO level: 0, 1, 2, 10 or auto")
	cl := fs.String("client", "", `the session's client (required; the \\ is added when missing)`)
	user := fs.String("user", "", "the session's user (required)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), getHelp)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), getExamples+clientExitCodes)
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	lv, err := parseLevel(*level, session.Level0, session.Level1, session.Level2, session.Level10)
	if err != nil {
		fmt.Fprintf(stderr, "netsess get: %v\n", err)
		return exitUsage
	}
	if *cl == "" || *user == "" {
		fmt.Fprintf(stderr, "netsess get: --client and --user are both required\n")
		return exitUsage
	}
	server, opts, err := cf.options(fs.Args(), env, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "netsess get: %v\n", err)
		return exitUsage
	}
	p := newPrinter("get", &cf, server, stdout, stderr)
	c, err := client.Dial(ctx, server, opts)
	if err != nil {
		return p.failure(err)
	}
	defer c.Close()
	s, err := c.GetInfo(ctx, *cl, *user, lv)
	if err != nil {
		return p.failure(err)
	}
	if err := p.sessions(s.Level, nil, []client.Session{s}); err != nil {
		fmt.Fprintf(stderr, "netsess get: %v\n", err)
		return exitStatus
	}
	return exitOK
}
