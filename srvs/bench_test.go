package srvs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/netsession/netsession/ndr"
	"github.com/netsession/netsession/session"
)

func manySessions(n int) []SessionInfo {
	e := make([]SessionInfo, n)
	for i := range e {
		e[i] = SessionInfo{
			ClientName: fmt.Sprintf(`\\10.%d.%d.%d`, i>>16&255, i>>8&255, i&255),
			UserName:   fmt.Sprintf("user%06d", i),
			NumOpens:   uint32(i % 7),
			Time:       uint32(i),
			IdleTime:   uint32(i / 2),
			UserFlags:  uint32(i & 1),
			ClientType: "",
			Transport:  `\Device\NetbiosSmb`,
		}
	}
	return e
}

// TestEncodeAllocations: however many entries, encoding allocates once
// (the output buffer), and not at all into a buffer that is big enough.
func TestEncodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	resume := uint32(0)
	p := SessionEnumResponse{Level: 502, Entries: manySessions(1000), TotalEntries: 1000, ResumeHandle: &resume}
	if n := testing.AllocsPerRun(5, func() {
		if _, err := p.MarshalNDR(); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("MarshalNDR: %v allocations, want 1", n)
	}
	buf := make([]byte, 0, p.Size())
	if n := testing.AllocsPerRun(5, func() {
		if _, err := p.AppendNDR(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendNDR into a sized buffer: %v allocations, want 0", n)
	}
}

func BenchmarkEncodeResponse502(b *testing.B) {
	const n = 100_000
	resume := uint32(0)
	p := SessionEnumResponse{Level: 502, Entries: manySessions(n), TotalEntries: n, ResumeHandle: &resume}
	b.ReportAllocs()
	b.SetBytes(int64(p.Size()))
	for b.Loop() {
		if _, err := p.MarshalNDR(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

func BenchmarkDecodeResponse502(b *testing.B) {
	const n = 100_000
	p := SessionEnumResponse{Level: 502, Entries: manySessions(n), TotalEntries: n}
	stub, err := p.MarshalNDR()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stub)))
	for b.Loop() {
		var d SessionEnumResponse
		if err := d.UnmarshalNDR(stub); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

func BenchmarkDecodeRequest(b *testing.B) {
	for _, name := range []string{"level1-request", "level1-filtered-request", "rpcclient-level0-request"} {
		stub := readHex(b, "samba-4.17/"+name+".hex")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(stub)))
			for b.Loop() {
				var q SessionEnumRequest
				if err := q.UnmarshalNDR(stub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAppendNDROverGarbage: appended into a buffer whose spare capacity
// holds old bytes, the encoding is the same as into a fresh one, at
// every level, with and without a resume handle, non-ASCII names
// included; and the offset before it is kept.
func TestAppendNDROverGarbage(t *testing.T) {
	entries := manySessions(50)
	entries[3].UserName = "jürgen"
	entries[4].ClientName = `\\ホスト`
	entries[5].Transport = "\U0001F600"
	resume := uint32(7)
	for _, level := range []session.Level{session.Level0, session.Level1, session.Level2, session.Level10, session.Level502} {
		for _, rh := range []*uint32{nil, &resume} {
			p := SessionEnumResponse{Level: level, Entries: entries, TotalEntries: 60, ResumeHandle: rh}
			want, err := p.MarshalNDR()
			if err != nil {
				t.Fatal(err)
			}
			buf := bytes.Repeat([]byte{0xAA}, 3+p.Size()+16)[:3]
			got, err := p.AppendNDR(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:3], []byte{0xAA, 0xAA, 0xAA}) || !bytes.Equal(got[3:], want) {
				t.Fatalf("level %d: AppendNDR over old bytes differs from MarshalNDR", level)
			}
			var d SessionEnumResponse
			if err := d.UnmarshalNDR(want); err != nil || len(d.Entries) != 50 ||
				level.Fields().Has(session.FieldUserName) && d.Entries[3].UserName != entries[3].UserName {
				t.Fatalf("level %d: decoded %d entries, %v", level, len(d.Entries), err)
			}
		}
	}
}

// writerEncode is the response encoded item by item with an ndr.Writer,
// the obvious way, as the reference for the in-place encoder.
func writerEncode(p *SessionEnumResponse) []byte {
	var w ndr.Writer
	w.Uint32(uint32(p.Level))
	w.Uint32(uint32(p.Level))
	if l, ok := layoutFor(p.Level); ok && w.Pointer(!p.NoContainer) != 0 {
		n := uint32(len(p.Entries))
		w.Uint32(n)
		if w.Pointer(n > 0) != 0 {
			w.Uint32(n)
			for i := range p.Entries {
				for _, f := range l.fields[:l.n] {
					if isString(f) {
						w.Pointer(true)
					} else {
						w.Uint32(scalar(&p.Entries[i], f))
					}
				}
			}
			for i := range p.Entries {
				for _, f := range l.fields[:l.n] {
					if isString(f) {
						w.String(str(&p.Entries[i], f))
					}
				}
			}
		}
	}
	w.Uint32(p.TotalEntries)
	if w.Pointer(p.ResumeHandle != nil) != 0 {
		w.Uint32(*p.ResumeHandle)
	}
	w.Uint32(p.Status)
	return w.Bytes()
}

// TestEncodeMatchesWriter: the in-place encoder writes what an ndr.Writer
// writes item by item, at every level, for no entries, a NULL container
// and many entries with names of every length and non-ASCII ones.
func TestEncodeMatchesWriter(t *testing.T) {
	entries := manySessions(300)
	for i := range entries {
		// Runs of entries sharing a client type, a transport, both or
		// neither with the one before (the encoder copies what repeats).
		if i < 150 {
			entries[i].ClientType = strings.Repeat("t", i%13)
		} else {
			entries[i].ClientType = strings.Repeat("t", (i/3)%4)
			entries[i].Transport = fmt.Sprintf(`\Device\T%d`, (i/5)%3)
		}
		entries[i].UserName = strings.Repeat("é", i%5) + entries[i].UserName[:i%11]
	}
	resume := uint32(9)
	for _, level := range []session.Level{session.Level0, session.Level1, session.Level2, session.Level10, session.Level502, 3} {
		for _, p := range []SessionEnumResponse{
			{Level: level, Entries: entries, TotalEntries: 300, ResumeHandle: &resume, Status: 234},
			{Level: level, ResumeHandle: &resume},
			{Level: level, NoContainer: true, Status: 5},
		} {
			if !level.Valid() && len(p.Entries) > 0 {
				continue
			}
			got, err := p.MarshalNDR()
			if err != nil {
				t.Fatal(err)
			}
			if want := writerEncode(&p); !bytes.Equal(got, want) {
				t.Fatalf("level %d, %d entries, no container %v: the encoding differs from the Writer's", level, len(p.Entries), p.NoContainer)
			}
		}
	}
}

// TestEncodeRightSized: a response of ASCII names is encoded into a
// buffer of exactly its size; one with others into one a little larger.
func TestEncodeRightSized(t *testing.T) {
	for _, rh := range []*uint32{nil, new(uint32)} {
		p := SessionEnumResponse{Level: 502, Entries: manySessions(100), TotalEntries: 100, ResumeHandle: rh}
		b, err := p.MarshalNDR()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != p.Size() || cap(b) != len(b) {
			t.Errorf("len %d cap %d, want both %d", len(b), cap(b), p.Size())
		}
	}
}
