package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/session"
)

// scanRecord is a per-host line of "netsess scan --json" (see
// scan.Result.AppendJSON), as far as the history needs it.
type scanRecord struct {
	Target       *string         `json:"target"`
	Address      string          `json:"address"`
	Port         int             `json:"port"`
	Transport    string          `json:"transport"`
	ObservedAt   *string         `json:"observed_at"`
	DurationMS   float64         `json:"duration_ms"`
	Collected    *bool           `json:"collected"`
	Level        *uint32         `json:"level"`
	Reason       string          `json:"reason"`
	SessionCount *int            `json:"session_count"`
	Sessions     []scanRecordSes `json:"sessions"`
}

type scanRecordSes struct {
	Client     string `json:"client"`
	User       string `json:"user"`
	Opens      uint32 `json:"opens"`
	Time       uint32 `json:"time"`
	IdleTime   uint32 `json:"idle_time"`
	UserFlags  uint32 `json:"user_flags"`
	ClientType string `json:"client_type"`
	Transport  string `json:"transport"`
}

// maxDurationMS bounds duration_ms: a host's work is bounded by its
// deadline, and a year is far beyond any.
const maxDurationMS = 365 * 24 * 3600 * 1000

// decodeScanRecord reads one per-host record into an observation, as
// watch makes them from results: observed at observed_at plus duration_ms
// (when the answer arrived). ok is false for a host the scan interrupted
// (reason canceled), which observed nothing. A record that is not a valid
// per-host record (per-session output included) is an error.
func decodeScanRecord(b []byte) (o history.Observation, ok bool, err error) {
	var r scanRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return o, false, fmt.Errorf("not a JSON object of netsess scan --json: %v", err)
	}
	if dec.More() {
		return o, false, errors.New("more than one JSON value on the line")
	}
	switch {
	case r.Target == nil || *r.Target == "":
		return o, false, errors.New("no target")
	case r.ObservedAt == nil:
		return o, false, errors.New("no observed_at")
	case r.Collected == nil:
		return o, false, errors.New("no collected")
	case r.SessionCount == nil:
		return o, false, errPerSession
	case *r.SessionCount != len(r.Sessions):
		return o, false, fmt.Errorf("session_count %d, but %d sessions", *r.SessionCount, len(r.Sessions))
	case math.IsNaN(r.DurationMS) || r.DurationMS < 0 || r.DurationMS > maxDurationMS:
		return o, false, fmt.Errorf("duration_ms %v out of range", r.DurationMS)
	case r.Level != nil && !session.Level(*r.Level).Valid():
		return o, false, fmt.Errorf("level %d is not a SESSION_INFO level", *r.Level)
	case *r.Collected && r.Level == nil:
		return o, false, errors.New("collected without a level")
	case !*r.Collected && r.Reason == "":
		return o, false, errors.New("not collected, and no reason")
	case *r.Collected && r.Reason != "":
		return o, false, errors.New("collected, with a reason")
	}
	at, err := time.Parse(time.RFC3339Nano, *r.ObservedAt)
	if err != nil {
		return o, false, fmt.Errorf("observed_at: %v", err)
	}
	if at.Year() < 2000 {
		return o, false, fmt.Errorf("observed_at %s: before 2000", *r.ObservedAt)
	}
	if !*r.Collected && client.Reason(r.Reason) == client.ReasonCanceled {
		return o, false, nil
	}
	o = history.Observation{
		Server:     history.Server{Target: *r.Target, Address: r.Address},
		Port:       r.Port,
		Transport:  r.Transport,
		ObservedAt: at.Add(time.Duration(math.Round(r.DurationMS*1000)) * time.Microsecond),
		Collected:  *r.Collected,
		Reason:     r.Reason,
	}
	if r.Level != nil {
		o.Level = session.Level(*r.Level)
	}
	if !o.Collected {
		return o, true, nil
	}
	o.Sessions = make([]session.Info, len(r.Sessions))
	for i, s := range r.Sessions {
		o.Sessions[i] = session.Info{ClientName: s.Client, UserName: s.User, NumOpens: s.Opens, Time: s.Time,
			IdleTime: s.IdleTime, UserFlags: s.UserFlags, ClientType: s.ClientType, Transport: s.Transport}
	}
	return o, true, nil
}
