package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/netsession/netsession/client"
)

const delHelp = `Usage: netsess del --server HOST[:PORT] [--client CLIENT] [--user USER] [flags]

Closes sessions (NetSessionDel: MS-SRVS NetrSessionDel): every session from
CLIENT of USER; with only one of them, every session from that client or of
that user. At least one is required: netsess never asks a server to close
every session (Samba would).

What servers answer differs: a delete that matches nothing is
NERR_ClientNameNotFound (exit code 5) on Windows and on "netsess serve", but
access denied (exit code 4) on Samba. Samba closes the whole connection of
every matching session, so a caller that deletes its own client and user
deletes itself.

Connection and credentials are those of "netsess list". --json prints one
object: server, client, user, deleted (true), or the failure object of list.

` + credentialsHelp + `
Flags:
`

const delExamples = `
Examples:
  netsess del --server 127.0.0.1:49670 --transport tcp -U alice%AlicePass1 --client 10.0.0.5 --user carol
  netsess del --server fs1 -U 'CORP\alice' --user mallory --json

`

// runDel is "netsess del".
func runDel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return delCmd(ctx, args, stdout, stderr, osEnv(stderr))
}

func delCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	fs := flag.NewFlagSet("del", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	cl := fs.String("client", "", `close sessions from this client (the \\ is added when missing)`)
	user := fs.String("user", "", "close sessions of this user")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), delHelp)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), delExamples+clientExitCodes)
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *cl == "" && *user == "" {
		fmt.Fprintf(stderr, "netsess del: give --client, --user or both\n")
		return exitUsage
	}
	server, opts, err := cf.options(fs.Args(), env, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "netsess del: %v\n", err)
		return exitUsage
	}
	if cf.csv {
		fmt.Fprintf(stderr, "netsess del: --csv is for lists; use --json\n")
		return exitUsage
	}
	p := newPrinter("del", &cf, server, stdout, stderr)
	c, err := client.Dial(ctx, server, opts)
	if err != nil {
		return p.failure(err)
	}
	defer c.Close()
	if err := c.Delete(ctx, *cl, *user); err != nil {
		code := p.failure(err)
		if errors.Is(err, client.ErrUnreachable) && !cf.json {
			// The connection went away while the call was on the wire.
			fmt.Fprintf(stderr, "netsess del: the server closed the connection during the call; Samba does that when the sessions deleted include the caller's own\n")
		}
		return code
	}
	if cf.json {
		fields := []field{{"server", server}}
		if *cl != "" {
			fields = append(fields, field{"client", client.UNC(*cl)})
		}
		if *user != "" {
			fields = append(fields, field{"user", *user})
		}
		writeJSONLine(stdout, append(fields, field{"deleted", true}))
		return exitOK
	}
	what := "sessions"
	if *user != "" {
		what += " of " + *user
	}
	if *cl != "" {
		what += " from " + client.UNC(*cl)
	}
	fmt.Fprintf(stdout, "Closed the %s on %s\n", what, server)
	return exitOK
}
