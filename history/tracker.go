package history

import (
	"cmp"
	"slices"
	"time"
)

// Tracker reconciles observations in memory, without a store: the same
// rules as a Store's Apply, for a collector that keeps no history and as a
// reference for the stores' tests. Its zero value is ready; it is not safe
// for concurrent use.
type Tracker struct {
	hosts  map[Server]*trackedHost
	nextID int64
}

type trackedHost struct {
	state    HostState
	sessions []Session
}

// Apply applies one observation and returns its events.
func (tr *Tracker) Apply(obs Observation) []Event {
	obs = obs.Clean()
	if tr.hosts == nil {
		tr.hosts = map[Server]*trackedHost{}
	}
	if obs.Server.Address == "" && !obs.Collected {
		var latest time.Time
		for srv, h := range tr.hosts {
			if srv.Target == obs.Server.Target && srv.Address != "" && h.state.LastObserved.After(latest) {
				obs.Server.Address, latest = srv.Address, h.state.LastObserved
			}
		}
	}
	h := tr.hosts[obs.Server]
	if h == nil {
		h = &trackedHost{}
		tr.hosts[obs.Server] = h
	}
	var cand []Session
	for _, s := range h.sessions {
		if Candidates(s, obs.ObservedAt) {
			cand = append(cand, s)
		}
	}
	ch := Reconcile(h.state, cand, obs)
	h.state = ch.Host
	ids := map[int64]int{}
	for i, s := range h.sessions {
		ids[s.ID] = i
	}
	for i, s := range ch.Sessions {
		if s.ID == 0 {
			tr.nextID++
			ch.Stored(i, tr.nextID, s.Seq)
			h.sessions = append(h.sessions, ch.Sessions[i])
			continue
		}
		h.sessions[ids[s.ID]] = s
	}
	return ch.Events
}

// Sessions returns every session tracked, ordered by server, then start.
func (tr *Tracker) Sessions() []Session {
	var out []Session
	for _, h := range tr.hosts {
		out = append(out, h.sessions...)
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.Server.Target, b.Server.Target), cmp.Compare(a.Server.Address, b.Server.Address), compareSessions(a, b))
	})
	return out
}

// Host returns the state of a server.
func (tr *Tracker) Host(s Server) HostState {
	if h := tr.hosts[s]; h != nil {
		return h.state
	}
	return HostState{}
}

// sameIdentity reports whether a and b are the same stored row: the key
// the stores' unique constraint covers.
func sameIdentity(a, b Session) bool {
	return a.Server == b.Server && a.Client == b.Client && a.User == b.User && a.Start.Equal(b.Start) && a.Seq == b.Seq
}
