package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/session"
)

const listHelp = `Lists the sessions of a server (NetSessionEnum: MS-SRVS NetrSessionEnum):
who is connected, from which client, for how long and idle since when.
SERVER is HOST, HOST:PORT or [IPV6]:PORT, before or after the flags (or
--server). One server only: several are the job of "netsess scan".

The default --transport smb opens the \PIPE\srvsvc named pipe over SMB2/3
(port 445 unless HOST:PORT says otherwise), where Windows and Samba serve
it; the SMB logon is the identity. --transport tcp speaks ncacn_ip_tcp, as
"netsess serve" offers it: a server given without a port is looked up
through its endpoint mapper on port 135 (or --epm), and the logon is NTLM
inside DCE/RPC, at integrity unless --auth says otherwise.

Level auto (the default) tries 502, 10, 1, 0 and moves on when the server
answers invalid level (0x7C), not supported (0x32) or access denied (5); the
output says which level answered. Samba answers levels 0 and 1 only; recent
Windows lets only administrators enumerate at all.

Output: a table, with every text the server sent escaped (a control
character shows as \x1b, a bidirectional override as \u202e) and durations
as H:MM:SS, or Dd HH:MM:SS from a day on. --json prints one object per
session per line with the keys server, client (as the server sent it),
client_host (without \\, brackets or zone), client_name (only with
--resolve, when a name was found), user, opens, time and connected_at,
idle_time and last_active_at, user_flags (1 guest, 2 no encryption),
client_type, transport and level. time and idle_time are whole seconds
(how long ago the session was set up and was last active; 4294967295
means unknown); connected_at and last_active_at are the same instants in
RFC 3339 UTC, counted back from when the answer arrived, and absent when
the server sent 4294967295. A key the level does not carry is absent; a
carried zero is printed. Strings are exact. A failure prints one object
instead: server, error, reason (the word "netsess scan" uses for it:
port_closed, timeout, logon_failure, access_denied, ...), status (+
status_name) or fault (+ fault_name), level, tried (level auto), detail.
--csv has the same names as columns plus error, status, fault and reason;
a field that starts with =, +, -, @, a tab
or a carriage return is written with a leading ' so that a spreadsheet
shows it as text instead of running it as a formula (--csv-raw: as sent).

--sort orders the list: time and idle longest first, opens most first,
user and client alphabetically (ties by client, then user). --idle-over
DURATION keeps the sessions idle longer than DURATION (90s, 2h, 7d); when
only level 0 answers (no times), it fails with exit code 5 rather than
print sessions it cannot judge.

` + credentialsHelp

// sortKeys are the orders --sort offers.
var sortKeys = []string{"time", "idle", "user", "client", "opens"}

func listCommand(env envFunc) *cli.Command {
	return &cli.Command{
		Name:    "list",
		Summary: "list the sessions of a server (NetSessionEnum)",
		Args:    "SERVER",
		MaxArgs: -1,
		Help:    listHelp,
		Examples: []string{
			`netsess list fs1 -U 'CORP\alice' --level 10 --json`,
			`netsess list 127.0.0.1:49670 --transport tcp -U alice%AlicePass1`,
			`NETSESS_PASSWORD=... netsess list fs1 -U alice@corp.example --csv`,
			`netsess list fs1 --nt-hash 0123456789abcdef0123456789abcdef -U alice --user bob`,
			`netsess list fs1 -U alice --sort idle --idle-over 8h`,
			`netsess list 127.0.0.1 --transport tcp --epm 127.0.0.1:13500 --anonymous`,
		},
		ExitCodes: clientExitCodes(cli.ExitCode{Code: 0, Meaning: "also a filtered list that matches nothing (the server's NERR_UserNotFound / NERR_ClientNameNotFound), printed as an empty list"}),
		Define: func(fs *cli.FlagSet) cli.Action {
			var cf connFlags
			cf.register(fs)
			fs.Group("Query")
			level := fs.Choice("level", "auto", []string{"auto", "0", "1", "2", "10", "502"}, "SESSION_INFO `LEVEL`: 0, 1, 2, 10, 502 or auto")
			cl := fs.String("client", "", `only sessions from this `+"`CLIENT`"+` (the \\ is added when missing)`)
			user := fs.String("user", "", "only sessions of this `USER`")
			maxLen := fs.Uint32("max-len", 0, "preferred maximum length of one answer in `BYTES` (0: everything at once); small values make the server page")
			noMachine := fs.Bool("no-machine-accounts", "hide sessions of machine accounts (user names ending in $)")
			resolve := fs.Bool("resolve", "look up the DNS name of every client that is an IP address (adds client_name)")
			sortBy := fs.Choice("sort", "", sortKeys, "order by `KEY`: time, idle, user, client or opens")
			idleOver := fs.Duration("idle-over", 0, "only sessions idle longer than this `DURATION` (90s, 2h, 7d)")
			cf.registerOutput(fs, true)
			return func(ctx context.Context, inv *cli.Invocation) int {
				lv, _ := parseLevel(*level, session.Levels()...)
				e := env(inv.Stderr)
				server, opts, err := cf.options("list", inv.Args, e, inv.Stderr)
				if err != nil {
					return inv.Usagef("%v", err)
				}
				if lv != client.LevelAuto && (*idleOver > 0 || *sortBy == "time" || *sortBy == "idle") && !lv.Fields().Has(session.FieldIdleTime) {
					return inv.Usagef("level %d carries no time or idle time: --sort %s and --idle-over need 1, 2, 10 or 502", uint32(lv), *sortBy)
				}
				opts.PrefMaxLen = *maxLen
				p, c, code := dial(ctx, "list", &cf, server, opts, inv.Stdout, inv.Stderr, *cl, *user)
				if c == nil {
					return code
				}
				defer c.Close()
				res, err := c.EnumAll(ctx, lv, client.Filter{Client: *cl, User: *user})
				ss := res.Sessions
				if *noMachine {
					ss = slices.DeleteFunc(ss, func(s client.Session) bool { return strings.HasSuffix(s.UserName, "$") })
				}
				if (*idleOver > 0 || *sortBy == "time" || *sortBy == "idle") && err == nil && !res.Level.Fields().Has(session.FieldIdleTime) {
					// Level auto settled on 0: nothing to filter or sort by.
					fmt.Fprintf(inv.Stderr, "netsess list: %s: only level %d answered, which carries no time or idle time, so sorting by time or idle and --idle-over cannot be applied\n", server, uint32(res.Level))
					if *idleOver > 0 {
						return exitStatus // an unfiltered list would claim sessions it cannot vouch for
					}
				} else {
					ss = idleFilter(ss, *idleOver)
					sortSessions(ss, *sortBy)
				}
				if *resolve {
					p.names = resolveClients(ctx, e.lookupAddr, cf.timeout, ss)
				}
				if err != nil {
					// Print what was read before the failure (an interrupted
					// enumeration, a page that failed), then the failure.
					if len(ss) > 0 {
						p.sessions(res.Level, res.Tried, ss)
					}
					return p.failure(err)
				}
				if err := p.sessions(res.Level, res.Tried, ss); err != nil {
					fmt.Fprintf(inv.Stderr, "netsess list: %v\n", err)
					return exitStatus
				}
				return exitOK
			}
		},
	}
}

// seconds reads time or idle_time for sorting and filtering: the unknown
// value 0xFFFFFFFF is a session under a second old.
func seconds(v uint32) uint32 {
	if v == session.TimeUnknown {
		return 0
	}
	return v
}

// idleFilter keeps the sessions idle longer than d (all for d == 0).
func idleFilter(ss []client.Session, d time.Duration) []client.Session {
	if d <= 0 {
		return ss
	}
	return slices.DeleteFunc(ss, func(s client.Session) bool {
		return time.Duration(seconds(s.IdleTime))*time.Second <= d
	})
}

// sortSessions orders ss by key (see --sort); "" keeps the server's order.
func sortSessions(ss []client.Session, key string) {
	if key == "" {
		return
	}
	tie := func(a, b client.Session) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.ClientName), strings.ToLower(b.ClientName)), cmp.Compare(strings.ToLower(a.UserName), strings.ToLower(b.UserName)))
	}
	slices.SortStableFunc(ss, func(a, b client.Session) int {
		var c int
		switch key {
		case "time":
			c = cmp.Compare(seconds(b.Time), seconds(a.Time))
		case "idle":
			c = cmp.Compare(seconds(b.IdleTime), seconds(a.IdleTime))
		case "opens":
			c = cmp.Compare(b.NumOpens, a.NumOpens)
		case "user":
			c = cmp.Compare(strings.ToLower(a.UserName), strings.ToLower(b.UserName))
		case "client":
			c = cmp.Compare(strings.ToLower(a.ClientHost()), strings.ToLower(b.ClientHost()))
		}
		return cmp.Or(c, tie(a, b))
	})
}
