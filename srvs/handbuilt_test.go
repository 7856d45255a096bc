package srvs

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/session"
)

// The two sessions of the protocol notes' worked examples.
func exampleSessions(level session.Level) []SessionInfo {
	e := []SessionInfo{
		{ClientName: `\\10.0.0.5`, UserName: "alice", NumOpens: 2, Time: 120, IdleTime: 30, UserFlags: 0},
		{ClientName: `\\10.0.0.7`, UserName: "bob", NumOpens: 0, Time: 3600, IdleTime: 600, UserFlags: 1},
	}
	if level == session.Level502 {
		for i := range e {
			e[i].ClientType = ""
			e[i].Transport = `\Device\NetbiosSmb`
		}
	}
	return e
}

type marshaler interface {
	Size() int
}

// TestHandBuilt checks that the hand-built stubs decode to the documented
// values and that those values encode to exactly the same bytes.
func TestHandBuilt(t *testing.T) {
	zero := uint32(0)
	tests := []struct {
		file   string
		value  any
		decode func([]byte) (any, error)
		encode func(any) ([]byte, error)
	}{
		{
			file: "enum-request-level1.hex",
			value: &SessionEnumRequest{ServerName: new(`\\FS`), Level: 1, PrefMaxLen: session.MaxPreferredLength,
				ResumeHandle: &zero},
		},
		{
			file: "enum-response-level1.hex",
			value: &SessionEnumResponse{Level: 1, Entries: exampleSessions(1), TotalEntries: 2,
				ResumeHandle: &zero},
		},
		{
			file: "enum-response-level502.hex",
			value: &SessionEnumResponse{Level: 502, Entries: exampleSessions(502), TotalEntries: 2,
				ResumeHandle: &zero},
		},
		{
			file:  "enum-response-level10-denied.hex",
			value: &SessionEnumResponse{Level: 10, ResumeHandle: &zero, Status: 5},
		},
		{
			file:  "enum-response-level1-filtermiss.hex",
			value: &SessionEnumResponse{Level: 1, Status: 0x908},
		},
		{
			file:  "del-request.hex",
			value: &SessionDelRequest{ClientName: new(`\\10.0.0.7`), UserName: new("bob")},
		},
		{
			file:  "del-response-notfound.hex",
			value: &SessionDelResponse{Status: 0x908},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			want := readHex(t, filepath.Join("handbuilt", tc.file))
			var got []byte
			var decoded any
			var err error
			switch v := tc.value.(type) {
			case *SessionEnumRequest:
				got = v.MarshalNDR()
				decoded, err = decodeAs[SessionEnumRequest](want)
			case *SessionEnumResponse:
				if got, err = v.MarshalNDR(); err != nil {
					t.Fatal(err)
				}
				decoded, err = decodeAs[SessionEnumResponse](want)
			case *SessionDelRequest:
				got = v.MarshalNDR()
				decoded, err = decodeAs[SessionDelRequest](want)
			case *SessionDelResponse:
				got = v.MarshalNDR()
				decoded, err = decodeAs[SessionDelResponse](want)
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoding differs:\ngot  %x\nwant %x", got, want)
			}
			if n := tc.value.(marshaler).Size(); n != len(want) {
				t.Errorf("Size() = %d, want %d", n, len(want))
			}
			if diff := cmp.Diff(tc.value, decoded); diff != "" {
				t.Errorf("decoded value (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequestVariants covers the request shapes §4.1 describes in words
// and the shapes peers send.
func TestRequestVariants(t *testing.T) {
	base := readHex(t, "handbuilt/enum-request-level1.hex")
	zero := uint32(0)

	// Level 502: identical except the level and the discriminant.
	q := SessionEnumRequest{ServerName: new(`\\FS`), Level: 502, PrefMaxLen: session.MaxPreferredLength, ResumeHandle: &zero}
	want := bytes.Clone(base)
	copy(want[0x24:], []byte{0xf6, 0x01, 0, 0, 0xf6, 0x01, 0, 0})
	if got := q.MarshalNDR(); !bytes.Equal(got, want) {
		t.Errorf("level 502:\ngot  %x\nwant %x", got, want)
	}

	// NULL resume handle: the request ends after its NULL referent.
	q = SessionEnumRequest{ServerName: new(`\\FS`), Level: 1, PrefMaxLen: session.MaxPreferredLength}
	want = bytes.Clone(base[:0x40])
	copy(want[0x3c:], []byte{0, 0, 0, 0})
	if got := q.MarshalNDR(); !bytes.Equal(got, want) || len(got) != 64 {
		t.Errorf("NULL resume:\ngot  %x\nwant %x", got, want)
	}

	// Empty strings are not NULL, and decode back as empty, not nil.
	q = SessionEnumRequest{ClientName: new(""), UserName: new(""), Level: 10}
	var d SessionEnumRequest
	if err := d.UnmarshalNDR(q.MarshalNDR()); err != nil {
		t.Fatal(err)
	}
	if d.ServerName != nil || d.ClientName == nil || *d.ClientName != "" || d.UserName == nil || *d.UserName != "" {
		t.Errorf("NULL/empty not preserved: %+v", d)
	}
	wantEmpty := unhex(t, "00000000 00000200 01000000 00000000 01000000 0000 0000")
	if got := q.MarshalNDR()[:len(wantEmpty)]; !bytes.Equal(got, wantEmpty) {
		t.Errorf("empty ClientName encodes as %x, want %x", got, wantEmpty)
	}

	// Unknown level: Level, discriminant, no arm (Samba's rpcclient-level3 shape).
	q = SessionEnumRequest{Level: 3, PrefMaxLen: session.MaxPreferredLength, ResumeHandle: &zero}
	got, _ := canonicalEnumRequest(q.MarshalNDR())
	want, err := canonicalEnumRequest(readHex(t, "samba-4.17/level3-invalid-request.hex"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("level 3: %x, want %x (%v)", got, want, err)
	}

	// NULL container pointer round-trips.
	q = SessionEnumRequest{Level: 1, NoContainer: true}
	if err := d.UnmarshalNDR(q.MarshalNDR()); err != nil || !d.NoContainer {
		t.Errorf("NoContainer: %+v, %v", d, err)
	}
}

// TestRequestWithEntries: a client may put entries in its container; the
// decoder validates and drops them.
func TestRequestWithEntries(t *testing.T) {
	for _, level := range session.Levels() {
		p := SessionEnumResponse{Level: level, Entries: exampleSessions(502)}
		arm, err := p.MarshalNDR()
		if err != nil {
			t.Fatal(err)
		}
		arm = arm[:len(arm)-12]                                            // the InfoStruct: drop TotalEntries, NULL resume, status
		stub := append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, arm...) // three NULL names
		stub = append(stub, 0x10, 0, 0, 0, 0, 0, 0, 0)                     // PreferedMaximumLength 16, NULL resume
		var q SessionEnumRequest
		if err := q.UnmarshalNDR(stub); err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		want := SessionEnumRequest{Level: level, PrefMaxLen: 16}
		if diff := cmp.Diff(want, q); diff != "" {
			t.Errorf("level %d (-want +got):\n%s", level, diff)
		}
	}
}

func TestResponseSkeleton(t *testing.T) {
	seven := uint32(7)
	q := SessionEnumRequest{Level: 10, ResumeHandle: &seven}
	p := q.Response(5)
	want := SessionEnumResponse{Level: 10, ResumeHandle: &seven, Status: 5}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	*p.ResumeHandle = 8
	if seven != 7 {
		t.Fatal("Response shares the request's resume handle")
	}
	// The skeleton of a level-3 request is Samba's answer, referents aside.
	var q3 SessionEnumRequest
	if err := q3.UnmarshalNDR(readHex(t, "samba-4.17/level3-invalid-request.hex")); err != nil {
		t.Fatal(err)
	}
	r3 := q3.Response(0x7c)
	got, err := r3.MarshalNDR()
	if err != nil {
		t.Fatal(err)
	}
	sambaResp, err := canonicalEnumResponse(readHex(t, "samba-4.17/level3-invalid-response.hex"))
	if err != nil || !bytes.Equal(got, sambaResp) {
		t.Errorf("level 3 skeleton %x, want %x (%v)", got, sambaResp, err)
	}
}

func TestEncodeInvalid(t *testing.T) {
	for _, p := range []SessionEnumResponse{
		{Level: 3, Entries: []SessionInfo{{}}},
		{Level: 1, NoContainer: true, Entries: []SessionInfo{{}}},
	} {
		dst := []byte{1, 2, 3}
		out, err := p.AppendNDR(dst)
		if err == nil || !errorsIs(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", p, err)
		}
		if !bytes.Equal(out, dst) {
			t.Errorf("dst changed on error: %x", out)
		}
	}
}

// decodeAs decodes b into a new T and returns a pointer to it.
func decodeAs[T any, P interface {
	*T
	UnmarshalNDR([]byte) error
}](b []byte) (any, error) {
	var d T
	err := P(&d).UnmarshalNDR(b)
	return &d, err
}
