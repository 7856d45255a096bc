package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

const listHelp = `Usage: netsess list --server HOST[:PORT] [flags]

Lists the sessions of a server (NetSessionEnum: MS-SRVS NetrSessionEnum):
who is connected, from which client, for how long and idle since when.

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

Output: a table; --json prints one object per session per line with the
keys server, client (as the server sent it), client_host (without \\,
brackets or zone), client_name (only with --resolve, when a name was
found), user, opens, time, idle_time (seconds; 4294967295 means unknown),
user_flags (1 guest, 2 no encryption), client_type, transport and level.
A key the level does not carry is absent; a carried zero is printed. A
failure prints one object instead: server, error, status (+ status_name)
or fault (+ fault_name), level, tried (level auto), detail. --csv has the
same names as columns plus error, status and fault.

` + credentialsHelp + `
Flags:
`

const listExamples = `
Examples:
  netsess list --server fs1 -U 'CORP\alice' --level 10 --json
  netsess list --server 127.0.0.1:49670 --transport tcp -U alice%AlicePass1
  NETSESS_PASSWORD=... netsess list --server fs1 -U alice@corp.example --csv
  netsess list --server fs1 --nt-hash 0123456789abcdef0123456789abcdef -U alice --user bob
  netsess list --server 127.0.0.1 --transport tcp --epm 127.0.0.1:13500 --anonymous

`

// runList is "netsess list".
func runList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return listCmd(ctx, args, stdout, stderr, osEnv(stderr))
}

func listCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	level := fs.String("level", "auto", "SESSION_INFO level: 0, 1, 2, 10, 502 or auto")
	cl := fs.String("client", "", `only sessions from this client (the \\ is added when missing)`)
	user := fs.String("user", "", "only sessions of this user")
	maxLen := fs.Uint("max-len", 0, "preferred maximum length of one answer in bytes (0: everything at once); small values make the server page")
	noMachine := fs.Bool("no-machine-accounts", false, "hide sessions of machine accounts (user names ending in $)")
	resolve := fs.Bool("resolve", false, "look up the DNS name of every client that is an IP address (adds client_name)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), listHelp)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), listExamples+clientExitCodes)
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	lv, err := parseLevel(*level, session.Levels()...)
	if err != nil {
		fmt.Fprintf(stderr, "netsess list: %v\n", err)
		return exitUsage
	}
	if *maxLen > 0xFFFFFFFF {
		fmt.Fprintf(stderr, "netsess list: --max-len: at most 4294967295\n")
		return exitUsage
	}
	server, opts, err := cf.options(fs.Args(), env, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "netsess list: %v\n", err)
		return exitUsage
	}
	opts.PrefMaxLen = uint32(*maxLen)
	p := newPrinter("list", &cf, server, stdout, stderr)
	c, err := client.Dial(ctx, server, opts)
	if err != nil {
		return p.failure(err)
	}
	defer c.Close()
	res, err := c.EnumAll(ctx, lv, client.Filter{Client: *cl, User: *user})
	ss := res.Sessions
	if *noMachine {
		kept := ss[:0]
		for _, s := range ss {
			if !strings.HasSuffix(s.UserName, "$") {
				kept = append(kept, s)
			}
		}
		ss = kept
	}
	if *resolve {
		p.names = resolveClients(ctx, env.lookupAddr, cf.timeout, ss)
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
		fmt.Fprintf(stderr, "netsess list: %v\n", err)
		return exitStatus
	}
	return exitOK
}
