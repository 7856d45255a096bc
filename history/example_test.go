package history_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/session"
)

// Three observations of one server: a session appears, is listed again a
// minute later with a jittered start, and is gone at the third.
func ExampleTracker() {
	srv := history.Server{Target: "fs1", Address: "192.0.2.10"}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	obs := []history.Observation{
		{Server: srv, ObservedAt: t0, Collected: true, Level: session.Level10,
			Sessions: []session.Info{{ClientName: "192.0.2.7", UserName: "alice", Time: 30}}},
		{Server: srv, ObservedAt: t0.Add(time.Minute + 400*time.Millisecond), Collected: true, Level: session.Level10,
			Sessions: []session.Info{{ClientName: "192.0.2.7", UserName: "alice", Time: 90}}},
		{Server: srv, ObservedAt: t0.Add(2 * time.Minute), Collected: true, Level: session.Level10},
	}
	var tr history.Tracker
	for _, o := range obs {
		for _, e := range tr.Apply(o) {
			line, _ := json.Marshal(e)
			fmt.Println(string(line))
		}
	}
	// Output:
	// {"event":"session_start","at":"2026-03-01T09:00:00Z","target":"fs1","address":"192.0.2.10","session_id":1,"client":"192.0.2.7","user":"alice","start":"2026-03-01T08:59:30Z","first_seen":"2026-03-01T09:00:00Z","last_seen":"2026-03-01T09:00:00Z","opens":0,"idle_time":0,"level":10}
	// {"event":"session_end","at":"2026-03-01T09:02:00Z","target":"fs1","address":"192.0.2.10","session_id":1,"client":"192.0.2.7","user":"alice","start":"2026-03-01T08:59:30Z","first_seen":"2026-03-01T09:00:00Z","last_seen":"2026-03-01T09:01:00.4Z","ended_at":"2026-03-01T09:02:00Z","opens":0,"idle_time":0,"level":10}
}
