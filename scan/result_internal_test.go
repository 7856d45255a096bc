package scan

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// The JSON string encoder writes what encoding/json reads back as the
// same text (invalid UTF-8 as U+FFFD), whatever a server sent.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `\\10.0.0.1`, "quote\"back\\slash", "ctl\x00\x1f\x7f", "é\u2028\u2029", "bad\xff\xfe", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got, want string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil || got != want {
			t.Fatalf("%q -> %s -> %q, encoding/json reads %q", s, b, got, want)
		}
	})
}

// A whole record decodes, with the session keys its level carries only.
func TestAppendJSONRecord(t *testing.T) {
	r := &Result{
		Target: "fs1", Address: "10.0.0.1", Port: 445, Transport: "smb",
		ObservedAt: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Duration: 1500 * time.Microsecond,
		Level: session.Level10, HasLevel: true, Collected: true,
		LevelsRefused: []client.Attempt{{Level: session.Level502, Status: session.StatusAccessDenied}},
		Sessions:      []client.Session{{Info: session.Info{ClientName: `\\10.0.0.9`, UserName: "bob\"", Time: 7, IdleTime: 3, NumOpens: 99}, Level: session.Level10}},
	}
	var m map[string]any
	b := r.AppendJSON(nil)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := `{"target":"fs1","address":"10.0.0.1","port":445,"transport":"smb","observed_at":"2026-01-02T03:04:05.006Z","duration_ms":1.5,"collected":true,"level":10,` +
		`"levels_refused":[{"level":502,"status":5,"status_name":"ERROR_ACCESS_DENIED"}],"session_count":1,` +
		`"sessions":[{"client":"\\\\10.0.0.9","client_host":"10.0.0.9","user":"bob\"","time":7,"idle_time":3}]}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}
