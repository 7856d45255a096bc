package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/cli"
)

const delHelp = `Closes sessions (NetSessionDel: MS-SRVS NetrSessionDel): every session from
CLIENT of USER; with only one of them, every session from that client or of
that user. At least one is required: netsess never asks a server to close
every session (Samba would).

What servers answer differs: a delete that matches nothing is
NERR_ClientNameNotFound (exit code 5) on Windows and on "netsess serve",
whichever of --client and --user was given, but access denied (exit code 4)
on Samba. Samba closes the whole connection of every matching session, so
a caller that deletes its own client and user deletes itself.

Connection and credentials are those of "netsess list". --json prints one
object: server, client, user, deleted (true), or the failure object of list.

` + credentialsHelp

func delCommand(env envFunc) *cli.Command {
	return &cli.Command{
		Name:    "del",
		Summary: "close sessions on a server (NetSessionDel)",
		Args:    "SERVER",
		MaxArgs: -1,
		Help:    delHelp,
		Examples: []string{
			`netsess del 127.0.0.1:49670 --transport tcp -U alice%AlicePass1 --client 10.0.0.5 --user carol`,
			`netsess del fs1 -U 'CORP\alice' --user mallory --json`,
		},
		ExitCodes: clientExitCodes(cli.ExitCode{Code: 5, Meaning: "also no session matches (NERR_ClientNameNotFound, on Windows and netsess serve; Samba answers access denied, 4)"}),
		Define: func(fs *cli.FlagSet) cli.Action {
			var cf connFlags
			cf.register(fs)
			fs.Group("Query")
			cl := fs.String("client", "", `close sessions from this `+"`CLIENT`"+` (the \\ is added when missing)`)
			user := fs.String("user", "", "close sessions of this `USER`")
			cf.registerOutput(fs, false)
			return func(ctx context.Context, inv *cli.Invocation) int {
				if *cl == "" && *user == "" {
					return inv.Usagef("give --client, --user or both")
				}
				server, opts, err := cf.options("del", inv.Args, env(inv.Stderr), inv.Stderr)
				if err != nil {
					return inv.Usagef("%v", err)
				}
				p, c, code := dial(ctx, "del", &cf, server, opts, inv.Stdout, inv.Stderr, *cl, *user)
				if c == nil {
					return code
				}
				defer c.Close()
				if err := c.Delete(ctx, *cl, *user); err != nil {
					code := p.failure(err)
					if errors.Is(err, client.ErrUnreachable) && !cf.json {
						// The connection went away while the call was on the wire.
						fmt.Fprintf(inv.Stderr, "netsess del: the server closed the connection during the call; Samba does that when the sessions deleted include the caller's own\n")
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
					writeJSONLine(inv.Stdout, append(fields, field{"deleted", true}))
					return exitOK
				}
				what := "sessions"
				if *user != "" {
					what += " of " + *user
				}
				if *cl != "" {
					what += " from " + client.UNC(*cl)
				}
				fmt.Fprintf(inv.Stdout, "Closed the %s on %s\n", what, server)
				return exitOK
			}
		},
	}
}
