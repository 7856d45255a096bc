// Package historytest generates simulated histories for the tests and
// benchmarks of the history stores: a world of servers whose sessions begin
// and end at known times, observed by collectors with imperfect clocks.
package historytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/session"
)

// Truth is one session as it really was.
type Truth struct {
	Server history.Server
	Client string
	User   string
	Start  time.Time
	End    time.Time // zero: still open
}

// Alive reports whether the session exists at t.
func (tr Truth) Alive(t time.Time) bool {
	return !t.Before(tr.Start) && (tr.End.IsZero() || t.Before(tr.End))
}

// World is a set of servers and the sessions they had.
type World struct {
	Servers  []history.Server
	Sessions []Truth

	byServer map[history.Server][]Truth
}

// Epoch returns the instant generated worlds begin at.
func Epoch() time.Time { return time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC) }

// Generate builds a world of servers servers, each with sessions sessions
// spread over span from Epoch. Every session has its own client address and
// lasts at least 30 seconds; users are shared across servers; about one
// session in four is followed by a reconnect of the same client and user.
// The same seed gives the same world.
func Generate(seed uint64, servers, sessions int, span time.Duration) World {
	epoch := Epoch()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var w World
	for i := range servers {
		w.Servers = append(w.Servers, history.Server{
			Target:  fmt.Sprintf("fs%03d.corp.example", i),
			Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1),
		})
	}
	users := []string{"alice", "bob", "carol", `CORP\dave`, "erin", "svc_backup", "WS01$"}
	for si, srv := range w.Servers {
		for j := 0; j < sessions; {
			start := epoch.Add(time.Duration(r.Int64N(int64(span))))
			life := 30*time.Second + time.Duration(r.Int64N(int64(span/2)))
			tr := Truth{
				Server: srv,
				Client: fmt.Sprintf("10.%d.%d.%d", 100+si%100, j/250%256, j%250+1),
				User:   users[r.IntN(len(users))],
				Start:  start,
				End:    start.Add(life),
			}
			if r.IntN(5) == 0 {
				tr.End = time.Time{}
			}
			w.Sessions = append(w.Sessions, tr)
			j++
			if j < sessions && !tr.End.IsZero() && r.IntN(4) == 0 {
				re := tr
				re.Start = tr.End.Add(time.Duration(1+r.IntN(20)) * time.Second)
				re.End = re.Start.Add(30*time.Second + time.Duration(r.Int64N(int64(span/2))))
				w.Sessions = append(w.Sessions, re)
				j++
			}
		}
	}
	w.byServer = map[history.Server][]Truth{}
	for _, tr := range w.Sessions {
		w.byServer[tr.Server] = append(w.byServer[tr.Server], tr)
	}
	return w
}

// Observe returns what a collector whose clock is off by skew sees when it
// enumerates srv at the real instant at: every session alive then, with its
// time in whole seconds, at level 10. The observation's time is the
// collector's (at plus skew).
func (w World) Observe(srv history.Server, at time.Time, skew time.Duration) history.Observation {
	o := history.Observation{
		Server: srv, ObservedAt: at.Add(skew), Collected: true, Level: session.Level10,
		Transport: "smb", Port: 445,
	}
	list := w.byServer[srv]
	if w.byServer == nil {
		list = w.Sessions
	}
	for _, tr := range list {
		if tr.Server != srv || !tr.Alive(at) {
			continue
		}
		o.Sessions = append(o.Sessions, session.Info{
			ClientName: tr.Client,
			UserName:   tr.User,
			Time:       uint32(at.Sub(tr.Start) / time.Second),
			IdleTime:   1,
			NumOpens:   1,
		})
	}
	return o
}

// Seen returns the sessions of the world that at least one of the
// observation instants catches alive on their server.
func (w World) Seen(srv func(history.Server) []time.Time) []Truth {
	var out []Truth
	for _, tr := range w.Sessions {
		if slices.ContainsFunc(srv(tr.Server), tr.Alive) {
			out = append(out, tr)
		}
	}
	return out
}

// Match compares stored sessions with the truth: every truth must be
// stored exactly once (same server, client and user, start within the
// tolerance) and nothing else may be stored. It returns one line per
// difference.
func Match(truth []Truth, got []history.Session) []string {
	var diffs []string
	used := make([]bool, len(got))
	for _, tr := range truth {
		n := 0
		for i, s := range got {
			if s.Server == tr.Server && s.Client == tr.Client && s.User == tr.User && s.Start.Sub(tr.Start).Abs() <= history.StartTolerance {
				n++
				used[i] = true
			}
		}
		if n != 1 {
			diffs = append(diffs, fmt.Sprintf("%s %s %s started %s: stored %d times", tr.Server.Target, tr.Client, tr.User, tr.Start.Format(time.TimeOnly), n))
		}
	}
	for i, s := range got {
		if !used[i] {
			diffs = append(diffs, fmt.Sprintf("%s %s %s started %s: stored but never alive", s.Server.Target, s.Client, s.User, s.Start.Format(time.TimeOnly)))
		}
	}
	return diffs
}
