package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/server"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

const demoHelp = `A tour of NetSessionEnum that needs nothing installed. It starts a server on
loopback ports (SMB2/3 with \PIPE\srvsvc, and srvsvc on ncacn_ip_tcp) with
built-in demo accounts and a handful of sessions (logons, opens, activity,
idle time), logs on to it as the chosen caller, and prints what
NetrSessionEnum answers at each level, the way "net session" would show it.
Over SMB (the default) the client's own session appears in the list, as on
a real file server; --transport tcp authenticates with NTLM inside DCE/RPC.

Demo accounts (password = name + "Pass1"): administrator (Administrators),
operator (Server Operators), bob (no groups); "guest" logs on with an
unknown name and is mapped to the guest account; "anonymous" makes no logon.

A level the server refuses is shown in place of its table; the exit code
is that of the first refusal, with the meanings "netsess list" gives them
(access denied: 4).

--fleet shows "netsess scan" instead: it serves a simulated fleet of seven
SMB2/3 servers on loopback, one of each behaviour of "netsess fleet"
(normal, denied, samba, close, hang, refuse, slow), scans it as
FLEET\scanner at level auto with a 2s deadline per host, and prints each
host's result (collected, or the reason it was not) and the summary. It
exits 0 when every host yielded what its behaviour promises, 5 otherwise.`

// demoSeeds are the sessions the demo serves; Time and Idle say how many
// seconds ago each logged on and was last active.
func demoSeeds() []server.Seed {
	const smb = smb2.DefaultTransport
	return []server.Seed{
		{Client: "::ffff:192.168.7.20", User: "WKS7$", Time: 26 * 3600, Idle: 3 * 3600, Transport: smb},                                                                     // a machine account over IPv4-mapped IPv6
		{Client: "10.0.0.5", User: "alice", Opens: 2, Time: 2*3600 + 13*60, Idle: 5 * 60, Transport: smb},                                                                   // SMB2 from an IPv4 address
		{Client: "fe80::9%eth0", User: "bob", Opens: 1, Time: 47 * 60, Idle: 45, Transport: smb},                                                                            // link-local IPv6 (the zone is dropped)
		{Client: "WKSCAROL", User: "carol", Time: 9 * 60, Idle: 9 * 60, ClientType: "Windows 5.0", Transport: `\Device\NetBT_Tcpip_{6B3C2A1E-2F8D-4D8E-9C1B-0A1B2C3D4E5F}`}, // NetBIOS with a computer name
		{Client: "10.0.0.9", User: "nobody", Opens: 1, Time: 30, Idle: 2, Flags: session.FlagGuest | session.FlagNoEncryption, Transport: smb},                              // a guest without encryption
	}
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:    "demo",
		Summary: "serve demo sessions on loopback and list them, no setup needed",
		Help:    demoHelp,
		Examples: []string{
			"netsess demo",
			"netsess demo --level 10 --as user --policy legacy",
			"netsess demo --level 1 --prefmaxlen 200",
			"netsess demo --as anonymous --policy open --level 0",
			"netsess demo --transport tcp --spnego",
			"netsess demo --fleet",
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "every level asked for answered"},
			{Code: 1, Meaning: "usage error (bad flag or value)"},
			{Code: 2, Meaning: "the demo client could not reach the demo server (a timeout)"},
			{Code: 3, Meaning: "logon failure"},
			{Code: 4, Meaning: "access denied: the policy refused the caller a level (as list exits for the same denial)"},
			{Code: 5, Meaning: "the demo server could not start, or another status (--fleet: a host did not yield what its behaviour promises)"},
			{Code: 6, Meaning: "the RPC failed"},
			{Code: 130, Meaning: "interrupted (Ctrl-C)"},
		},
		Define: defineDemo,
	}
}

func defineDemo(fs *cli.FlagSet) cli.Action {
	levels := fs.String("level", "0,1,2,10,502", "comma-separated `LEVELS` to show (0, 1, 2, 10, 502)")
	as := fs.Choice("as", "admin", []string{"admin", "operator", "user", "guest", "anonymous"}, "`CALLER` to log on as: admin, operator, user, guest or anonymous")
	policy := fs.String("policy", "modern", "server access `POLICY`: modern, legacy, open, or rules such as '0,10=user;1,2,502,del=operator'")
	cname := fs.Choice("cname", "windows", []string{"windows", "bare"}, `client name `+"`STYLE`"+` of the server: windows (\\10.0.0.5) or bare (10.0.0.5)`)
	budget := fs.Uint32("prefmaxlen", session.MaxPreferredLength, "preferred maximum length per call in NDR `BYTES`; a small value shows paging with resume handles")
	client_ := fs.String("client", "", `only sessions from this `+"`CLIENT`"+` (\\ is added when missing)`)
	user := fs.String("user", "", "only sessions of this `USER`")
	transport := fs.Choice("transport", "smb", []string{"smb", "tcp"}, `how the client reaches srvsvc: smb (SMB2/3 logon, \PIPE\srvsvc; its own session is listed) or tcp (ncacn_ip_tcp, NTLM inside DCE/RPC)`)
	authLevel := fs.Choice("auth", "integrity", []string{"integrity", "privacy"}, "over tcp, DCE/RPC protection of the logon: integrity (signed) or privacy (sealed)")
	spnego := fs.Bool("spnego", "over tcp, wrap NTLM in SPNEGO (auth type 9) instead of raw NTLMSSP (10)")
	fleetDemo := fs.Bool("fleet", `instead, serve a small simulated fleet (one server of each behaviour "netsess fleet" offers) and print a scan of it as "netsess scan" would`)
	return func(ctx context.Context, inv *cli.Invocation) int {
		if *fleetDemo {
			return runDemoFleet(ctx, inv)
		}
		return runDemo(ctx, inv, *levels, *as, *policy, *cname, *budget, *client_, *user, *transport, *authLevel, *spnego)
	}
}

func runDemo(ctx context.Context, inv *cli.Invocation, levels, as, policy, cname string, budget uint32, client_, user, transport, authLevel string, spnego bool) int {
	stdout, stderr := inv.Stdout, inv.Stderr
	lv, err := parseLevels(levels)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: --level: %v\n", err)
		return exitUsage
	}
	who, ok := demoCallers()[strings.ToLower(as)]
	if !ok {
		fmt.Fprintf(stderr, "netsess demo: --as: want admin, operator, user, guest or anonymous, not %q\n", as)
		return exitUsage
	}
	pol, err := session.ParsePolicy(policy)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: --policy: %v\n", err)
		return exitUsage
	}
	style, ok := session.ParseCnameStyle(cname)
	if !ok {
		fmt.Fprintf(stderr, "netsess demo: --cname: want windows or bare, not %q\n", cname)
		return exitUsage
	}
	var level dcerpc.AuthLevel
	switch authLevel {
	case "integrity":
		level = dcerpc.AuthLevelIntegrity
	case "privacy":
		level = dcerpc.AuthLevelPrivacy
	default:
		fmt.Fprintf(stderr, "netsess demo: --auth: want integrity or privacy, not %q\n", authLevel)
		return exitUsage
	}

	if transport != client.TransportSMB && transport != client.TransportTCP {
		fmt.Fprintf(stderr, "netsess demo: --transport: want smb or tcp, not %q\n", transport)
		return exitUsage
	}
	accounts, err := demoAccounts()
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: %s\n", userText(err))
		return exitInternal
	}
	ready := make(chan server.Addrs, 1)
	srv, err := server.New(server.Config{
		Accounts:     accounts,
		Policy:       pol,
		Cname:        style,
		Seeds:        demoSeeds(),
		ComputerName: "DEMO-FS",
		SMBAddr:      "127.0.0.1:0",
		// Guests and null sessions have no key to sign with: admit them
		// (unsigned SMB, DCE/RPC level connect) to show those classes.
		AllowGuest:        true,
		AllowAnonymous:    true,
		AllowConnectLevel: who.noKey,
		OnReady:           func(a server.Addrs) { ready <- a },
	})
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: %s\n", userText(err))
		return exitInternal
	}
	runCtx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(runCtx) }()
	defer func() { stopServer(); <-served }()
	var addrs server.Addrs
	select {
	case addrs = <-ready:
	case err := <-served:
		served <- err
		fmt.Fprintf(stderr, "netsess demo: %s\n", userText(err))
		return exitInternal
	}

	opts := client.Options{Transport: transport, SPNEGO: spnego, PrefMaxLen: budget, Timeout: 30 * time.Second}
	addr := addrs.RPC
	how := "no logon (anonymous bind)"
	if transport == client.TransportSMB {
		addr = addrs.SMB
		how = "SMB null session"
		if who.logon != nil {
			how = fmt.Sprintf("SMB logon as %q, then \\PIPE\\srvsvc", who.logon.User)
			opts.Credentials = *who.logon
			opts.AllowGuest = who.noKey // the demo's guest is one on purpose
		} else {
			opts.Credentials = client.Credentials{Anonymous: true}
		}
	} else if who.logon != nil {
		opts.Credentials = *who.logon
		if who.noKey {
			level, authLevel = dcerpc.AuthLevelConnect, "connect (a guest has no key to sign with)"
		}
		opts.Auth = level
		mech := "NTLMSSP"
		if spnego {
			mech = "SPNEGO/NTLMSSP"
		}
		how = fmt.Sprintf("%s logon as %q, auth level %s", mech, who.logon.User, authLevel)
	} else {
		opts.Credentials = client.Credentials{Anonymous: true}
	}
	if budget == session.MaxPreferredLength {
		opts.PrefMaxLen = 0 // everything in one call
	}
	c, err := client.Dial(ctx, addr, opts)
	if err != nil {
		msg, _ := describe(err, failContext{cmd: "demo"})
		fmt.Fprintf(stderr, "netsess demo: %s\n", msg)
		return exitCode(err)
	}
	defer c.Close()

	fmt.Fprintf(stdout, "Serving %d sessions over SMB2/3 on %s and ncacn_ip_tcp on %s (policy %s); client: %s.\n",
		srv.Table().Len(), addrs.SMB, addrs.RPC, pol.Name(), how)
	code := exitOK
	for _, l := range lv {
		fmt.Fprintf(stdout, "\nNetrSessionEnum level %d:\n", l)
		res, err := c.EnumAll(ctx, l, client.Filter{Client: client_, User: user})
		if err != nil {
			msg, _ := describe(err, failContext{cmd: "demo"})
			fmt.Fprintf(stdout, "  %s\n", msg)
			if code == exitOK {
				code = exitCode(err) // the first failure, as list would exit
			}
			continue
		}
		if opts.PrefMaxLen != 0 {
			fmt.Fprintf(stdout, "  %d entries in %d calls of at most %d bytes, each ERROR_MORE_DATA but the last\n", len(res.Sessions), res.Pages, opts.PrefMaxLen)
		}
		infos := make([]session.Info, len(res.Sessions))
		for i := range res.Sessions {
			infos[i] = res.Sessions[i].Info
		}
		var b strings.Builder
		_ = sessfmt.WriteTable(&b, l, infos)
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			if line != "" {
				fmt.Fprint(stdout, "  "+line)
			}
		}
	}
	return code
}

// demoCaller is one -as choice: the logon to make (nil: none).
type demoCaller struct {
	logon *client.Credentials
	noKey bool // the logon maps to guest and yields no session key
}

func demoCallers() map[string]demoCaller {
	return map[string]demoCaller{
		"admin":     {logon: &client.Credentials{User: "administrator", Password: "administratorPass1", Domain: "DEMO"}},
		"operator":  {logon: &client.Credentials{User: "operator", Password: "operatorPass1", Domain: "DEMO"}},
		"user":      {logon: &client.Credentials{User: "bob", Password: "bobPass1", Domain: "DEMO"}},
		"guest":     {logon: &client.Credentials{User: "visitor", Password: "anything", Domain: "DEMO"}, noKey: true},
		"anonymous": {},
	}
}

// demoAccounts are the demo server's accounts; unknown names map to guest.
func demoAccounts() (*ntlm.Accounts, error) {
	return ntlm.NewAccounts("NETSESS", true,
		ntlm.Account{Name: "administrator", NTHash: ntlm.NTHash("administratorPass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "operator", NTHash: ntlm.NTHash("operatorPass1"), Groups: []string{session.GroupServerOperators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("bobPass1")},
	)
}

func parseLevels(s string) ([]session.Level, error) {
	var out []session.Level
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil || !session.Level(n).Valid() {
			return nil, fmt.Errorf("%q is not a level (want 0, 1, 2, 10 or 502)", strings.TrimSpace(f))
		}
		out = append(out, session.Level(n))
	}
	return out, nil
}
