package bloodhound

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

// SessionsSeen returns the sessions of the history that an observation
// listed within [since, until) (a zero until: no end), that is whose
// first sighting is before until and whose last is at or after since,
// ordered by server target, then start. It asks the store for the
// sessions active at since and for those that started or ended within the
// window, which together hold every session seen in it.
func SessionsSeen(ctx context.Context, st history.Store, since, until time.Time) ([]history.Session, error) {
	active, err := st.Sessions(ctx, history.Query{At: since})
	if err != nil {
		return nil, err
	}
	within, err := st.Sessions(ctx, history.Query{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []history.Session
	for _, s := range append(active, within...) {
		if seen[s.ID] || s.LastSeen.Before(since) || (!until.IsZero() && !s.FirstSeen.Before(until)) {
			continue
		}
		seen[s.ID] = true
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b history.Session) int {
		return cmp.Or(cmp.Compare(a.Server.Target, b.Server.Target), a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// HistoryResults turns a window of the history into one scan result per
// server, for Resolver.Resolve and Computers.Add, so that the computers
// file of a window is made as a scan's is: seen are the window's sessions
// (SessionsSeen), last the results of the last run over the servers.
//
// A server of last keeps that result's outcome (Collected, Failure,
// Level: a host that failed its last run is not collected, with the
// run's reason) and carries every session of the window, listed in
// earlier runs or in the last: sessions are what was seen, Collected how
// the last attempt went. A result the run interrupted (ReasonCanceled)
// says nothing about the host and counts as absent. A server of seen
// that is absent from last is collected: the history holds a successful
// enumeration of it within the window (the last that listed a session),
// at the level of that enumeration. Servers are matched by target, the
// results come in last's order, then the others by target, and the
// sessions of each in the order of seen; each session is the server's
// answer as last stored (client, user, opens, idle time).
func HistoryResults(seen []history.Session, last []*scan.Result) []*scan.Result {
	byTarget := map[string][]history.Session{}
	var order []string
	for _, s := range seen {
		t := s.Server.Target
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], s)
	}
	var out []*scan.Result
	done := map[string]bool{}
	for _, r := range last {
		if r == nil || done[r.Target] || (!r.Collected && r.Failure.Reason == client.ReasonCanceled) {
			continue
		}
		done[r.Target] = true
		c := *r
		c.Sessions = sessionsOf(byTarget[r.Target])
		out = append(out, &c)
	}
	slices.Sort(order)
	for _, t := range order {
		if done[t] {
			continue
		}
		ss := byTarget[t]
		latest := ss[0]
		for _, s := range ss[1:] {
			if s.LastSeen.After(latest.LastSeen) {
				latest = s
			}
		}
		out = append(out, &scan.Result{
			Target:     t,
			Address:    latest.Server.Address,
			ObservedAt: latest.LastSeen,
			Level:      latest.Level,
			HasLevel:   true,
			Collected:  true,
			Sessions:   sessionsOf(ss),
		})
	}
	return out
}

// sessionsOf converts stored sessions back to what a server answered.
func sessionsOf(ss []history.Session) []client.Session {
	out := make([]client.Session, 0, len(ss))
	for _, s := range ss {
		out = append(out, client.Session{
			Info:     session.Info{ClientName: s.Client, UserName: s.User, NumOpens: s.Opens, IdleTime: s.IdleTime},
			Level:    s.Level,
			Received: s.LastSeen,
		})
	}
	return out
}

// FromHistory makes the computers file of a window of the history: the
// results HistoryResults builds from SessionsSeen(st, since, until) and
// last, each resolved with res (comps gives the directory's computer of a
// target that came from the directory; nil looks every host up) and added
// to a new collection. The resolution outlives ctx's cancellation: each
// lookup has the directory's own deadline.
func FromHistory(ctx context.Context, st history.Store, res *directory.Resolver, comps map[string]*directory.Computer,
	last []*scan.Result, since, until time.Time, opt Options) (*Computers, error) {
	seen, err := SessionsSeen(ctx, st, since, until)
	if err != nil {
		return nil, err
	}
	c := NewComputers(opt)
	rctx := context.WithoutCancel(ctx)
	for _, r := range HistoryResults(seen, last) {
		c.Add(res.Resolve(rctx, r, comps[r.Target]))
	}
	return c, nil
}
