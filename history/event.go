package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/netsession/netsession/session"
)

// EventKind names what happened.
type EventKind string

// The event kinds. Their spelling is part of the JSON Lines interface.
const (
	SessionStart  EventKind = "session_start"  // a session was seen for the first time
	SessionEnd    EventKind = "session_end"    // a session is no longer listed
	HostFailed    EventKind = "host_failed"    // a server could not be enumerated
	HostRecovered EventKind = "host_recovered" // a failing server answered again
)

// Valid reports whether k is one of the four kinds.
func (k EventKind) Valid() bool {
	switch k {
	case SessionStart, SessionEnd, HostFailed, HostRecovered:
		return true
	}
	return false
}

// Event is one change in the history. Session events carry the session as
// it was after the change; host events carry the server and, for
// host_failed, the reason.
type Event struct {
	Kind    EventKind
	At      time.Time // the observation that revealed it
	Server  Server
	Session Session // session events only (its Server equals Server)
	Reason  string  // host_failed only
}

// ErrEventSyntax is wrapped by every error UnmarshalJSON returns for an
// event line that is not a valid event.
var ErrEventSyntax = errors.New("history: malformed event")

// eventJSON is the wire form of an Event: one JSON object per line, UTC
// RFC 3339 times, fields left out when they do not apply.
type eventJSON struct {
	Event     EventKind `json:"event"`
	At        string    `json:"at"`
	Target    string    `json:"target"`
	Address   string    `json:"address,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ID        int64     `json:"session_id,omitempty"`
	Client    *string   `json:"client,omitempty"`
	User      *string   `json:"user,omitempty"`
	Start     string    `json:"start,omitempty"`
	FirstSeen string    `json:"first_seen,omitempty"`
	LastSeen  string    `json:"last_seen,omitempty"`
	EndedAt   string    `json:"ended_at,omitempty"`
	Opens     *uint32   `json:"opens,omitempty"`
	IdleTime  *uint32   `json:"idle_time,omitempty"`
	Level     *uint32   `json:"level,omitempty"`
	Snapshot  bool      `json:"snapshot,omitempty"`
	Seq       int       `json:"seq,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %v", ErrEventSyntax, field, err)
	}
	return micro(t), nil
}

// MarshalJSON encodes the event as one JSON object with the stable field
// names event, at, target, address, reason (host_failed), and for session
// events session_id, client, user, start, first_seen, last_seen, ended_at,
// opens, idle_time (seconds), level, snapshot and seq. Times are UTC
// RFC 3339.
func (e Event) MarshalJSON() ([]byte, error) {
	w := eventJSON{
		Event:   e.Kind,
		At:      formatTime(e.At),
		Target:  e.Server.Target,
		Address: e.Server.Address,
		Reason:  e.Reason,
	}
	if e.Kind == SessionStart || e.Kind == SessionEnd {
		s := e.Session
		lvl := uint32(s.Level)
		w.ID = s.ID
		w.Client, w.User = &s.Client, &s.User
		w.Start, w.FirstSeen, w.LastSeen, w.EndedAt = formatTime(s.Start), formatTime(s.FirstSeen), formatTime(s.LastSeen), formatTime(s.EndedAt)
		w.Opens, w.IdleTime, w.Level = &s.Opens, &s.IdleTime, &lvl
		w.Snapshot, w.Seq = s.Snapshot, s.Seq
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON writes. Unknown fields are
// ignored (later versions may add some); an unknown kind, a missing time
// or target, or a malformed time is an error wrapping ErrEventSyntax.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w eventJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: %v", ErrEventSyntax, err)
	}
	if !w.Event.Valid() {
		return fmt.Errorf("%w: unknown event %q", ErrEventSyntax, w.Event)
	}
	if w.At == "" || w.Target == "" {
		return fmt.Errorf("%w: at and target are required", ErrEventSyntax)
	}
	var out Event
	var err error
	out.Kind, out.Reason = w.Event, w.Reason
	out.Server = Server{Target: w.Target, Address: w.Address}
	if out.At, err = parseTime("at", w.At); err != nil {
		return err
	}
	if w.Event == SessionStart || w.Event == SessionEnd {
		s := &out.Session
		s.ID, s.Server, s.Snapshot, s.Seq = w.ID, out.Server, w.Snapshot, w.Seq
		if w.Client != nil {
			s.Client = *w.Client
		}
		if w.User != nil {
			s.User = *w.User
		}
		if w.Opens != nil {
			s.Opens = *w.Opens
		}
		if w.IdleTime != nil {
			s.IdleTime = *w.IdleTime
		}
		if w.Level != nil {
			s.Level = session.Level(*w.Level)
		}
		for _, f := range []struct {
			name string
			src  string
			dst  *time.Time
		}{{"start", w.Start, &s.Start}, {"first_seen", w.FirstSeen, &s.FirstSeen}, {"last_seen", w.LastSeen, &s.LastSeen}, {"ended_at", w.EndedAt, &s.EndedAt}} {
			if *f.dst, err = parseTime(f.name, f.src); err != nil {
				return err
			}
		}
	}
	*e = out
	return nil
}
