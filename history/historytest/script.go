package historytest

import (
	"fmt"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/session"
)

// Server1 returns the server of the script.
func Server1() history.Server { return history.Server{Target: "fs1", Address: "10.0.0.1"} }

// At returns Epoch plus sec seconds.
func At(sec int) time.Time { return Epoch().Add(time.Duration(sec) * time.Second) }

// OK is a successful observation of Server1 at At(sec).
func OK(sec int, lvl session.Level, ss ...session.Info) history.Observation {
	return history.Observation{Server: Server1(), ObservedAt: At(sec), Collected: true, Level: lvl, Sessions: ss}
}

// Failed is a failed observation of Server1 at At(sec).
func Failed(sec int, reason string) history.Observation {
	return history.Observation{Server: Server1(), ObservedAt: At(sec), Reason: reason}
}

// Info is a session listed with the given age in seconds.
func Info(client, user string, age uint32) session.Info {
	return session.Info{ClientName: client, UserName: user, Time: age, IdleTime: 2, NumOpens: 1}
}

// Line renders an event compactly: seconds since Epoch, kind, and the
// reason or the session's client/user, start (seconds) and seq.
func Line(e history.Event) string {
	base := Epoch()
	switch e.Kind {
	case history.HostFailed:
		return fmt.Sprintf("%d %s %s", int(e.At.Sub(base).Seconds()), e.Kind, e.Reason)
	case history.HostRecovered:
		return fmt.Sprintf("%d %s", int(e.At.Sub(base).Seconds()), e.Kind)
	}
	s := e.Session
	return fmt.Sprintf("%d %s %s/%s start=%d seq=%d", int(e.At.Sub(base).Seconds()), e.Kind, s.Client, s.User, int(s.Start.Sub(base).Seconds()), s.Seq)
}

// Lines renders events with Line (an empty, non-nil slice for none).
func Lines(es []history.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, Line(e))
	}
	return out
}

// Script is the reference scenario of one server: starts, jittered starts,
// "just now", a host that goes dark and comes back without ending its
// sessions, an end, a reconnect counted as a new session, and two sessions
// of one (client, user) set up in the same second. It returns the
// observations and, for each, the events it must cause (as Lines).
func Script() ([]history.Observation, [][]string) {
	obs := []history.Observation{
		OK(100, 10, Info("10.0.0.2", "alice", 40), Info("10.0.0.3", "bob", session.TimeUnknown)),
		OK(110, 10, Info("10.0.0.2", "alice", 51), Info("10.0.0.3", "bob", 9)),
		Failed(120, "timeout"),
		Failed(130, "timeout"),
		OK(140, 10, Info("10.0.0.2", "alice", 80)),
		OK(150, 10, Info("10.0.0.2", "alice", 5)),
		OK(160, 10, Info("10.0.0.2", "alice", 15), Info("10.0.0.4", "carol", 0), Info("10.0.0.4", "carol", 0)),
		OK(170, 10, Info("10.0.0.4", "carol", 10)),
		OK(180, 10, Info("10.0.0.4", "carol", 20)),
	}
	want := [][]string{
		{"100 session_start 10.0.0.2/alice start=60 seq=0", "100 session_start 10.0.0.3/bob start=100 seq=0"},
		{},
		{"120 host_failed timeout"},
		{},
		{"140 host_recovered", "140 session_end 10.0.0.3/bob start=100 seq=0"},
		{"150 session_end 10.0.0.2/alice start=60 seq=0", "150 session_start 10.0.0.2/alice start=145 seq=0"},
		{"160 session_start 10.0.0.4/carol start=160 seq=0", "160 session_start 10.0.0.4/carol start=160 seq=1"},
		{"170 session_end 10.0.0.2/alice start=145 seq=0", "170 session_end 10.0.0.4/carol start=160 seq=1"},
		{},
	}
	return obs, want
}
