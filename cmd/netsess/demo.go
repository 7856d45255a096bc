package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/session"
)

const demoHelp = `Usage: netsess demo [flags]

Builds a session table in this process, feeds it a handful of sessions as an
SMB server would (logons, opens, activity, idle time), and prints what
NetSessionEnum answers at each level, the way "net session" would show it.
Nothing is installed or contacted: it is a tour of the semantics.

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

func runDemo(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	levels := fs.String("level", "0,1,2,10,502", "comma-separated levels to show (0, 1, 2, 10, 502)")
	as := fs.String("as", "admin", "caller to query as: admin, operator, user, guest or anonymous")
	policy := fs.String("policy", "modern", "access policy: modern, legacy, open, or rules such as '0,10=user;1,2,502,del=operator'")
	cname := fs.String("cname", "windows", `client name style: windows (\\10.0.0.5) or bare (10.0.0.5)`)
	budget := fs.Uint("prefmaxlen", uint(session.MaxPreferredLength), "preferred maximum length per call in NDR bytes; a small value shows paging with resume handles")
	client := fs.String("client", "", `only sessions from this client (\\ is added when missing)`)
	user := fs.String("user", "", "only sessions of this user")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoHelp)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nExamples:\n  netsess demo\n  netsess demo -level 10 -as user -policy legacy\n  netsess demo -level 1 -prefmaxlen 200\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		return exitUsage
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
	caller, err := demoCaller(*as)
	if err != nil {
		fmt.Fprintf(stderr, "netsess demo: -as: %v\n", err)
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
	q := session.EnumQuery{PrefMaxLen: uint32(*budget), User: *user}
	if *client != "" {
		q.Client = `\\` + strings.TrimPrefix(*client, `\\`)
	}

	table := feedDemo(time.Now(), pol, style)
	fmt.Fprintf(stdout, "A session table with %d sessions; querying as %s under the %s policy.\n", table.Len(), *as, pol.Name())
	failed := false
	for _, l := range lv {
		q.Level = l
		fmt.Fprintf(stdout, "\nNetSessionEnum level %d:\n", l)
		if !enumAll(table, caller, q, stdout) {
			failed = true
		}
	}
	if failed {
		return exitInternal
	}
	return exitOK
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

// enumAll pages through one level, printing each page; it reports whether
// the enumeration succeeded.
func enumAll(table *session.Table, caller session.Caller, q session.EnumQuery, w io.Writer) bool {
	var all []session.Info
	for page := 1; ; page++ {
		res, err := table.Enum(caller, q)
		if err != nil {
			fmt.Fprintf(w, "  failed: %v at level %d\n", err, q.Level)
			return false
		}
		all = append(all, res.Entries...)
		if q.PrefMaxLen != session.MaxPreferredLength {
			fmt.Fprintf(w, "  page %d: %d entries, total %d, status %s, resume handle %d\n",
				page, len(res.Entries), res.TotalEntries, res.Status().Name(), res.Resume)
		}
		if !res.More {
			break
		}
		q.Resume = res.Resume
	}
	var b strings.Builder
	_ = sessfmt.WriteTable(&b, q.Level, all)
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			fmt.Fprint(w, "  "+line)
		}
	}
	return true
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

func demoCaller(s string) (session.Caller, error) {
	switch strings.ToLower(s) {
	case "admin":
		return session.Caller{User: "administrator", Groups: []string{session.GroupAdministrators}}, nil
	case "operator":
		return session.Caller{User: "operator", Groups: []string{session.GroupServerOperators}}, nil
	case "user":
		return session.Caller{User: "bob"}, nil
	case "guest":
		return session.Caller{User: "nobody", Guest: true}, nil
	case "anonymous":
		return session.Caller{Anonymous: true}, nil
	}
	return session.Caller{}, fmt.Errorf("want admin, operator, user, guest or anonymous, not %q", s)
}
