package history_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/history"
)

func sampleEvents() []history.Event {
	obs, _ := script()
	var tr history.Tracker
	var out []history.Event
	for _, o := range obs {
		out = append(out, tr.Apply(o)...)
	}
	return out
}

// The JSON Lines form is a stable interface: field names and layout.
func TestEventJSONGolden(t *testing.T) {
	ev := sampleEvents()
	want := []string{
		`{"event":"session_start","at":"2026-03-01T08:01:40Z","target":"fs1","address":"10.0.0.1","session_id":1,"client":"10.0.0.2","user":"alice","start":"2026-03-01T08:01:00Z","first_seen":"2026-03-01T08:01:40Z","last_seen":"2026-03-01T08:01:40Z","opens":1,"idle_time":2,"level":10}`,
		`{"event":"host_failed","at":"2026-03-01T08:02:00Z","target":"fs1","address":"10.0.0.1","reason":"timeout"}`,
		`{"event":"host_recovered","at":"2026-03-01T08:02:20Z","target":"fs1","address":"10.0.0.1"}`,
		`{"event":"session_end","at":"2026-03-01T08:02:20Z","target":"fs1","address":"10.0.0.1","session_id":2,"client":"10.0.0.3","user":"bob","start":"2026-03-01T08:01:40Z","first_seen":"2026-03-01T08:01:40Z","last_seen":"2026-03-01T08:01:50Z","ended_at":"2026-03-01T08:02:20Z","opens":1,"idle_time":2,"level":10}`,
	}
	var got []string
	for _, i := range []int{0, 2, 3, 4} {
		b, err := json.Marshal(ev[i])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	for _, e := range sampleEvents() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back history.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if e.Kind == history.SessionStart || e.Kind == history.SessionEnd {
			e.Session.Server = e.Server
		}
		if d := cmp.Diff(e, back); d != "" {
			t.Errorf("%s (-sent +decoded):\n%s", b, d)
		}
	}
}

func TestEventJSONRejects(t *testing.T) {
	for _, in := range []string{
		`{"event":"session_nap","at":"2026-03-01T08:00:00Z","target":"x"}`,
		`{"event":"host_failed","target":"x"}`,
		`{"event":"host_failed","at":"2026-03-01T08:00:00Z"}`,
		`{"event":"session_end","at":"2026-03-01T08:00:00Z","target":"x","start":"yesterday"}`,
		`{"event":"host_failed","at":"2026-13-01T08:00:00Z","target":"x"}`,
		`[1,2]`,
	} {
		var e history.Event
		if err := json.Unmarshal([]byte(in), &e); !errors.Is(err, history.ErrEventSyntax) {
			t.Errorf("%s: err = %v, want ErrEventSyntax", in, err)
		}
	}
}

func FuzzEventJSON(f *testing.F) {
	for _, e := range sampleEvents() {
		b, _ := json.Marshal(e)
		f.Add(b)
	}
	f.Add([]byte(`{"event":"host_failed","at":"2026-03-01T08:00:00.123456789+05:00","target":"x","reason":"r"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e history.Event
		if err := json.Unmarshal(b, &e); err != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", e, err)
		}
		var back history.Event
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("decoding own output %s: %v", out, err)
		}
		if d := cmp.Diff(e, back); d != "" {
			t.Fatalf("round trip of %s (-first +second):\n%s", out, d)
		}
	})
}
