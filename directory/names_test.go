package directory_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/scan"
	"github.com/netsession/netsession/session"
)

func TestNormalizeClient(t *testing.T) {
	for raw, want := range map[string]directory.ClientName{
		`\\WS01`:               {Kind: directory.ClientNetBIOS, Host: "WS01"},
		`ws01`:                 {Kind: directory.ClientNetBIOS, Host: "WS01"},
		`EXAMPLE\ws01`:         {Kind: directory.ClientNetBIOS, Host: "WS01"},
		`\\ws01.Example.TEST.`: {Kind: directory.ClientFQDN, Host: "ws01.example.test"},
		`10.20.0.1`:            {Kind: directory.ClientIP, Host: "10.20.0.1", Addr: netip.MustParseAddr("10.20.0.1")},
		`\\10.20.0.1`:          {Kind: directory.ClientIP, Host: "10.20.0.1", Addr: netip.MustParseAddr("10.20.0.1")},
		`[fe80::1%eth0]`:       {Kind: directory.ClientIP, Host: "fe80::1", Addr: netip.MustParseAddr("fe80::1"), Zone: "eth0"},
		`\\[FD00:10::1]`:       {Kind: directory.ClientIP, Host: "fd00:10::1", Addr: netip.MustParseAddr("fd00:10::1")},
		`::ffff:10.1.2.3`:      {Kind: directory.ClientIP, Host: "10.1.2.3", Addr: netip.MustParseAddr("10.1.2.3")},
		`  `:                   {},
		`\\`:                   {},
		`[::1]`:                {Kind: directory.ClientIP, Host: "::1", Addr: netip.MustParseAddr("::1")},
	} {
		if got := directory.NormalizeClient(raw); got != want {
			t.Errorf("NormalizeClient(%q) = %+v, want %+v", raw, got, want)
		}
	}
	for _, l := range []string{"127.0.0.1", "[::1]", `\\127.0.0.1`, "::ffff:127.0.0.1", "0.0.0.0"} {
		if !directory.NormalizeClient(l).Loopback() {
			t.Errorf("%q not loopback", l)
		}
	}
}

// FuzzNormalizeClient checks the properties of the normalisation: it is
// idempotent on its output, blind to case, leading backslashes, a DOMAIN\
// prefix and IPv6 brackets and zones, and a name without a dot is NetBIOS,
// with one a DNS name.
func FuzzNormalizeClient(f *testing.F) {
	for _, s := range []string{`\\WS01`, `EXAMPLE\ws01.example.test`, `[fe80::1%eth0]`, `10.0.0.1`, `::1`, ``, `a.b.`,
		`\\[fd00::1]`, `ws-01`, `\\\`, `[`, `]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c := directory.NormalizeClient(raw)
		for _, variant := range []string{`\\` + raw, strings.ToUpper(raw), strings.ToLower(raw)} {
			v := directory.NormalizeClient(variant)
			if c.Kind == directory.ClientIP || strings.ContainsAny(raw, `\[]%`) || !validUTF8Lower(raw) {
				// Case and prefixes of addresses and odd input are
				// checked below only.
				if variant == `\\`+raw && v != c && !strings.HasPrefix(raw, "[") {
					t.Fatalf("%q and %q differ: %+v %+v", raw, variant, c, v)
				}
				continue
			}
			if v != c {
				t.Fatalf("%q and %q differ: %+v %+v", raw, variant, c, v)
			}
		}
		switch c.Kind {
		case directory.ClientEmpty:
			if c.Host != "" {
				t.Fatalf("empty with host %q", c.Host)
			}
		case directory.ClientIP:
			if c.Addr.Zone() != "" || c.Addr.Is4In6() || c.Host != c.Addr.String() {
				t.Fatalf("address %+v", c)
			}
			if c.Addr.Is6() {
				br := directory.NormalizeClient("[" + c.Addr.String() + "]")
				if br.Addr != c.Addr {
					t.Fatalf("brackets change %v: %+v", c.Addr, br)
				}
			}
		case directory.ClientNetBIOS:
			if strings.Contains(c.Host, ".") || c.Host != strings.ToUpper(c.Host) {
				t.Fatalf("NetBIOS %q", c.Host)
			}
		case directory.ClientFQDN:
			if !strings.Contains(c.Host, ".") || strings.HasSuffix(c.Host, ".") || c.Host != strings.ToLower(c.Host) {
				t.Fatalf("FQDN %q", c.Host)
			}
		}
		if c.Kind != directory.ClientEmpty {
			again := directory.NormalizeClient(c.Host)
			if again.Kind != c.Kind || again.Host != c.Host {
				t.Fatalf("not idempotent: %q -> %+v -> %+v", raw, c, again)
			}
		}
	})
}

// validUTF8Lower reports whether case mapping round-trips on s (it does not
// for every Unicode string, and names are ASCII in practice).
func validUTF8Lower(s string) bool {
	for _, r := range s {
		if r > 0x7f {
			return false
		}
	}
	return true
}

func TestSkipSession(t *testing.T) {
	for _, tc := range []struct {
		client, user, collector string
		want                    directory.Skip
	}{
		{"10.0.0.1", "alice", "scanner", directory.SkipNone},
		{"10.0.0.1", "", "scanner", directory.SkipEmptyUser},
		{"", "alice", "scanner", directory.SkipEmptyClient},
		{`\\`, "alice", "scanner", directory.SkipEmptyClient},
		{"10.0.0.1", "WS01$", "scanner", directory.SkipMachineAccount},
		{"10.0.0.1", `EXAMPLE\WS01$`, "scanner", directory.SkipMachineAccount},
		{"10.0.0.1", "ANONYMOUS LOGON", "scanner", directory.SkipAnonymous},
		{"10.0.0.1", "Scanner", `EXAMPLE\scanner`, directory.SkipCollector},
		{"10.0.0.1", `EXAMPLE\scanner`, "scanner@example", directory.SkipCollector},
		{"10.0.0.1", `OTHER\scanner`, `EXAMPLE\scanner`, directory.SkipNone},
	} {
		if got := directory.SkipSession(tc.client, tc.user, tc.collector); got != tc.want {
			t.Errorf("SkipSession(%q, %q, %q) = %q, want %q", tc.client, tc.user, tc.collector, got, tc.want)
		}
	}
}

func TestSIDRoundTrip(t *testing.T) {
	b := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x15, 0xcd, 0x5b, 0x07, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xe8, 3, 0, 0}
	s, err := directory.DecodeSID(b)
	if err != nil || s != "S-1-5-21-123456789-67305985-4294967295-1000" {
		t.Fatalf("DecodeSID = %q, %v", s, err)
	}
	back, err := directory.EncodeSID(s)
	if err != nil || !bytes.Equal(back, b) {
		t.Fatalf("EncodeSID = %x, %v", back, err)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0, 0, 0, 0, 0, 5}, {1, 1, 0, 0, 0, 0, 0, 5}, {1, 16}, append(b, 0)} {
		if _, err := directory.DecodeSID(bad); !errors.Is(err, directory.ErrBadSID) {
			t.Errorf("DecodeSID(%x) = %v", bad, err)
		}
	}
}

func FuzzDecodeSID(f *testing.F) {
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0})
	f.Add([]byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x15, 0xcd, 0x5b, 0x07, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xe8, 3, 0, 0})
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := directory.DecodeSID(b)
		if err != nil {
			return
		}
		if b[2] == 0 && b[3] == 0 { // authorities below 2^32 print in decimal
			back, err := directory.EncodeSID(s)
			if err != nil || !bytes.Equal(back, b) {
				t.Fatalf("%x -> %s -> %x, %v", b, s, back, err)
			}
		}
	})
}

func TestFileTime(t *testing.T) {
	// 2026-01-02T03:04:05Z as AD writes it.
	tm, err := directory.ParseFileTime("134117966450000000")
	if err != nil || !tm.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("ParseFileTime = %v, %v", tm, err)
	}
	if s := directory.FormatFileTime(tm); s != "134117966450000000" {
		t.Errorf("FormatFileTime = %s", s)
	}
	for _, bad := range []string{"", "-1", "x", "99999999999999999999"} {
		if _, err := directory.ParseFileTime(bad); err == nil {
			t.Errorf("ParseFileTime(%q) accepted", bad)
		}
	}
	if tm, err := directory.ParseFileTime("0"); err != nil || !tm.IsZero() {
		t.Errorf("0 = %v, %v", tm, err)
	}
}

func TestMatchOS(t *testing.T) {
	for _, tc := range []struct {
		pat, os string
		want    bool
	}{
		{"server", "Windows Server 2022 Standard", true},
		{"*Server 20??*", "Windows Server 2019 Datacenter", true},
		{"windows 11*", "Windows Server 2022", false},
		{"[", "x", false},
	} {
		if got := directory.MatchOS(tc.pat, tc.os); got != tc.want {
			t.Errorf("MatchOS(%q, %q) = %v", tc.pat, tc.os, got)
		}
	}
}

// mapDir is a Lookup over fixed maps, counting its calls.
type mapDir struct {
	accounts, hosts map[string]string
	calls           int
}

func (m *mapDir) Domain() directory.Domain {
	return directory.Domain{DNSName: "example.test", NetBIOSName: "EXAMPLE", SID: "S-1-5-21-1-2-3"}
}

func (m *mapDir) AccountSID(_ context.Context, sam string) (string, error) {
	m.calls++
	if s, ok := m.accounts[strings.ToLower(sam)]; ok {
		return s, nil
	}
	return "", directory.ErrNotFound
}

func (m *mapDir) HostSID(_ context.Context, fqdn string) (string, error) {
	m.calls++
	if s, ok := m.hosts[fqdn]; ok {
		return s, nil
	}
	return "", directory.ErrNotFound
}

func TestResolver(t *testing.T) {
	dir := &mapDir{
		accounts: map[string]string{"alice": "s-1-5-21-1-2-3-1105", "ws01$": "S-1-5-21-1-2-3-1201", "ws02$": "S-1-5-21-1-2-3-1202",
			"srv$": "S-1-5-21-1-2-3-1300"},
		hosts: map[string]string{"ws03.example.test": "S-1-5-21-1-2-3-1203", "srv.example.test": "S-1-5-21-1-2-3-1300"},
	}
	reverse := func(_ context.Context, a netip.Addr) ([]string, error) {
		if a == netip.MustParseAddr("10.0.0.3") {
			return []string{"ws03.example.test."}, nil
		}
		if a == netip.MustParseAddr("fd00::2") {
			return []string{"ws02.example.test."}, nil
		}
		return nil, directory.ErrNotFound
	}
	r := directory.NewResolver(dir, directory.ResolverConfig{Collector: `EXAMPLE\scanner`, Reverse: reverse})
	ctx := context.Background()
	res := &scan.Result{Target: "srv.example.test:445", Collected: true, Level: 10, HasLevel: true}
	add := func(cl, user string) {
		res.Sessions = append(res.Sessions, client.Session{Info: session.Info{ClientName: cl, UserName: user}, Level: 10})
	}
	add(`\\WS01`, "alice")                    // NetBIOS
	add(`ws02.example.test`, `EXAMPLE\alice`) // FQDN without dNSHostName: first label
	add(`10.0.0.3`, "alice@example.test")     // reverse DNS, then dNSHostName
	add(`[fd00::2]`, "alice")                 // IPv6 in brackets, reverse DNS
	add(`[::1]`, "alice")                     // loopback: the host itself
	add(`10.9.9.9`, "alice")                  // no reverse name
	add(`\\WS01`, `OTHER\alice`)              // a foreign domain
	add(`\\WS01`, "bob")                      // unknown user
	add(`\\WS01`, "scanner")                  // the collector
	add(`\\WS01`, "WS01$")                    // a machine account
	h := r.Resolve(ctx, res, nil)
	if h.SID != "S-1-5-21-1-2-3-1300" || h.HostErr != nil {
		t.Fatalf("host %q %v", h.SID, h.HostErr)
	}
	want := []struct {
		user, computer string
		userErr        error
		skip           directory.Skip
	}{
		{"S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1201", nil, ""},
		{"S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1202", nil, ""},
		{"S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1203", nil, ""},
		{"S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1202", nil, ""},
		{"S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1300", nil, ""},
		{"S-1-5-21-1-2-3-1105", "", nil, ""},
		{"", "S-1-5-21-1-2-3-1201", directory.ErrForeignDomain, ""},
		{"", "S-1-5-21-1-2-3-1201", directory.ErrNotFound, ""},
		{"", "", nil, directory.SkipCollector},
		{"", "", nil, directory.SkipMachineAccount},
	}
	for i, w := range want {
		s := h.Sessions[i]
		if s.UserSID != w.user || s.ComputerSID != w.computer || s.Skip != w.skip ||
			(w.userErr != nil && !errors.Is(s.UserErr, w.userErr)) || s.Raw.ClientName != res.Sessions[i].ClientName {
			t.Errorf("session %d (%s, %s): %+v", i, res.Sessions[i].ClientName, res.Sessions[i].UserName, s)
		}
	}
	st := r.Stats()
	if st.Sessions != 10 || st.Resolved != 5 || st.UnresolvedUsers != 2 || st.UnresolvedClients != 1 ||
		st.Skipped[directory.SkipCollector] != 1 || st.Skipped[directory.SkipMachineAccount] != 1 {
		t.Errorf("stats %+v", st)
	}
	// Everything is cached now, negative answers included.
	calls := dir.calls
	r.Resolve(ctx, res, nil)
	if dir.calls != calls {
		t.Errorf("%d more directory calls on a second pass", dir.calls-calls)
	}
}

func TestScanTargets(t *testing.T) {
	d := &directory.Discovery{Targets: []directory.Computer{{Name: "A", DNSHostName: "a.example.test"}, {Name: "B", DNSHostName: "b.example.test"}}}
	ts, by := d.ScanTargets(1445)
	if len(ts) != 2 || ts[0].Host != "a.example.test" || ts[0].Port != 1445 || ts[0].Input != "a.example.test:1445" {
		t.Fatalf("targets %+v", ts)
	}
	if by["b.example.test:1445"].Name != "B" || by[ts[0].Input].Name != "A" {
		t.Errorf("index %v", by)
	}
	ts, by = d.ScanTargets(0)
	if ts[1].Input != "b.example.test" || by["b.example.test"].Name != "B" {
		t.Errorf("default port: %+v", ts)
	}
}
