package main

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/session"
)

const getHelp = `Shows one session (NetSessionGetInfo). There is no GetInfo on the wire: it
is NetrSessionEnum with both qualifiers and no resume handle, returning the
first match. Levels 0, 1, 2 and 10 (502 is not offered by NetSessionGetInfo);
auto, the default, tries 2, 10, 1, 0 like list does. A session that does not
exist is a returned status (NERR_ClientNameNotFound or NERR_UserNotFound):
exit code 5.

Connection, credentials and output formats are those of "netsess list".

` + credentialsHelp

func getCommand(env envFunc) *cli.Command {
	return &cli.Command{
		Name:    "get",
		Summary: "show one session of a server (NetSessionGetInfo)",
		Args:    "SERVER",
		MaxArgs: -1,
		Help:    getHelp,
		Examples: []string{
			`netsess get 127.0.0.1:49670 --transport tcp -U alice%AlicePass1 --client 10.0.0.5 --user carol`,
			`netsess get fs1 -U 'CORP\alice' --client '\\10.0.0.5' --user carol --level 1 --json`,
		},
		ExitCodes: clientExitCodes(cli.ExitCode{Code: 5, Meaning: "also no session matches --client and --user (NERR_ClientNameNotFound or NERR_UserNotFound)"}),
		Define: func(fs *cli.FlagSet) cli.Action {
			var cf connFlags
			cf.register(fs)
			fs.Group("Query")
			level := fs.Choice("level", "auto", []string{"auto", "0", "1", "2", "10"}, "SESSION_INFO `LEVEL`: 0, 1, 2, 10 or auto")
			cl := fs.String("client", "", `the session's `+"`CLIENT`"+` (required; the \\ is added when missing)`)
			user := fs.String("user", "", "the session's `USER` (required)")
			cf.registerOutput(fs, true)
			return func(ctx context.Context, inv *cli.Invocation) int {
				lv, _ := parseLevel(*level, session.Level0, session.Level1, session.Level2, session.Level10)
				if *cl == "" || *user == "" {
					return inv.Usagef("--client and --user are both required")
				}
				server, opts, err := cf.options("get", inv.Args, env(inv.Stderr), inv.Stderr)
				if err != nil {
					return inv.Usagef("%v", err)
				}
				p, c, code := dial(ctx, "get", &cf, server, opts, inv.Stdout, inv.Stderr, *cl, *user)
				if c == nil {
					return code
				}
				defer c.Close()
				s, err := c.GetInfo(ctx, *cl, *user, lv)
				if err != nil {
					return p.failure(err)
				}
				if err := p.sessions(s.Level, nil, []client.Session{s}); err != nil {
					fmt.Fprintf(inv.Stderr, "netsess get: %v\n", err)
					return exitStatus
				}
				return exitOK
			}
		},
	}
}
