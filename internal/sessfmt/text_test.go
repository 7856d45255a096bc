package sessfmt

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/netsession/netsession/session"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                          "alice",
		`\\10.0.0.5`:                     `\\10.0.0.5`,
		"田中":                             "田中",
		"evil\x1b[2J\x1b[31mred\r\nfake": `evil\x1b[2J\x1b[31mred\r\nfake`,
		"a\tb\x00c\x7fd":                 `a\tb\x00c\x7fd`,
		"c1\u0085\u009b":                 `c1\x85\x9b`,
		"abc\u202edcba":                  `abc\u202edcba`,
		"\u2066x\u2069\u200f\u2028":      `\u2066x\u2069\u200f\u2028`,
		"bad\xff\xfeutf8":                `bad\xff\xfeutf8`,
		"é́":                             "é́",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWidth(t *testing.T) {
	for s, want := range map[string]int{"alice": 5, "田中": 4, "ｱ": 1, "Ａ": 2, "한국": 4, "e\u0301": 1, "😀x": 3, "": 0, "a\u200bb": 2} {
		if got := Width(s); got != want {
			t.Errorf("Width(%q) = %d, want %d", s, got, want)
		}
	}
}

// Wide names do not break the columns: every row's later columns start at
// the same display column as the header's.
func TestTableWideAligned(t *testing.T) {
	entries := []session.Info{{ClientName: `\\10.0.0.5`, UserName: "田中", Time: 60}, {ClientName: `\\10.0.0.6`, UserName: "alice"}, {ClientName: "\\\\ｗｓ１", UserName: "x"}}
	var b strings.Builder
	if err := WriteTable(&b, session.Level10, entries); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	col := func(line, word string) int { return Width(line[:strings.Index(line, word)]) }
	want := col(lines[0], "TIME")
	for _, l := range lines[1:] {
		if got := col(l, "0:0"); got != want {
			t.Errorf("TIME at column %d, want %d:\n%s", got, want, b.String())
		}
	}
}

// The injection seeds: each entry is one line, and no control byte or
// bidirectional override reaches the output.
func TestTableHostile(t *testing.T) {
	entries := []session.Info{
		{ClientName: "\\\\10.0.0.7", UserName: "evil\x1b[2J\x1b[31mred\r\nfake", ClientType: "\u202eexe.txt", Transport: "t\x9b1m"},
		{ClientName: "a\nb\rc", UserName: "=HYPERLINK(\"http://x\")"},
	}
	var b strings.Builder
	if err := WriteTable(&b, session.Level502, entries); err != nil {
		t.Fatal(err)
	}
	checkSafe(t, b.String(), len(entries)+1)
	if !strings.Contains(b.String(), `evil\x1b[2J\x1b[31mred\r\nfake`) || !strings.Contains(b.String(), `\u202eexe.txt`) {
		t.Errorf("escapes missing:\n%s", b.String())
	}
}

func checkSafe(t *testing.T, out string, rows int) {
	t.Helper()
	if n := strings.Count(out, "\n"); n != rows {
		t.Errorf("%d lines, want %d:\n%q", n, rows, out)
	}
	for i, r := range out {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || unsafeFormat(r) {
			t.Fatalf("rune %U at %d reached the table:\n%q", r, i, out)
		}
	}
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8 reached the table: %q", out)
	}
}

// FuzzWriteTable: whatever a server sends as names, the table has one line
// per entry, no control byte, no bidirectional control, valid UTF-8.
func FuzzWriteTable(f *testing.F) {
	f.Add("evil\x1b[2J\x1b[31mred\r\nfake", `\\10.0.0.5`, "\u202e", "\u2066")
	f.Add("田中", "\x85", "\xff", "\t")
	f.Add("=HYPERLINK(\"http://x\")", "\u0000", "\u2028", "\ufffd")
	f.Fuzz(func(t *testing.T, user, client, ctype, transport string) {
		entries := []session.Info{{ClientName: client, UserName: user, ClientType: ctype, Transport: transport}, {ClientName: user, UserName: client}}
		for _, l := range session.Levels() {
			var b strings.Builder
			if err := WriteTable(&b, l, entries); err != nil {
				t.Fatal(err)
			}
			checkSafe(t, b.String(), 3)
		}
	})
}

func TestDefuse(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1":                       "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "alice": "alice", "a=b": "a=b", "'=x": "'=x",
	} {
		if got := Defuse(in); got != want {
			t.Errorf("Defuse(%q) = %q, want %q", in, got, want)
		}
	}
}
