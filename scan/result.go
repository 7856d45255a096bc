package scan

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// Result is what one target yielded. There is one per target, always: a
// host that could not be asked has a Reason saying why, never an empty
// success.
type Result struct {
	// Target is the target as given (for an address of a range, the
	// address) and Range the range it came from.
	Target string
	Range  string
	// Address is the IP address connected to ("" when the name did not
	// resolve) and Port the TCP port (0 when the transport looked it up
	// and did not get that far).
	Address string
	Port    int
	// Transport is "smb" or "tcp".
	Transport string
	// ObservedAt is when the work on the target started.
	ObservedAt time.Time
	// Duration is how long the target took, from its start to its result.
	Duration time.Duration
	// Level is the level that answered, or the level of the call that
	// failed; HasLevel says whether there is one.
	Level    session.Level
	HasLevel bool
	// LevelsRefused are the levels level auto tried before Level, with
	// the status that refused each; for a failure where every level was
	// refused, all of them.
	LevelsRefused []client.Attempt
	// Collected is true only when the enumeration succeeded to its end.
	Collected bool
	// Failure describes why not (its Reason is "" when Collected).
	Failure client.Failure
	// Sessions are the sessions read, filters applied. A failure after
	// the first page keeps what was read before it.
	Sessions []client.Session
}

// Reason is r.Failure.Reason.
func (r *Result) Reason() client.Reason { return r.Failure.Reason }

// TimeFormat is the layout of observed_at: RFC 3339 in UTC with
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends r as one JSON object (no newline), the schema of one
// JSON Lines record:
//
//	{"target", "range"?, "address", "port", "transport", "observed_at",
//	 "duration_ms", "collected", "level"?, "levels_refused"?: [{"level",
//	 "status", "status_name"?}], "reason"?, "status"?, "status_name"?,
//	 "fault"?, "fault_name"?, "detail"?, "session_count", "sessions":
//	 [session objects]}
//
// Keys marked ? appear only when they have a value. Session objects have
// the keys of "netsess list --json" that the level carries: "client",
// "client_host", "user", "opens", "time", "idle_time", "user_flags",
// "client_type", "transport".
func (r *Result) AppendJSON(b []byte) []byte {
	b = r.appendHead(b)
	b = append(b, `,"session_count":`...)
	b = strconv.AppendInt(b, int64(len(r.Sessions)), 10)
	b = append(b, `,"sessions":[`...)
	for i := range r.Sessions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSession(append(b, '{'), r.Sessions[i], true, false)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendHead appends the opening brace and every host key (everything
// but the sessions).
func (r *Result) appendHead(b []byte) []byte {
	b = append(b, `{"target":`...)
	b = appendString(b, r.Target)
	if r.Range != "" {
		b = appendString(append(b, `,"range":`...), r.Range)
	}
	b = appendString(append(b, `,"address":`...), r.Address)
	b = strconv.AppendInt(append(b, `,"port":`...), int64(r.Port), 10)
	b = appendString(append(b, `,"transport":`...), r.Transport)
	b = appendString(append(b, `,"observed_at":`...), r.ObservedAt.UTC().Format(TimeFormat))
	b = strconv.AppendFloat(append(b, `,"duration_ms":`...), float64(r.Duration.Microseconds())/1000, 'f', -1, 64)
	b = strconv.AppendBool(append(b, `,"collected":`...), r.Collected)
	if r.HasLevel {
		b = strconv.AppendUint(append(b, `,"level":`...), uint64(r.Level), 10)
	}
	if len(r.LevelsRefused) > 0 {
		b = append(b, `,"levels_refused":[`...)
		for i, a := range r.LevelsRefused {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(append(b, `{"level":`...), uint64(a.Level), 10)
			b = strconv.AppendUint(append(b, `,"status":`...), uint64(a.Status), 10)
			if n := a.Status.Name(); n != "" {
				b = appendString(append(b, `,"status_name":`...), n)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	f := &r.Failure
	if f.Reason != "" {
		b = appendString(append(b, `,"reason":`...), string(f.Reason))
	}
	if f.HasStatus {
		b = strconv.AppendUint(append(b, `,"status":`...), uint64(f.Status), 10)
		if f.StatusName != "" {
			b = appendString(append(b, `,"status_name":`...), f.StatusName)
		}
	}
	if f.HasFault {
		b = strconv.AppendUint(append(b, `,"fault":`...), uint64(f.Fault), 10)
		if f.FaultName != "" {
			b = appendString(append(b, `,"fault_name":`...), f.FaultName)
		}
	}
	if f.Detail != "" {
		b = appendString(append(b, `,"detail":`...), f.Detail)
	}
	return b
}

// appendSession appends the keys of s (without braces) that its level
// carries; lead says whether the first key needs no comma. flat is for a
// session merged into its host's object, where "transport" is the
// scan's: the session's transport is then "transport_name".
func appendSession(b []byte, s client.Session, lead, flat bool) []byte {
	f := s.Level.Fields()
	key := func(k string) {
		if !lead {
			b = append(b, ',')
		}
		lead = false
		b = appendString(b, k)
		b = append(b, ':')
	}
	str := func(has session.Field, k, v string) {
		if f&has != 0 {
			key(k)
			b = appendString(b, v)
		}
	}
	num := func(has session.Field, k string, v uint32) {
		if f&has != 0 {
			key(k)
			b = strconv.AppendUint(b, uint64(v), 10)
		}
	}
	str(session.FieldClientName, "client", s.ClientName)
	str(session.FieldClientName, "client_host", s.ClientHost())
	str(session.FieldUserName, "user", s.UserName)
	num(session.FieldNumOpens, "opens", s.NumOpens)
	num(session.FieldTime, "time", s.Time)
	num(session.FieldIdleTime, "idle_time", s.IdleTime)
	num(session.FieldUserFlags, "user_flags", s.UserFlags)
	str(session.FieldClientType, "client_type", s.ClientType)
	tkey := "transport"
	if flat {
		tkey = "transport_name"
	}
	str(session.FieldTransport, tkey, s.Transport)
	return b
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// <, > and & are left alone (the output is not HTML).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
