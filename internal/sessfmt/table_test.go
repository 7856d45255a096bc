package sessfmt

import (
	"strings"
	"testing"

	"github.com/netsession/netsession/session"
)

func TestDuration(t *testing.T) {
	for sec, want := range map[uint32]string{0: "0:00:00", 59: "0:00:59", 3661: "1:01:01", 90000: "1d 01:00:00", 14*86400 + 1: "14d 00:00:01", 86399: "23:59:59", 0xFFFFFFFF: "unknown"} {
		if got := Duration(sec); got != want {
			t.Errorf("Duration(%d) = %q, want %q", sec, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	for f, want := range map[uint32]string{0: "-", 1: "guest", 2: "noencrypt", 3: "guest,noencrypt", 0x11: "guest,0x10"} {
		if got := Flags(f); got != want {
			t.Errorf("Flags(%#x) = %q, want %q", f, got, want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	entries := []session.Info{{ClientName: `\\10.0.0.5`, UserName: "alice", Time: 120, IdleTime: 30}, {ClientName: `\\WKS1`}}
	var b strings.Builder
	if err := WriteTable(&b, session.Level10, entries); err != nil {
		t.Fatal(err)
	}
	want := "COMPUTER    USER   TIME     IDLE\n" +
		`\\10.0.0.5  alice  0:02:00  0:00:30` + "\n" +
		`\\WKS1      -      0:00:00  0:00:00` + "\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	_ = WriteTable(&b, session.Level0, nil)
	if b.String() != "(no sessions)\n" {
		t.Errorf("empty: %q", b.String())
	}
	b.Reset()
	_ = WriteTable(&b, session.Level502, entries[:1])
	if !strings.HasPrefix(b.String(), "COMPUTER    USER   OPENS  TIME     IDLE     FLAGS  CLIENT TYPE  TRANSPORT\n") {
		t.Errorf("level 502 header: %q", b.String())
	}
}
