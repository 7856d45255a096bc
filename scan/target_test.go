package scan_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/scan"
)

func TestParseTarget(t *testing.T) {
	good := []struct {
		in   string
		host string
		port int
		addr string
	}{
		{"fs1", "fs1", 0, "fs1"},
		{"FS1.Corp.Example.", "fs1.corp.example", 0, "fs1.corp.example"},
		{"fs1:4445", "fs1", 4445, "fs1:4445"},
		{"10.0.0.1", "10.0.0.1", 0, "10.0.0.1"},
		{"10.0.0.1:445", "10.0.0.1", 445, "10.0.0.1:445"},
		{"::1", "::1", 0, "::1"},
		{"fe80::1%eth0", "fe80::1%eth0", 0, "fe80::1%eth0"},
		{"[2001:db8::1]", "2001:db8::1", 0, "2001:db8::1"},
		{"[2001:DB8::1]:4445", "2001:db8::1", 4445, "[2001:db8::1]:4445"},
		{" spaced ", "spaced", 0, "spaced"},
	}
	for _, tc := range good {
		tg, err := scan.ParseTarget(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if tg.Host != tc.host || tg.Port != tc.port || tg.Addr() != tc.addr || tg.Input != strings.TrimSpace(tc.in) {
			t.Errorf("%q: %+v (addr %q), want host %q port %d addr %q", tc.in, tg, tg.Addr(), tc.host, tc.port, tc.addr)
		}
	}
	for _, in := range []string{"", "fs1:", "fs1:0", "fs1:65536", "fs1:x", "2001:db8::1:445:x:y:z:w", "[10.0.0.1]:445", "[::1", "[::1]x",
		"[::1]:", "a b", `\\fs1`, "fs1/share", "bad_name!", ":445", strings.Repeat("a", 64) + ".example"} {
		if tg, err := scan.ParseTarget(in); err == nil {
			t.Errorf("%q: accepted as %+v", in, tg)
		} else if te := new(scan.TargetError); !errors.As(err, &te) {
			t.Errorf("%q: %T, want *TargetError", in, err)
		}
	}
}

func TestParseTargetsRangesAndDuplicates(t *testing.T) {
	ts, err := scan.ParseTargets([]string{"10.0.0.0/30", "10.0.0.1", "10.0.0.1:445", "10.0.0.9/32", "2001:db8::/127", "fs1", "FS1", "fs1:4445"}, scan.ParseOptions{DefaultPort: 445})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.Addr()+"<"+x.Range)
	}
	want := []string{"10.0.0.1<10.0.0.0/30", "10.0.0.2<10.0.0.0/30", "10.0.0.9<10.0.0.9/32",
		"2001:db8::<2001:db8::/127", "2001:db8::1<2001:db8::/127", "fs1<", "fs1:4445<"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("targets (-want +got):\n%s", d)
	}

	// The cap: a /16 passes, a /15 does not, and the error says why.
	if ts, err := scan.ParseTargets([]string{"10.1.0.0/16"}, scan.ParseOptions{}); err != nil || len(ts) != 65534 {
		t.Errorf("/16: %d targets, %v", len(ts), err)
	}
	for _, r := range []string{"10.0.0.0/15", "10.0.0.0/8", "2001:db8::/64", "::/0"} {
		_, err := scan.ParseTargets([]string{r}, scan.ParseOptions{})
		if !errors.Is(err, scan.ErrRangeTooLarge) || !strings.Contains(err.Error(), "over the limit of 65536") {
			t.Errorf("%s: %v", r, err)
		}
	}
	if _, err := scan.ParseTargets([]string{"10.0.0.0/24"}, scan.ParseOptions{MaxRange: 16}); !errors.Is(err, scan.ErrRangeTooLarge) {
		t.Errorf("MaxRange 16: %v", err)
	}
	if _, err := scan.ParseTargets([]string{"10.0.0.0/33"}, scan.ParseOptions{}); err == nil {
		t.Error("a /33 was accepted")
	}
}

func TestReadTargetsFile(t *testing.T) {
	in := "# fleet\n\nfs1 # the first\n  fs2:4445\n10.0.0.4/31\nfs1\n[::1]:445 #v6\n"
	ts, err := scan.ReadTargets(strings.NewReader(in), scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.Input)
	}
	if d := cmp.Diff([]string{"fs1", "fs2:4445", "10.0.0.4", "10.0.0.5", "[::1]:445"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	_, err = scan.ReadTargets(strings.NewReader("fs1\nfs2\nnot a host\n"), scan.ParseOptions{})
	var te *scan.TargetError
	if !errors.As(err, &te) || te.Line != 3 || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad line: %v", err)
	}
	_, err = scan.ReadTargets(strings.NewReader("fs1\n"+strings.Repeat("x", scan.MaxLine+1)+"\n"), scan.ParseOptions{})
	if err == nil {
		t.Error("an overlong line was accepted")
	}
}

// A stream yields targets as they are read: the first is available
// before the writer has finished, and the total is unknown.
func TestStreamSource(t *testing.T) {
	pr, pw := io.Pipe()
	src := scan.NewStreamSource(pr, scan.ParseOptions{})
	if src.Total() != -1 {
		t.Errorf("total %d", src.Total())
	}
	go func() {
		io.WriteString(pw, "fs1\nfs1\n")
		io.WriteString(pw, "fs2\n")
		pw.Close()
	}()
	ctx := context.Background()
	var got []string
	for {
		x, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, x.Host)
	}
	if d := cmp.Diff([]string{"fs1", "fs2"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"fs1", "fs1:445", "10.0.0.1", "[::1]:445", "::1", "fe80::1%eth0", "[", "a:b:c", "10.0.0.0/30", "2001:db8::/126"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := scan.ParseTarget(s)
		if err == nil {
			// What parses renders to an address that parses to the same.
			again, err := scan.ParseTarget(tg.Addr())
			if err != nil || again.Host != tg.Host || again.Port != tg.Port {
				t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, tg, tg.Addr(), again, err)
			}
		}
		ts, err := scan.ParseTargets([]string{s}, scan.ParseOptions{MaxRange: 64})
		if err == nil && len(ts) > 64 {
			t.Fatalf("%q: %d targets over the cap", s, len(ts))
		}
	})
}

func TestDedup(t *testing.T) {
	a, err := scan.ParseTargets([]string{"h1", "h2:445", "10.0.0.1"}, scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := scan.ParseTargets([]string{"h1:445", "h3", "10.0.0.1"}, scan.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range scan.Dedup(append(a, b...), scan.ParseOptions{DefaultPort: 445}) {
		got = append(got, x.Input)
	}
	if want := []string{"h1", "h2:445", "10.0.0.1", "h3"}; !slices.Equal(got, want) {
		t.Errorf("Dedup = %v, want %v", got, want)
	}
}
