package history

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netsession/netsession/session"
)

// StartTolerance is how far apart two estimated starts may lie and still
// name the same session. The estimate moves by up to a second between
// observations (time is sent in whole seconds and measured on arrival) and
// by the clock difference between collectors.
const StartTolerance = 3 * time.Second

// Server names an observed server: the target as the collector was given it
// (a host name, an address, host:port) and the address it resolved to.
type Server struct {
	Target  string `json:"target"`
	Address string `json:"address"`
}

// String returns the target, followed by the address in parentheses when
// the two differ.
func (s Server) String() string {
	if s.Address == "" || s.Address == s.Target {
		return s.Target
	}
	return s.Target + " (" + s.Address + ")"
}

// Observation is one enumeration of one server's sessions, successful or
// not. Its fields are those of a scan's per-host result.
type Observation struct {
	Server     Server
	Port       int       // the port connected to (informative)
	Transport  string    // the transport used (informative)
	ObservedAt time.Time // when the answer arrived
	// Collected is true only when the enumeration succeeded; Sessions is
	// then the complete list (possibly empty).
	Collected bool
	// Reason is the failure reason when Collected is false.
	Reason string
	// Level is the level that answered. At level 0 sessions carry only
	// the client name.
	Level    session.Level
	Sessions []session.Info
}

// Session is a session with a lifetime.
type Session struct {
	ID     int64 // the store's key; 0 before it is stored
	Server Server
	Client string // the client name as the server reported it
	User   string // the user name as the server reported it (may be DOMAIN\user)
	// Start is the estimated set-up time (observation time minus the
	// session's time field); for a snapshot, the first observation.
	Start     time.Time
	FirstSeen time.Time // the first observation that listed it
	LastSeen  time.Time // the latest observation that listed it
	// EndedAt is the first successful observation of the server after
	// LastSeen that no longer listed it; zero while the session is open.
	EndedAt time.Time
	// Opens and IdleTime are the values of the latest observation
	// (IdleTime in seconds, 0xFFFFFFFF when unknown).
	Opens    uint32
	IdleTime uint32
	Level    session.Level // the level of the latest observation
	// Snapshot marks a session seen only at level 0: no user, no time.
	Snapshot bool
	// Seq tells apart sessions whose server, client, user and start are all
	// equal (two connections set up in the same second).
	Seq int
}

// Open reports whether the session has not been seen to end.
func (s Session) Open() bool { return s.EndedAt.IsZero() }

// HostState is what the history knows of a server's availability.
type HostState struct {
	Known        bool      // the server has been observed before
	Failing      bool      // the latest observation failed
	Reason       string    // the failure reason of the latest observation
	LastObserved time.Time // the latest observation, successful or not
	LastSuccess  time.Time // the latest successful observation; zero if none
}

// UserKey returns the lower-cased user part of a user name (what follows
// the last backslash) and the lower-cased domain part ("" when there is
// none). Queries by user compare keys, so "alice" finds "CORP\Alice".
func UserKey(name string) (user, domain string) {
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[i+1:], name[:i]
	}
	return name, ""
}

// Run is one pass of a collector over its targets.
type Run struct {
	ID        int64     // the store's key; 0 before it is stored
	Collector string    // a name for the collector (host name, shard)
	Started   time.Time // when the pass began
	Finished  time.Time // when it ended
	Targets   []string  // the targets, as given
	Failed    int       // how many targets were not collected
}

// Query selects sessions, events or the span of a summary. The zero Query
// selects everything; each set field narrows it.
type Query struct {
	// User matches the user part case-insensitively: "alice" finds "alice"
	// and "CORP\alice"; "CORP\alice" finds those two but not "LAB\alice".
	User string
	// Server matches a server's target or address exactly.
	Server string
	// Client matches the client name as the server reported it, with or
	// without the leading \\ Windows puts before it: "10.0.0.5" finds
	// "\\10.0.0.5" and "10.0.0.5", and so does "\\10.0.0.5".
	Client string
	// At selects sessions active at that instant: started at or before it
	// and not ended by it.
	At time.Time
	// Since and Until select sessions that started or ended within
	// [Since, Until) (either bound may be zero), and events within it.
	Since, Until time.Time
	// Limit caps the number of rows (0: no cap).
	Limit int
}

// ClientForms returns the two spellings of a client name a query by
// client matches: without and with the leading \\.
func ClientForms(c string) (bare, unc string) {
	bare = strings.TrimPrefix(c, `\\`)
	return bare, `\\` + bare
}

// Summary is an overview of the history.
type Summary struct {
	Servers  int   // servers observed
	Failing  int   // servers whose latest observation failed
	Users    int   // distinct user keys among the selected sessions
	Sessions int   // selected sessions
	Open     int   // of which not ended
	Runs     int   // scan runs recorded
	Days     []Day // per UTC day, in order
}

// Day counts the sessions that started and ended on one UTC day.
type Day struct {
	Date    time.Time // midnight UTC
	Started int
	Ended   int
}

// Pruned counts what a retention pass deleted.
type Pruned struct {
	Sessions, Events, Runs int64
}

// micro normalises t to what the stores keep: UTC, microseconds, no
// monotonic reading.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// MaxNameBytes is the longest name (target, address, client, user, reason)
// the history keeps; longer names are cut at a character boundary. Names
// come from servers nobody vouches for, and database indexes cap their
// keys (PostgreSQL's B-tree at about 2.7 KB a row).
const MaxNameBytes = 512

// cleanName makes a name storable everywhere: valid UTF-8, no NUL (which
// PostgreSQL text refuses), at most MaxNameBytes. Invalid bytes and NULs
// become U+FFFD.
func cleanName(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && len(s) <= MaxNameBytes {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > MaxNameBytes {
		cut := MaxNameBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// ErrInvalidObservation is wrapped by the error for an observation a store
// cannot apply: no target, or no time.
var ErrInvalidObservation = errors.New("invalid observation")

// Validate reports whether o can be applied.
func (o Observation) Validate() error {
	switch {
	case o.Server.Target == "":
		return fmt.Errorf("%w: no target", ErrInvalidObservation)
	case o.ObservedAt.IsZero():
		return fmt.Errorf("%w: %s: no observation time", ErrInvalidObservation, o.Server)
	}
	return nil
}

// Clean returns o with every name made storable (see MaxNameBytes): valid
// UTF-8 without NUL, cut to MaxNameBytes. Reconcile applies it; stores and
// the Tracker key servers by the cleaned names.
func (o Observation) Clean() Observation {
	o.Server = Server{Target: cleanName(o.Server.Target), Address: cleanName(o.Server.Address)}
	o.Reason = cleanName(o.Reason)
	dirty := false
	for _, in := range o.Sessions {
		if cleanName(in.ClientName) != in.ClientName || cleanName(in.UserName) != in.UserName {
			dirty = true
			break
		}
	}
	if dirty {
		ss := make([]session.Info, len(o.Sessions))
		for i, in := range o.Sessions {
			in.ClientName, in.UserName = cleanName(in.ClientName), cleanName(in.UserName)
			ss[i] = in
		}
		o.Sessions = ss
	}
	return o
}
