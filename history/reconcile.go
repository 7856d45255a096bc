package history

import (
	"cmp"
	"slices"
	"time"

	"github.com/netsession/netsession/session"
)

// Change is what one observation does to a server's history.
type Change struct {
	// Host is the server's state after the observation.
	Host HostState
	// Sessions are the sessions created (ID 0) or modified by the
	// observation, in a deterministic order.
	Sessions []Session
	// Events are the events the observation caused: the host event first,
	// then session ends, then session starts (then the ends of sessions
	// that only an out-of-order observation listed).
	Events []Event
}

// Candidates reports whether a stored session of the observed server can
// be touched by an observation made at t: it is open, or it ended after t.
// Stores pass Reconcile exactly these sessions.
func Candidates(s Session, t time.Time) bool {
	return s.EndedAt.IsZero() || s.EndedAt.After(micro(t))
}

// seen is one session of an observation, with its estimated start.
type seen struct {
	info  session.Info
	start time.Time
}

// Reconcile applies obs to a server whose state is host and whose sessions
// that can still change (see Candidates) are known. It does not modify
// known. The rules are in the package documentation. Names are cleaned
// first (Observation.Clean).
func Reconcile(host HostState, known []Session, obs Observation) Change {
	obs = obs.Clean()
	t := micro(obs.ObservedAt)
	newest := !host.Known || t.After(host.LastObserved)
	prevSuccess := host.LastSuccess
	var ch Change
	hostEvent := func(kind EventKind, reason string) {
		ch.Events = append(ch.Events, Event{Kind: kind, At: t, Server: obs.Server, Reason: reason})
	}

	if !obs.Collected {
		if newest {
			if !host.Failing || !host.Known {
				hostEvent(HostFailed, obs.Reason)
			}
			host.Known, host.Failing, host.Reason, host.LastObserved = true, true, obs.Reason, t
		}
		ch.Host = host
		return ch
	}
	if newest {
		if host.Known && host.Failing {
			hostEvent(HostRecovered, "")
		}
		host.Known, host.Failing, host.Reason, host.LastObserved = true, false, "", t
	}
	if t.After(host.LastSuccess) {
		host.LastSuccess = t
	}
	ch.Host = host

	snapshot := obs.Level == session.Level0
	obsd := make([]seen, len(obs.Sessions))
	for i, in := range obs.Sessions {
		st := t
		if !snapshot && in.Time != session.TimeUnknown {
			st = t.Add(-time.Duration(in.Time) * time.Second)
		}
		if snapshot {
			in = session.Info{ClientName: in.ClientName}
		}
		obsd[i] = seen{info: in, start: st}
	}

	cur := slices.Clone(known)
	slices.SortFunc(cur, compareSessions)
	for i := range cur {
		cur[i].Server = obs.Server
	}

	// Pair observed and known sessions, nearest start first.
	type pair struct {
		o, k int
		dist time.Duration
	}
	var pairs []pair
	for oi, o := range obsd {
		for ki, k := range cur {
			if k.Snapshot != snapshot || k.Client != o.info.ClientName || k.User != o.info.UserName || !Candidates(k, t) {
				continue
			}
			d := time.Duration(0)
			if !snapshot {
				d = k.Start.Sub(o.start).Abs()
				if d > StartTolerance {
					continue
				}
			}
			pairs = append(pairs, pair{oi, ki, d})
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.k, b.k), cmp.Compare(a.o, b.o))
	})
	oMatched := make([]bool, len(obsd))
	kMatched := make([]bool, len(cur))
	changed := make([]bool, len(cur))
	for _, p := range pairs {
		if oMatched[p.o] || kMatched[p.k] {
			continue
		}
		oMatched[p.o], kMatched[p.k] = true, true
		k := &cur[p.k]
		before := *k
		in := obsd[p.o].info
		if !t.Before(k.LastSeen) {
			k.LastSeen, k.Opens, k.IdleTime, k.Level = t, in.NumOpens, in.IdleTime, obs.Level
		}
		if t.Before(k.FirstSeen) {
			k.FirstSeen = t
		}
		changed[p.k] = *k != before
	}

	// Known sessions not listed: ended, unless they were listed later or
	// are too young for this observation to tell.
	var ends, starts, lateEnds []Event
	for ki := range cur {
		k := &cur[ki]
		if kMatched[ki] || !Candidates(*k, t) || !k.LastSeen.Before(t) || k.Start.After(t.Add(-StartTolerance)) {
			continue
		}
		wasOpen := k.Open()
		k.EndedAt = t
		changed[ki] = true
		if wasOpen {
			ends = append(ends, Event{Kind: SessionEnd, At: t, Server: obs.Server, Session: *k})
		}
	}

	// Observed sessions that matched nothing are new.
	var created []Session
	for oi, o := range obsd {
		if oMatched[oi] {
			continue
		}
		s := Session{
			Server:    obs.Server,
			Client:    o.info.ClientName,
			User:      o.info.UserName,
			Start:     o.start,
			FirstSeen: t,
			LastSeen:  t,
			Opens:     o.info.NumOpens,
			IdleTime:  o.info.IdleTime,
			Level:     obs.Level,
			Snapshot:  snapshot,
		}
		for _, other := range slices.Concat(cur, created) {
			if other.Client == s.Client && other.User == s.User && other.Start.Equal(s.Start) && other.Seq >= s.Seq {
				s.Seq = other.Seq + 1
			}
		}
		if prevSuccess.After(t) {
			// A later successful observation did not list it.
			s.EndedAt = prevSuccess
		}
		created = append(created, s)
	}
	slices.SortFunc(created, compareSessions)
	for _, s := range created {
		starts = append(starts, Event{Kind: SessionStart, At: t, Server: obs.Server, Session: s})
		if !s.Open() {
			lateEnds = append(lateEnds, Event{Kind: SessionEnd, At: s.EndedAt, Server: obs.Server, Session: s})
		}
	}

	for ki, k := range cur {
		if changed[ki] {
			ch.Sessions = append(ch.Sessions, k)
		}
	}
	ch.Sessions = append(ch.Sessions, created...)
	ch.Events = append(ch.Events, ends...)
	ch.Events = append(ch.Events, starts...)
	ch.Events = append(ch.Events, lateEnds...)
	return ch
}

// compareSessions orders sessions by start, client, user, seq and ID.
func compareSessions(a, b Session) int {
	return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Client, b.Client), cmp.Compare(a.User, b.User),
		cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
}

// Stored records that ch.Sessions[i], a session Reconcile created, was
// stored under key id with sequence number seq (a store takes the next seq
// when the row's key is already taken), in the session and in the events
// that carry it.
func (ch *Change) Stored(i int, id int64, seq int) {
	old := ch.Sessions[i]
	ch.Sessions[i].ID, ch.Sessions[i].Seq = id, seq
	for j := range ch.Events {
		e := &ch.Events[j]
		if (e.Kind == SessionStart || e.Kind == SessionEnd) && e.Session.ID == 0 && sameIdentity(e.Session, old) {
			e.Session.ID, e.Session.Seq = id, seq
		}
	}
}
