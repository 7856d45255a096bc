package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/session"
)

func TestParseSeedForms(t *testing.T) {
	want := []Seed{
		{Client: "10.0.0.5", User: "alice", Opens: 2, Time: 120, Idle: 30, Transport: `\Device\NetbiosSmb`},
		{Client: "wks1", User: "bob", Flags: 1, Transport: DefaultTransport},
	}
	array := `[
	  {"server": "fs1", "client": "\\\\10.0.0.5", "client_host": "10.0.0.5", "user": "alice", "opens": 2,
	   "time": 120, "idle_time": 30, "user_flags": 0, "client_type": "", "transport": "\\Device\\NetbiosSmb", "level": 502},
	  {"client": "wks1", "client_name": "wks1.example", "user": "bob", "user_flags": 1, "level": 1}
	]`
	lines := `{"server": "fs1", "client": "\\\\10.0.0.5", "user": "alice", "opens": 2, "time": 120, "idle_time": 30, "transport": "\\Device\\NetbiosSmb", "level": 502}
{"client": "wks1", "user": "bob", "user_flags": 1, "level": 1}
`
	for name, in := range map[string]string{"array": array, "lines": lines} {
		got, err := ParseSeed("s.json", []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	// Level 0 output carries only the client; client_host stands in for a
	// missing client.
	got, err := ParseSeed("s.json", []byte(`[{"client_host": "10.0.0.9", "level": 0}]`))
	if err != nil || len(got) != 1 || got[0].Client != "10.0.0.9" {
		t.Errorf("client_host only: %+v, %v", got, err)
	}
	for _, empty := range []string{"", "[]", " \n"} {
		if got, err := ParseSeed("e", []byte(empty)); err != nil || len(got) != 0 {
			t.Errorf("%q: %+v, %v", empty, got, err)
		}
	}
}

func TestSeedRoundTrip(t *testing.T) {
	in := []Seed{
		{Client: "10.0.0.5", User: "alice", Opens: 2, Time: 120, Idle: 30, Transport: `\Device\NetbiosSmb`},
		{Client: "fe80::1", User: "", Time: session.TimeUnknown, Flags: 3, ClientType: "Windows 5.0"},
	}
	b, err := MarshalSeed(in)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := LoadSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
}

func TestSeedErrors(t *testing.T) {
	tests := []struct {
		name, in string
		index    int
		msg      string
	}{
		{"unknown field", `[{"client": "a"}, {"client": "b", "colour": 1}]`, 1, `unknown field "colour"`},
		{"no client", `[{"user": "a"}]`, 0, "no client"},
		{"wrong type", `[{"client": "a", "opens": "two"}]`, 0, "opens"},
		{"negative", `[{"client": "a", "time": -1}]`, 0, "time"},
		{"too many opens", `[{"client": "a", "opens": 2000000}]`, 0, "opens 2000000 over the limit"},
		{"idle over time", `[{"client": "a", "time": 5, "idle_time": 6}]`, 0, "idle_time 6 is longer"},
		{"bad flags", `[{"client": "a", "user_flags": 4}]`, 0, "user_flags 0x4"},
		{"error record", `{"server": "s", "error": "access denied", "status": 5, "level": 502}`, 0, "an error record"},
		{"full error record", `{"server": "s", "error": "the RPC failed", "reason": "rpc_fault", "fault": 1783, "fault_name": "bad stub data", "level": 502, "tried": [502], "detail": "x"}`, 0, "an error record"},
		{"syntax", `[{"client": "a"},`, 1, ""},
		{"lines syntax", "{\"client\": \"a\"}\n{\"client\": ", 1, ""},
		{"after array", `[{"client": "a"}] [{"client": "b"}]`, -1, "after the closing"},
		{"not an object", `[1]`, 0, "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed("sessions.json", []byte(tc.in))
			var se *SeedError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SeedError", err)
			}
			if se.Index != tc.index || se.File != "sessions.json" {
				t.Errorf("index %d file %q, want %d", se.Index, se.File, tc.index)
			}
			if !strings.Contains(err.Error(), "sessions.json") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q lacks the file or %q", err, tc.msg)
			}
			if tc.index >= 0 && !strings.Contains(err.Error(), "entry ") {
				t.Errorf("message %q does not name the entry", err)
			}
		})
	}
	if _, err := LoadSeed(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}
