package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

const demoHelp = `Usage: netsess demo [flags]

A tour of NetSessionEnum that needs nothing installed. It builds a session
table, feeds it a handful of sessions as an SMB server would (logons, opens,
activity, idle time), serves it over DCE/RPC (ncacn_ip_tcp) on a loopback
port with built-in demo accounts, then logs on to that server with NTLM as
the chosen caller and prints what NetrSessionEnum answers at each level, the
way "net session" would show it.

Demo accounts (password = name + "Pass1"): administrator (Administrators),
operator (Server Operators), bob (no groups); "guest" logs on with an
unknown name and is mapped to the guest account; "anonymous" makes no logon.

Flags:
`

// demoSessions are the sessions the demo feeds: how long ago they logged
// on, how long ago they were last active, and their opens.
type demoSession struct {
	spec        session.Spec
	age, idle   time.Duration
	opens       int
	description string
}

func demoData() []demoSession {
	return []demoSession{
		{session.Spec{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`}, 2*time.Hour + 13*time.Minute, 5 * time.Minute, 2, "alice over SMB2 from an IPv4 address"},
		{session.Spec{Client: "fe80::9%eth0", User: "bob", Transport: `\Device\NetbiosSmb`}, 47 * time.Minute, 45 * time.Second, 1, "bob from a link-local IPv6 address (zone dropped)"},
		{session.Spec{Client: "::ffff:192.168.7.20", User: "WKS7$", Transport: `\Device\NetbiosSmb`}, 26 * time.Hour, 3 * time.Hour, 0, "a machine account over IPv4-mapped IPv6"},
		{session.Spec{Client: "WKSCAROL", User: "carol", ClientType: "Windows 5.0", Transport: `\Device\NetBT_Tcpip_{6B3C2A1E-2F8D-4D8E-9C1B-0A1B2C3D4E5F}`}, 9 * time.Minute, 9 * time.Minute, 0, "carol over NetBIOS with her computer name"},
		{session.Spec{Client: "10.0.0.9", User: "nobody", Guest: true, NoEncryption: true, Transport: `\Device\NetbiosSmb`}, 30 * time.Second, 2 * time.Second, 1, "a guest logon without encryption"},
	}
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	levels := fs.String("level", "0,1,2,10,502", "comma-separated levels to show (0, 1, 2, 10, 502)")
	as := fs.String("as", "admin", "caller to log on as: admin, operator, user, guest or anonymous")
	policy := fs.String("policy", "modern", "server access policy: modern, legacy, open, or rules such as '0,10=user;1,2,502,del=operator'")
	cname := fs.String("cname", "windows", `client name style of the server: windows (\\10.0.0.5) or bare (10.0.0.5)`)
	budget := fs.Uint("prefmaxlen", uint(session.MaxPreferredLength), "preferred maximum length per call in NDR bytes; a small value shows paging with resume handles")
	client := fs.String("client", "", `only sessions from this client (\\ is added when missing)`)
	user := fs.String("user", "", "only sessions of this user")
	authLevel := fs.String("auth", "integrity", "DCE/RPC protection of the logon: integrity (signed) or privacy (sealed)")
	spnego := fs.Bool("spnego", false, "wrap NTLM in SPNEGO (auth type 9) instead of raw NTLMSSP (10)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoHelp)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nExamples:\n  netsess demo\n  netsess demo -level 10 -as user -policy legacy\n  netsess demo -level 1 -prefmaxlen 200\n  netsess demo -as anonymous -policy open -level 0\n")
	}
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "netsess demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: -level: %v\n", err)
		return exitUsage
	}
	who, ok := demoCallers()[strings.ToLower(*as)]
	if !ok {
		fmt.Fprintf(stderr, "netsess demo: -as: want admin, operator, user, guest or anonymous, not %q\n", *as)
		return exitUsage
	}
	pol, err := session.ParsePolicy(*policy)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: -policy: %v\n", err)
		return exitUsage
	}
	style, ok := session.ParseCnameStyle(*cname)
	if !ok {
		fmt.Fprintf(stderr, "netsess demo: -cname: want windows or bare, not %q\n", *cname)
		return exitUsage
	}
	if *budget > uint(session.MaxPreferredLength) {
		fmt.Fprintf(stderr, "netsess demo: -prefmaxlen: %d does not fit in 32 bits\n", *budget)
		return exitUsage
	}
	var level dcerpc.AuthLevel
	switch *authLevel {
	case "integrity":
		level = dcerpc.AuthLevelIntegrity
	case "privacy":
		level = dcerpc.AuthLevelPrivacy
	default:
		fmt.Fprintf(stderr, "netsess demo: -auth: want integrity or privacy, not %q\n", *authLevel)
		return exitUsage
	}
	authType := dcerpc.AuthTypeNTLM
	if *spnego {
		authType = dcerpc.AuthTypeSPNEGO
	}
	qClient := ""
	if *client != "" {
		qClient = `\\` + strings.TrimPrefix(*client, `\\`)
	}

	table := feedDemo(time.Now(), pol, style)
	srv, addr, stop, err := startDemoServer(ctx, table)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: %v\n", err)
		return exitInternal
	}
	defer stop()

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: %v\n", err)
		return exitInternal
	}
	var opts []dcerpc.ClientOption
	how := "no logon (anonymous bind)"
	if who.logon != nil {
		if who.noKey {
			// A guest logon yields no session key, so it cannot sign or
			// seal: it can only authenticate at level connect.
			level, *authLevel = dcerpc.AuthLevelConnect, "connect (a guest has no key to sign with)"
		}
		ini, err := rpcauth.Initiator(who.logon, authType, level)
		if err != nil {
			fmt.Fprintf(stderr, "netsess demo: %v\n", err)
			return exitInternal
		}
		opts = append(opts, dcerpc.WithAuth(ini, 1))
		mech := "NTLMSSP"
		if *spnego {
			mech = "SPNEGO/NTLMSSP"
		}
		how = fmt.Sprintf("%s logon as %q, auth level %s", mech, who.logon.User, *authLevel)
	}
	rpc := dcerpc.NewClient(conn, opts...)
	defer rpc.Close()
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stub, err := srvs.Bind(callCtx, rpc)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: bind: %v\n", err)
		return exitInternal
	}
	stub.ServerName = `\\127.0.0.1`
	_ = srv

	fmt.Fprintf(stdout, "Serving %d sessions over ncacn_ip_tcp on %s (policy %s); client: %s.\n",
		table.Len(), addr, pol.Name(), how)
	failed := false
	for _, l := range lv {
		fmt.Fprintf(stdout, "\nNetrSessionEnum level %d:\n", l)
		if !demoEnum(callCtx, stub, uint32(l), qClient, *user, uint32(*budget), stdout) {
			failed = true
		}
	}
	if failed {
		return exitInternal
	}
	return exitOK
}

// demoCaller is one -as choice: the NTLM logon to make (nil: none).
type demoCaller struct {
	logon *ntlm.Client
	noKey bool // the logon maps to guest and yields no session key
}

func demoCallers() map[string]demoCaller {
	return map[string]demoCaller{
		"admin":     {logon: &ntlm.Client{User: "administrator", Password: "administratorPass1", Domain: "DEMO"}},
		"operator":  {logon: &ntlm.Client{User: "operator", Password: "operatorPass1", Domain: "DEMO"}},
		"user":      {logon: &ntlm.Client{User: "bob", Password: "bobPass1", Domain: "DEMO"}},
		"guest":     {logon: &ntlm.Client{User: "visitor", Password: "anything", Domain: "DEMO"}, noKey: true},
		"anonymous": {},
	}
}

// startDemoServer serves table on a loopback port with the demo accounts.
func startDemoServer(ctx context.Context, table *session.Table) (*dcerpc.Server, string, func(), error) {
	accounts, err := ntlm.NewAccounts("NETSESS", true,
		ntlm.Account{Name: "administrator", NTHash: ntlm.NTHash("administratorPass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "operator", NTHash: ntlm.NTHash("operatorPass1"), Groups: []string{session.GroupServerOperators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("bobPass1")},
	)
	if err != nil {
		return nil, "", nil, err
	}
	srv := &dcerpc.Server{Auth: rpcauth.Acceptors(&ntlm.Server{Accounts: accounts, ComputerName: "DEMO-FS"})}
	if err := srv.Register((&srvs.Handler{Table: table}).Interface()); err != nil {
		return nil, "", nil, err
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(context.WithoutCancel(ctx), l)
	}()
	stop := func() {
		_ = srv.Close()
		<-done
	}
	return srv, l.Addr().String(), stop, nil
}

// demoEnum pages through one level over the wire, printing each page when
// a budget is set, then the entries; it reports whether the call succeeded.
func demoEnum(ctx context.Context, c *srvs.Client, level uint32, client, user string, budget uint32, w io.Writer) bool {
	resume := uint32(0)
	req := srvs.SessionEnumRequest{Level: level, PrefMaxLen: budget, ResumeHandle: &resume}
	if client != "" {
		req.ClientName = &client
	}
	if user != "" {
		req.UserName = &user
	}
	var all []session.Info
	for page := 1; ; page++ {
		resp, err := c.SessionEnum(ctx, &req)
		if err != nil {
			fmt.Fprintf(w, "  %v\n", err)
			return false
		}
		st := session.Status(resp.Status)
		if !st.OK() {
			fmt.Fprintf(w, "  the server answered %v at level %d\n", st, level)
			return false
		}
		all = append(all, resp.Entries...)
		if budget != session.MaxPreferredLength {
			next := uint32(0)
			if resp.ResumeHandle != nil {
				next = *resp.ResumeHandle
			}
			fmt.Fprintf(w, "  page %d: %d entries, total %d, status %s, resume handle %d\n",
				page, len(resp.Entries), resp.TotalEntries, st.Name(), next)
			resume = next
		}
		if st != session.StatusMoreData || page > 10000 {
			break
		}
		if resp.ResumeHandle != nil {
			resume = *resp.ResumeHandle
		}
	}
	var b strings.Builder
	_ = sessfmt.WriteTable(&b, session.Level(level), all)
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			fmt.Fprint(w, "  "+line)
		}
	}
	return true
}

// feedDemo builds the table, replaying each session's history on a manual
// clock so that time and idle time read as described.
func feedDemo(now time.Time, pol session.Policy, style session.CnameStyle) *session.Table {
	data := demoData()
	var oldest time.Duration
	for _, d := range data {
		oldest = max(oldest, d.age)
	}
	clock := session.NewManualClock(now.Add(-oldest))
	table := session.New(session.Options{Clock: clock, Policy: pol, Cname: style})
	type pending struct {
		s  *session.Session
		at time.Time
	}
	// Open in order of logon, then replay last activity.
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	for i := range order {
		for j := i + 1; j < len(order); j++ {
			if data[order[j]].age > data[order[i]].age {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	var touches []pending
	for _, i := range order {
		d := data[i]
		clock.Set(now.Add(-d.age))
		s, err := table.Open(d.spec)
		if err != nil {
			continue // cannot happen: the table is new
		}
		for range d.opens {
			s.AddOpen()
		}
		touches = append(touches, pending{s, now.Add(-d.idle)})
	}
	for i := range touches {
		for j := i + 1; j < len(touches); j++ {
			if touches[j].at.Before(touches[i].at) {
				touches[i], touches[j] = touches[j], touches[i]
			}
		}
	}
	for _, p := range touches {
		clock.Set(p.at)
		p.s.Touch()
	}
	clock.Set(now)
	return table
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
