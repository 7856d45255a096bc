package cli

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testApp has one command with every kind of flag.
func testApp(got *[]string, seen *map[string]any) *App {
	return &App{
		Name:      "prog",
		Summary:   "a test program",
		Version:   "v1.2.3",
		ExitCodes: []ExitCode{{Code: 0, Meaning: "ok"}, {Code: 1, Meaning: "usage"}},
		Commands: []*Command{{
			Name:     "list",
			Summary:  "list things",
			Args:     "[SERVER]",
			MaxArgs:  1,
			Help:     "Lists things.\n\nA second paragraph with a \\backslash.\n  an indented line",
			Examples: []string{"prog list fs1 -U alice --level 10"},
			ExitCodes: []ExitCode{
				{Code: 0, Meaning: "listed"},
				{Code: 5, Meaning: "no match"},
			},
			Define: func(fs *FlagSet) Action {
				user := fs.String("U", "", "log on as `USER[%PASSWORD]`")
				fs.Group("Output")
				level := fs.Choice("level", "auto", []string{"auto", "0", "10"}, "the `LEVEL`")
				js := fs.Bool("json", "JSON Lines")
				krb := fs.Bool("kerberos,k", "log on with Kerberos")
				every := fs.Duration("interval", 5*time.Minute, "between scans")
				file := fs.File("users", "", "accounts `FILE`")
				n := fs.Uint32("max-len", 0, "bytes")
				rate := fs.Float64("rate", 0, "per second")
				return func(ctx context.Context, inv *Invocation) int {
					*got = inv.Args
					*seen = map[string]any{"U": *user, "level": *level, "json": *js, "k": *krb, "interval": *every, "users": *file, "max-len": *n, "rate": *rate, "count-U": inv.Flags.Count("U")}
					return 0
				}
			},
		}},
	}
}

func TestParseOrder(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		want map[string]any
		err  string
	}{
		{[]string{"fs1", "-U", "x", "--level", "10"}, []string{"fs1"}, map[string]any{"U": "x", "level": "10"}, ""},
		{[]string{"-U", "x", "fs1", "--json", "-k"}, []string{"fs1"}, map[string]any{"json": true, "k": true}, ""},
		{[]string{"--kerberos", "--json=false", "fs1"}, []string{"fs1"}, map[string]any{"json": false, "k": true}, ""},
		{[]string{"-Ualice%pw", "--level=0"}, nil, map[string]any{"U": "alice%pw", "level": "0"}, ""},
		{[]string{"-U=alice", "-level", "0", "-json"}, nil, map[string]any{"U": "alice", "level": "0", "json": true}, ""},
		{[]string{"--interval", "1d12h", "--max-len", "4294967295"}, nil, map[string]any{"interval": 36 * time.Hour, "max-len": uint32(4294967295)}, ""},
		{[]string{"--users", "a.json", "--", "--json"}, []string{"--json"}, map[string]any{"users": "a.json", "json": false}, ""},
		{[]string{"-"}, []string{"-"}, nil, ""},
		{[]string{"-U", "a", "-U", "b"}, nil, map[string]any{"U": "b", "count-U": 2}, ""},
		{[]string{"--bogus"}, nil, nil, "unknown flag --bogus"},
		{[]string{"-x"}, nil, nil, "unknown flag -x"},
		{[]string{"--level"}, nil, nil, "--level needs a value (LEVEL)"},
		{[]string{"--level", "3"}, nil, nil, `--level: want auto, 0 or 10, not "3"`},
		{[]string{"--interval", "5"}, nil, nil, "--interval: \"5\" is not a duration"},
		{[]string{"--json=maybe"}, nil, nil, "--json: want true or false"},
		{[]string{"--max-len", "-1"}, nil, nil, "--max-len: want a whole number"},
		{[]string{"--rate", "0.5"}, nil, map[string]any{"rate": 0.5}, ""},
		{[]string{"--rate", "NaN"}, nil, nil, "--rate: want a number"},
		{[]string{"--rate", "fast"}, nil, nil, "--rate: want a number"},
		{[]string{"a", "b"}, nil, nil, `unexpected argument "b" (prog list takes [SERVER])`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var pos []string
			var seen map[string]any
			var out, errb bytes.Buffer
			code := testApp(&pos, &seen).Run(context.Background(), append([]string{"list"}, tc.args...), &out, &errb)
			if tc.err != "" {
				if code != ExitUsage || !strings.Contains(errb.String(), tc.err) || !strings.Contains(errb.String(), "see 'prog list --help'") || out.Len() != 0 {
					t.Errorf("exit %d, stderr %q, want %q", code, errb.String(), tc.err)
				}
				if strings.Count(errb.String(), "\n") != 2 {
					t.Errorf("the error is not two lines: %q", errb.String())
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if !slices.Equal(pos, tc.pos) {
				t.Errorf("positional %q, want %q", pos, tc.pos)
			}
			for k, v := range tc.want {
				if seen[k] != v {
					t.Errorf("%s = %v, want %v", k, seen[k], v)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var pos []string
	var seen map[string]any
	app := testApp(&pos, &seen)
	for _, args := range [][]string{{"list", "-h"}, {"list", "--help"}, {"list", "fs1", "-help"}, {"help", "list"}} {
		var out, errb bytes.Buffer
		if code := app.Run(context.Background(), args, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errb.String())
		}
		h := out.String()
		for _, s := range []string{"Usage: prog list [flags] [SERVER]", "  -U USER[%PASSWORD]\n        log on as USER[%PASSWORD]", "Output:\n", "      --level LEVEL\n        the LEVEL (default auto)",
			"  -k, --kerberos\n", "      --interval DURATION\n        between scans (default 5m)", "Examples:\n  prog list fs1", "Exit codes:\n  0    listed\n  5    no match"} {
			if !strings.Contains(h, s) {
				t.Errorf("%v: help lacks %q:\n%s", args, s, h)
			}
		}
		if strings.Contains(h, "\n  -level") || strings.Contains(h, "`") {
			t.Errorf("single-dash long flag or a backquote in the help:\n%s", h)
		}
	}
	var out, errb bytes.Buffer
	if code := app.Run(context.Background(), []string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "  list        list things") || !strings.Contains(out.String(), "completion") {
		t.Errorf("help: %d\n%s", code, out.String())
	}
	out.Reset()
	if code := app.Run(context.Background(), []string{"nope"}, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), `unknown command "nope"`) {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
	if code := app.Run(context.Background(), nil, &out, &errb); code != ExitUsage {
		t.Errorf("no command: %d", code)
	}
}

func TestCompletion(t *testing.T) {
	var pos []string
	var seen map[string]any
	app := testApp(&pos, &seen)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var out, errb bytes.Buffer
		if code := app.Run(context.Background(), []string{"completion", sh}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d %s", sh, code, errb.String())
		}
		s := out.String()
		for _, want := range map[string][]string{
			"bash": {"--level) COMPREPLY=($(compgen -W 'auto 0 10'", "--users) COMPREPLY=($(compgen -f", "--kerberos", "-k", "-U", "complete -F _prog prog"},
			"zsh":  {"#compdef prog", "'--level=[the LEVEL]:LEVEL:(auto 0 10)'", "'--users=[accounts FILE]:FILE:_files'", "'-k[log on with Kerberos]'", "'-U[log on as USER(%PASSWORD)]:USER(%PASSWORD): '"},
			"fish": {"-l level -x -a 'auto 0 10'", "-l users -r -F", "-l kerberos -s k", "-s U -x", "__fish_use_subcommand' -a list"},
		}[sh] {
			if !strings.Contains(s, want) {
				t.Errorf("%s completion lacks %q:\n%s", sh, want, s)
			}
		}
		if sh == "bash" {
			if _, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command("bash", "-n")
				cmd.Stdin = strings.NewReader(s)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v %s", err, b)
				}
				// Complete "prog list --le" and "prog list --level ".
				for line, want := range map[string]string{"prog list --le": "--level", "prog list --level ": "auto 0 10", "prog li": "list"} {
					words := strings.Split(line, " ")
					script := s + "\nCOMP_WORDS=(" + strings.Join(quoteAll(words), " ") + "); COMP_CWORD=" + itoa(len(words)-1) + "; _prog; echo \"${COMPREPLY[*]}\"\n"
					b, err := exec.Command("bash", "-c", script).CombinedOutput()
					if err != nil || strings.TrimSpace(string(b)) != want {
						t.Errorf("complete %q: %q %v, want %q", line, b, err, want)
					}
				}
			}
		}
	}
	var out, errb bytes.Buffer
	if code := app.Run(context.Background(), []string{"completion", "tcsh"}, &out, &errb); code != ExitUsage {
		t.Errorf("tcsh: %d", code)
	}
}

func quoteAll(w []string) []string {
	out := make([]string, len(w))
	for i, s := range w {
		out[i] = "'" + s + "'"
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMan(t *testing.T) {
	var pos []string
	var seen map[string]any
	var out, errb bytes.Buffer
	if code := testApp(&pos, &seen).Run(context.Background(), []string{"man"}, &out, &errb); code != 0 {
		t.Fatal(code)
	}
	s := out.String()
	for _, want := range []string{".TH PROG 1", `\fB\-k, \-\-kerberos\fR`, `\fB\-\-level\fR \fILEVEL\fR`, `\ebackslash`, ".SH \"EXIT STATUS\"", "DURATIONS"} {
		if !strings.Contains(s, want) {
			t.Errorf("man lacks %q", want)
		}
	}
	if _, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(s)
		if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("groff warns: %v %s", err, b)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"0": 0, "90s": 90 * time.Second, "2h": 2 * time.Hour, "7d": 7 * Day, "1d12h": 36 * time.Hour,
		"1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond, "2w": 14 * Day, "1m1s": 61 * time.Second, "90d": 90 * Day,
	}
	for s, want := range good {
		got, err := ParseDuration(s)
		if err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
		if back, _ := ParseDuration(FormatDuration(got)); back != got {
			t.Errorf("%q: format %q reads back as %v", s, FormatDuration(got), back)
		}
	}
	for _, s := range []string{"", "5", "h", "-1s", "1.5h", "1y", "1d 2h", "99999999999999999999s", "300000d", " 1s"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	if FormatDuration(36*time.Hour+5*time.Second) != "1d12h5s" || FormatDuration(0) != "0" {
		t.Errorf("format: %s", FormatDuration(36*time.Hour+5*time.Second))
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for s, want := range map[string]time.Time{
		"now":                       now,
		"2h":                        now.Add(-2 * time.Hour),
		"7d":                        now.Add(-7 * Day),
		"2026-03-01T08:00:00Z":      time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
		"2026-03-01T09:00:00+01:00": time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
		"2026-03-01":                time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := ParseTime(s, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "yesterday", "2026-13-01", "12:00"} {
		if _, err := ParseTime(s, now); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	fs := NewFlagSet()
	at := fs.Time("at", func() time.Time { return now }, "the instant")
	if _, err := fs.Parse([]string{"--at", "1d"}); err != nil || !at.Equal(now.Add(-Day)) {
		t.Errorf("--at 1d: %v %v", at, err)
	}
	if _, err := fs.Parse([]string{"--at", "soon"}); err == nil || !strings.Contains(err.Error(), "--at:") {
		t.Errorf("--at soon: %v", err)
	}
}

// FuzzParseDuration: no input panics, and whatever parses formats to a
// string that parses to the same duration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "90s", "2h", "7d", "1d12h", "250ms", "2w", "1h30m", "9223372036s", "5", "-1s", "1d1d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("%q: negative %v", s, d)
		}
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d.Truncate(time.Millisecond) {
			t.Fatalf("%q = %v: formats as %q, reads back %v %v", s, d, FormatDuration(d), back, err)
		}
	})
}

func TestDefinePanicsOnDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	fs := NewFlagSet()
	fs.Bool("json", "")
	fs.Bool("json", "")
}

// FuzzParseTime: no input panics; a relative form is that long before
// now, and an accepted time formats back to one that parses equal.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"now", "2h", "7d", "2026-03-01T08:00:00Z", "2026-03-01T09:00:00+01:00", "2026-03-01", "", "yesterday", "1d12h"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, now)
		if err != nil {
			return
		}
		if d, derr := ParseDuration(s); derr == nil && !got.Equal(now.Add(-d)) {
			t.Fatalf("%q: %v, want %v", s, got, now.Add(-d))
		}
		back, err := ParseTime(got.Format(time.RFC3339Nano), now)
		if err != nil || !back.Equal(got) {
			t.Fatalf("%q = %v: reads back as %v %v", s, got, back, err)
		}
	})
}

// FuzzParseArgs: no command line panics the parser; whatever it accepts,
// every word is either a flag, a flag's value or a positional argument.
func FuzzParseArgs(f *testing.F) {
	f.Add("list\x00fs1\x00-U\x00x\x00--level\x0010")
	f.Add("--\x00--json\x00-")
	f.Add("-Ualice\x00--interval=1d\x00--json=false\x00-k")
	f.Add("--level\x00")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs := NewFlagSet()
		fs.String("U", "", "user")
		fs.Choice("level", "auto", []string{"auto", "0", "10"}, "level")
		fs.Bool("json", "json")
		fs.Bool("kerberos,k", "krb")
		fs.Duration("interval", 0, "interval")
		pos, err := fs.Parse(args)
		if err != nil {
			var pe *ParseError
			if !errors.Is(err, ErrHelp) && !errors.As(err, &pe) {
				t.Fatalf("%q: error of type %T", args, err)
			}
			return
		}
		if len(pos) > len(args) {
			t.Fatalf("%q: %d positional from %d words", args, len(pos), len(args))
		}
	})
}

// A command with subcommands: the parser lets through none, a known word
// with its arguments, and refuses another word or a wrong count; the
// synopsis is made of the words.
func TestSubcommands(t *testing.T) {
	var got []string
	app := &App{Name: "prog", Commands: []*Command{{
		Name: "hist",
		Subcommands: []Subcommand{
			{Name: "sum", Summary: "count"},
			{Name: "load", Summary: "read a file", Args: "FILE", NArgs: 1},
		},
		Define: func(fs *FlagSet) Action {
			fs.Bool("json", "JSON")
			return func(ctx context.Context, inv *Invocation) int { got = inv.Args; return 0 }
		},
	}}}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"sum", "--json"}, ""},
		{[]string{"--json", "load", "f"}, ""},
		{[]string{"bogus"}, `unknown subcommand "bogus": want sum or load`},
		{[]string{"sum", "x"}, `unexpected argument "x" after "sum"`},
		{[]string{"load"}, "load takes FILE"},
		{[]string{"load", "a", "b"}, `unexpected argument "b" after "load"`},
	} {
		got = nil
		var out, errb bytes.Buffer
		code := app.Run(context.Background(), append([]string{"hist"}, tc.args...), &out, &errb)
		if tc.err == "" {
			if code != 0 || len(got) != len(tc.args)-strings.Count(strings.Join(tc.args, " "), "--json") {
				t.Errorf("%q: exit %d, args %q, %s", tc.args, code, got, errb.String())
			}
			continue
		}
		if code != ExitUsage || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, errb.String(), tc.err)
		}
	}
	if s := app.Synopsis(app.Commands[0]); s != "prog hist [flags] [sum | load FILE]" {
		t.Errorf("synopsis %q", s)
	}
	var b bytes.Buffer
	app.WriteBash(&b)
	if !strings.Contains(b.String(), "compgen -W 'sum load --json") || !strings.Contains(b.String(), "load) COMPREPLY=($(compgen -f") {
		t.Errorf("bash completion:\n%s", b.String())
	}
}
