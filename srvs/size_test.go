package srvs

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/session"
)

func TestFixedAndEntrySize(t *testing.T) {
	for level, want := range map[session.Level]int{0: 4, 1: 24, 2: 28, 10: 16, 502: 32, 3: 0, 11: 0, 501: 0} {
		if got := FixedSize(level); got != want {
			t.Errorf("FixedSize(%d) = %d, want %d", level, got, want)
		}
		if level.Valid() != (want != 0) {
			t.Errorf("level %d: Valid = %v", level, level.Valid())
		}
		if _, ok := layoutFor(level); ok != level.Valid() {
			t.Errorf("level %d: layout %v, Valid %v", level, ok, level.Valid())
		}
	}
	// Worked figures: "\\10.0.0.5" is 11 units with the NUL: 12 + 22 -> 36;
	// "alice" 6 units: 12 + 12 = 24; "" 1 unit: 12 + 2 -> 16;
	// "\Device\NetbiosSmb" 19 units: 12 + 38 -> 52.
	c, u, ct, tr := `\\10.0.0.5`, "alice", "", `\Device\NetbiosSmb`
	for level, want := range map[session.Level]int{
		0:   4 + 36,
		1:   24 + 36 + 24,
		2:   28 + 36 + 24 + 16,
		10:  16 + 36 + 24,
		502: 32 + 36 + 24 + 16 + 52,
		7:   0,
	} {
		if got := EntrySize(level, &SessionInfo{ClientName: c, UserName: u, ClientType: ct, Transport: tr}); got != want {
			t.Errorf("EntrySize(%d) = %d, want %d", level, got, want)
		}
	}
}

func randString(r *rand.Rand) string {
	alphabet := []rune{'a', 'Z', '0', '\\', '.', 'é', '日', '\U0001F600', '$'}
	n := r.IntN(12)
	s := make([]rune, n)
	for i := range s {
		s[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(s)
}

func randEntry(r *rand.Rand) SessionInfo {
	return SessionInfo{
		ClientName: randString(r), UserName: randString(r),
		NumOpens: r.Uint32(), Time: r.Uint32(), IdleTime: r.Uint32(), UserFlags: r.Uint32(),
		ClientType: randString(r), Transport: randString(r),
	}
}

// project keeps the fields a level carries.
func project(level session.Level, e SessionInfo) SessionInfo {
	switch level {
	case 0:
		return SessionInfo{ClientName: e.ClientName}
	case 1:
		e.ClientType, e.Transport = "", ""
	case 2:
		e.Transport = ""
	case 10:
		return SessionInfo{ClientName: e.ClientName, UserName: e.UserName, Time: e.Time, IdleTime: e.IdleTime}
	}
	return e
}

// TestResponseRoundTripRandom: random responses at every level encode to
// exactly Size() bytes, each entry adds exactly EntrySize, and decoding
// gives back the value with the fields the level carries.
func TestResponseRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		level := session.Levels()[iter%5]
		n := r.IntN(6)
		p := SessionEnumResponse{Level: level, TotalEntries: r.Uint32(), Status: r.Uint32()}
		for range n {
			p.Entries = append(p.Entries, randEntry(r))
		}
		if r.IntN(2) == 0 {
			v := r.Uint32()
			p.ResumeHandle = &v
		}
		enc, err := p.MarshalNDR()
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != p.Size() {
			t.Fatalf("Size %d, encoded %d", p.Size(), len(enc))
		}
		// 20 bytes of header and 12 (+4) of trailer around the entries.
		want := 8 + 12 + 12
		if p.ResumeHandle != nil {
			want += 4
		}
		if n > 0 {
			want += 4
		}
		for i := range p.Entries {
			e := &p.Entries[i]
			want += EntrySize(session.Level(level), e)
		}
		if len(enc) != want {
			t.Fatalf("level %d, %d entries: encoded %d, sum of EntrySize gives %d", level, n, len(enc), want)
		}
		var d SessionEnumResponse
		if err := d.UnmarshalNDR(enc); err != nil {
			t.Fatal(err)
		}
		wantVal := p
		wantVal.Entries = nil
		for _, e := range p.Entries {
			wantVal.Entries = append(wantVal.Entries, project(level, e))
		}
		if diff := cmp.Diff(wantVal, d); diff != "" {
			t.Fatalf("level %d (-want +got):\n%s", level, diff)
		}
	}
}

func TestRequestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	opt := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := randString(r)
		return &s
	}
	for iter := range 300 {
		q := SessionEnumRequest{
			ServerName: opt(), ClientName: opt(), UserName: opt(),
			Level:      []session.Level{0, 1, 2, 10, 502, 3, 0xffffffff}[iter%7],
			PrefMaxLen: r.Uint32(),
		}
		if session.Level(q.Level).Valid() {
			q.NoContainer = r.IntN(4) == 0
		}
		if r.IntN(2) == 0 {
			v := r.Uint32()
			q.ResumeHandle = &v
		}
		enc := q.MarshalNDR()
		if len(enc) != q.Size() {
			t.Fatalf("Size %d, encoded %d", q.Size(), len(enc))
		}
		var d SessionEnumRequest
		if err := d.UnmarshalNDR(enc); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(q, d); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		del := SessionDelRequest{opt(), opt(), opt()}
		encDel := del.MarshalNDR()
		if len(encDel) != del.Size() {
			t.Fatalf("del Size %d, encoded %d", del.Size(), len(encDel))
		}
		var dd SessionDelRequest
		if err := dd.UnmarshalNDR(encDel); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(del, dd); diff != "" {
			t.Fatalf("del (-want +got):\n%s", diff)
		}
	}
}

// TestAppendAfterHeader: encoding after a prefix aligns relative to the
// stub, not the buffer.
func TestAppendAfterHeader(t *testing.T) {
	p := SessionEnumResponse{Level: 1, Entries: exampleSessions(1), TotalEntries: 2, ResumeHandle: new(uint32(0))}
	hdr := []byte{1, 2, 3, 4, 5, 6, 7} // odd length on purpose
	out, err := p.AppendNDR(hdr)
	if err != nil {
		t.Fatal(err)
	}
	want := readHex(t, "handbuilt/enum-response-level1.hex")
	if string(out[:7]) != string(hdr) || string(out[7:]) != string(want) {
		t.Fatalf("got %x", out)
	}
}
