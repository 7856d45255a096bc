package fleet

import (
	"encoding/json"
	"io"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// Expectation is what a scan as ScanUser at level auto, with a host
// deadline longer than a Slow host needs, should yield for one host.
type Expectation struct {
	// Collected is true for the hosts that answer.
	Collected bool `json:"collected"`
	// Reason is the failure reason of the others.
	Reason client.Reason `json:"reason,omitempty"`
	// Level is the level that answers (or, for Denied, the last one
	// refused); HasLevel says whether there is one.
	Level    session.Level `json:"level,omitempty"`
	HasLevel bool          `json:"-"`
	// LevelsRefused are the levels refused before Level, with the status
	// of each (for Denied, all four).
	LevelsRefused []client.Attempt `json:"-"`
}

// Expect returns what b yields for ScanUser at level auto.
func Expect(b Behavior) Expectation {
	auto := client.AutoLevels()
	refused := func(n int, st session.Status) []client.Attempt {
		var out []client.Attempt
		for _, l := range auto[:n] {
			out = append(out, client.Attempt{Level: l, Status: st})
		}
		return out
	}
	switch b {
	case Normal, Slow:
		return Expectation{Collected: true, Level: session.Level502, HasLevel: true}
	case Samba:
		return Expectation{Collected: true, Level: session.Level1, HasLevel: true, LevelsRefused: refused(2, session.StatusInvalidLevel)}
	case Denied:
		return Expectation{Reason: client.ReasonAccessDenied, Level: session.Level0, HasLevel: true, LevelsRefused: refused(4, session.StatusAccessDenied)}
	case Close:
		return Expectation{Reason: client.ReasonUnreachable}
	case Hang:
		return Expectation{Reason: client.ReasonTimeout}
	case Refuse:
		return Expectation{Reason: client.ReasonPortClosed}
	}
	return Expectation{}
}

// Truth is the ground truth of a fleet: for each host, what it holds and
// what a scan should yield.
type Truth struct {
	// Port every host listens on; Started is when the sessions' ages
	// were measured (a session's time and idle time grow from there).
	Port    int       `json:"port"`
	Started time.Time `json:"started"`
	// ScanUser and its password are the account the expectations are
	// for; the servers also list that account's own session (from the
	// scanner's address), which Sessions do not include.
	ScanUser     string      `json:"scan_user"`
	ScanPassword string      `json:"scan_password"`
	Hosts        []TruthHost `json:"hosts"`
}

// TruthHost is one host of the ground truth.
type TruthHost struct {
	Target   string   `json:"target"`
	Address  string   `json:"address"`
	Behavior Behavior `json:"behavior"`
	Expectation
	LevelsRefused []refusal `json:"levels_refused,omitempty"`
	// Sessions are the sessions the host holds besides its callers';
	// empty for hosts that do not answer.
	Sessions []Session `json:"sessions"`
}

type refusal struct {
	Level  uint32 `json:"level"`
	Status uint32 `json:"status"`
}

// Truth returns the fleet's ground truth.
func (f *Fleet) Truth() Truth {
	t := Truth{Port: f.Port, Started: f.Started.UTC(), ScanUser: ScanUser, ScanPassword: ScanPassword}
	for _, h := range f.Hosts {
		th := TruthHost{Target: h.Target, Address: h.Addr.String(), Behavior: h.Behavior, Expectation: Expect(h.Behavior), Sessions: h.Sessions}
		for _, a := range th.Expectation.LevelsRefused {
			th.LevelsRefused = append(th.LevelsRefused, refusal{uint32(a.Level), uint32(a.Status)})
		}
		if th.Sessions == nil {
			th.Sessions = []Session{}
		}
		t.Hosts = append(t.Hosts, th)
	}
	return t
}

// WriteTruth writes the ground truth as indented JSON.
func (f *Fleet) WriteTruth(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f.Truth())
}
