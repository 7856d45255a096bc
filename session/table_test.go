package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	admin    = Caller{User: "alice", Groups: []string{GroupAdministrators}}
	operator = Caller{User: "oscar", Groups: []string{`BUILTIN\Server Operators`}}
	plain    = Caller{User: "bob"}
	guest    = Caller{User: "nobody", Guest: true}
	anon     = Caller{}
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestTable(t testing.TB, opts Options) (*Table, *ManualClock) {
	t.Helper()
	clk := NewManualClock(t0)
	opts.Clock = clk
	return New(opts), clk
}

func mustOpen(t testing.TB, tb *Table, spec Spec) *Session {
	t.Helper()
	s, err := tb.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientNamePresentation(t *testing.T) {
	tests := []struct {
		in, windows, bare string
	}{
		{"10.0.0.5", `\\10.0.0.5`, "10.0.0.5"},
		{`\\10.0.0.5`, `\\10.0.0.5`, "10.0.0.5"},
		{"::1", `\\[::1]`, "::1"},
		{"[fe80::1%eth0]", `\\[fe80::1]`, "fe80::1"},
		{"fe80::1%eth0", `\\[fe80::1]`, "fe80::1"},
		{"::ffff:192.168.1.9", `\\192.168.1.9`, "192.168.1.9"},
		{"[::ffff:192.168.1.9]", `\\192.168.1.9`, "192.168.1.9"},
		{"2001:DB8:0:0::7", `\\[2001:db8::7]`, "2001:db8::7"},
		{"WKSALICE1", `\\WKSALICE1`, "WKSALICE1"},
		{`\\wks2`, `\\wks2`, "wks2"},
		{" host.example ", `\\host.example`, "host.example"},
	}
	for _, tc := range tests {
		for _, style := range []CnameStyle{CnameWindows, CnameBare} {
			tb, _ := newTestTable(t, Options{Cname: style, Policy: PolicyOpen()})
			s := mustOpen(t, tb, Spec{Client: tc.in, User: "u"})
			want := tc.windows
			if style == CnameBare {
				want = tc.bare
			}
			if got := s.Info().ClientName; got != want {
				t.Errorf("Open(%q) with %v cname: got %q, want %q", tc.in, style, got, want)
			}
			res, err := tb.Enum(context.Background(), anon, EnumQuery{Level: Level0, PrefMaxLen: MaxPreferredLength})
			if err != nil || len(res.Entries) != 1 || res.Entries[0].ClientName != want {
				t.Errorf("Enum after Open(%q) with %v cname: %+v, %v; want %q", tc.in, style, res, err, want)
			}
		}
	}
}

func TestMatchClient(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`\\10.0.0.5`, "10.0.0.5", true},
		{`\\[::1]`, "::1", true},
		{`\\[0:0::1]`, "::1", true},
		{`\\::ffff:10.0.0.5`, "10.0.0.5", true},
		{`\\[fe80::1%3]`, "fe80::1", true},
		{`\\wksalice1`, "WKSALICE1", true},
		{`\\wksalice1`, "WKSALICE2", false},
		{`\\10.0.0.5`, "10.0.0.50", false},
	}
	for _, tc := range tests {
		if got := MatchClient(tc.a, tc.b); got != tc.want {
			t.Errorf("MatchClient(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// fill opens the sessions used by several tests, in this order:
// 1 alice from 10.0.0.5, 2 bob from 10.0.0.7 (guest), 3 alice from ::1,
// 4 carol from WKS1.
func fill(t *testing.T, tb *Table) []*Session {
	t.Helper()
	return []*Session{
		mustOpen(t, tb, Spec{Client: "10.0.0.5", User: "alice", Transport: `\Device\NetbiosSmb`}),
		mustOpen(t, tb, Spec{Client: "10.0.0.7", User: "bob", Guest: true, NoEncryption: true}),
		mustOpen(t, tb, Spec{Client: "::1", User: "Alice"}),
		mustOpen(t, tb, Spec{Client: "WKS1", User: "carol", ClientType: "Windows 5.0"}),
	}
}

func names(res EnumResult) []string {
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.ClientName+"/"+e.UserName)
	}
	return out
}

func TestEnumChecksAndFilters(t *testing.T) {
	long := `\\` + strings.Repeat("a", MaxNameUnits-3) // 1023 units: with its NUL exactly the limit
	tests := []struct {
		name   string
		caller Caller
		q      EnumQuery
		want   []string
		err    error
	}{
		{"all", admin, EnumQuery{Level: 10}, []string{`\\10.0.0.5/alice`, `\\10.0.0.7/bob`, `\\[::1]/Alice`, `\\WKS1/carol`}, nil},
		{"client filter", admin, EnumQuery{Level: 10, Client: `\\10.0.0.7`}, []string{`\\10.0.0.7/bob`}, nil},
		{"client filter ipv6 forms", admin, EnumQuery{Level: 10, Client: `\\[0::1]`}, []string{`\\[::1]/Alice`}, nil},
		{"client filter netbios case", admin, EnumQuery{Level: 10, Client: `\\wks1`}, []string{`\\WKS1/carol`}, nil},
		{"user filter case-insensitive", admin, EnumQuery{Level: 10, User: "ALICE"}, []string{`\\10.0.0.5/alice`, `\\[::1]/Alice`}, nil},
		{"both filters", admin, EnumQuery{Level: 10, Client: `\\::1`, User: "alice"}, []string{`\\[::1]/Alice`}, nil},
		{"invalid level beats everything", anon, EnumQuery{Level: 3, Client: "nobackslash"}, nil, StatusInvalidLevel},
		{"client without backslashes", anon, EnumQuery{Level: 10, Client: "10.0.0.7"}, nil, StatusInvalidComputer},
		{"client too long", anon, EnumQuery{Level: 10, Client: long + "a"}, nil, StatusInvalidParameter},
		{"user too long", anon, EnumQuery{Level: 10, User: strings.Repeat("é", MaxNameUnits)}, nil, StatusInvalidParameter},
		{"client at the length limit", admin, EnumQuery{Level: 10, Client: long}, nil, StatusClientNameNotFound},
		{"access before not-found", plain, EnumQuery{Level: 10, Client: `\\10.9.9.9`}, nil, StatusAccessDenied},
		{"client not found", admin, EnumQuery{Level: 1, Client: `\\10.9.9.9`}, nil, StatusClientNameNotFound},
		{"client and user not found", admin, EnumQuery{Level: 1, Client: `\\10.0.0.5`, User: "bob"}, nil, StatusClientNameNotFound},
		{"user not found", admin, EnumQuery{Level: 1, User: "mallory"}, nil, StatusUserNotFound},
		{"operator allowed", operator, EnumQuery{Level: 502, User: "carol"}, []string{`\\WKS1/`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, _ := newTestTable(t, Options{})
			fill(t, tb)
			tc.q.PrefMaxLen = MaxPreferredLength
			res, err := tb.Enum(context.Background(), tc.caller, tc.q)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				if len(res.Entries) != 0 || res.TotalEntries != 0 {
					t.Errorf("failed call returned entries: %+v", res)
				}
				return
			}
			got := names(res)
			if tc.q.Level == Level502 {
				got = []string{res.Entries[0].ClientName + "/" + res.Entries[0].ClientType[:0]}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if res.TotalEntries != uint32(len(tc.want)) || res.More || res.Resume != 0 {
				t.Errorf("total %d more %v resume %d; want %d, false, 0", res.TotalEntries, res.More, res.Resume, len(tc.want))
			}
		})
	}
}

func TestEnumEmptyTable(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: 1, PrefMaxLen: MaxPreferredLength})
	if err != nil || len(res.Entries) != 0 || res.TotalEntries != 0 || res.Status() != StatusSuccess {
		t.Fatalf("empty table: %+v, %v", res, err)
	}
	if _, err := tb.Enum(context.Background(), admin, EnumQuery{Level: 1, User: "x", PrefMaxLen: MaxPreferredLength}); err != StatusUserNotFound {
		t.Fatalf("qualified enum of empty table: %v, want NERR_UserNotFound", err)
	}
}

func TestNameLengthLimit(t *testing.T) {
	tb, _ := newTestTable(t, Options{Policy: PolicyOpen()})
	// 1023 units plus NUL is exactly the limit; one more unit is over it.
	okUser := strings.Repeat("u", MaxNameUnits-1)
	if _, err := tb.Enum(context.Background(), anon, EnumQuery{Level: 0, User: okUser}); err != StatusUserNotFound {
		t.Errorf("user of %d units: %v, want NERR_UserNotFound", MaxNameUnits-1, err)
	}
	if _, err := tb.Enum(context.Background(), anon, EnumQuery{Level: 0, User: okUser + "u"}); err != StatusInvalidParameter {
		t.Errorf("user of %d units: %v, want ERROR_INVALID_PARAMETER", MaxNameUnits, err)
	}
	// A character outside the BMP counts two units.
	astral := strings.Repeat("𝄞", MaxNameUnits/2)
	if _, err := tb.Enum(context.Background(), anon, EnumQuery{Level: 0, User: astral}); err != StatusInvalidParameter {
		t.Errorf("user of %d surrogate pairs: %v, want ERROR_INVALID_PARAMETER", MaxNameUnits/2, err)
	}
	if _, err := tb.Delete(context.Background(), anon, "", okUser+"u"); err != StatusInvalidParameter {
		t.Errorf("Delete with a long user: %v, want ERROR_INVALID_PARAMETER", err)
	}
}

func TestLevelsProjection(t *testing.T) {
	tb, clk := newTestTable(t, Options{})
	s := mustOpen(t, tb, Spec{Client: "10.0.0.7", User: "bob", Guest: true, NoEncryption: true, ClientType: "DOS LM 2.0", Transport: `\Device\NetbiosSmb`})
	s.AddOpen()
	s.AddOpen()
	clk.Advance(90 * time.Second)
	s.Touch()
	clk.Advance(30 * time.Second)
	full := Info{ClientName: `\\10.0.0.7`, UserName: "bob", NumOpens: 2, Time: 120, IdleTime: 30, UserFlags: FlagGuest | FlagNoEncryption, ClientType: "DOS LM 2.0", Transport: `\Device\NetbiosSmb`}
	want := map[Level]Info{
		0:   {ClientName: full.ClientName},
		1:   {ClientName: full.ClientName, UserName: "bob", NumOpens: 2, Time: 120, IdleTime: 30, UserFlags: 3},
		2:   {ClientName: full.ClientName, UserName: "bob", NumOpens: 2, Time: 120, IdleTime: 30, UserFlags: 3, ClientType: "DOS LM 2.0"},
		10:  {ClientName: full.ClientName, UserName: "bob", Time: 120, IdleTime: 30},
		502: full,
	}
	for _, l := range Levels() {
		res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: l, PrefMaxLen: MaxPreferredLength})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Info{want[l]}, res.Entries); diff != "" {
			t.Errorf("level %d (-want +got):\n%s", l, diff)
		}
	}
	if got := full.Info1(); got != (Info1{`\\10.0.0.7`, "bob", 2, 120, 30, 3}) {
		t.Errorf("Info1 view: %+v", got)
	}
	if got := full.Info10(); got != (Info10{`\\10.0.0.7`, "bob", 120, 30}) {
		t.Errorf("Info10 view: %+v", got)
	}
	if got := full.Info2().ClientType; got != "DOS LM 2.0" {
		t.Errorf("Info2 view cltype %q", got)
	}
	if got := full.Info502(); got.Transport != full.Transport || got.UserFlags != 3 {
		t.Errorf("Info502 view: %+v", got)
	}
	if got := full.Info0(); got.ClientName != full.ClientName {
		t.Errorf("Info0 view: %+v", got)
	}
}

func TestTimesSaturateAndOpensNeverNegative(t *testing.T) {
	tb, clk := newTestTable(t, Options{})
	s := mustOpen(t, tb, Spec{Client: "10.0.0.1", User: "u"})
	s.RemoveOpen()
	s.AddOpen()
	s.RemoveOpen()
	s.RemoveOpen()
	if got := s.Info().NumOpens; got != 0 {
		t.Errorf("opens after more removes than adds = %d, want 0", got)
	}
	clk.Advance(999 * time.Millisecond)
	if got := s.Info(); got.Time != 0 || got.IdleTime != 0 {
		t.Errorf("time/idle under a second: %d/%d, want 0/0 (whole seconds)", got.Time, got.IdleTime)
	}
	clk.Advance(time.Duration(1<<32) * time.Second)
	if got := s.Info(); got.Time != TimeUnknown || got.IdleTime != TimeUnknown {
		t.Errorf("time/idle after 2^32 s: %#x/%#x, want saturation", got.Time, got.IdleTime)
	}
	clk.Set(t0.Add(-time.Hour))
	if got := s.Info(); got.Time != 0 || got.IdleTime != 0 {
		t.Errorf("clock stepped back: %d/%d, want 0/0", got.Time, got.IdleTime)
	}
}

func TestPolicyMatrix(t *testing.T) {
	callers := map[Class]Caller{ClassAnonymous: anon, ClassGuest: guest, ClassUser: plain, ClassOperator: operator, ClassAdmin: admin}
	ops := []Op{OpEnum0, OpEnum1, OpEnum2, OpEnum10, OpEnum502, OpDelete}
	// allowed[policy][op] = classes allowed, as a string of class initials.
	want := map[string][]string{
		// ops:   0       1      2      10      502    del
		"modern": {"oa", "oa", "oa", "oa", "oa", "oa"},
		"legacy": {"uoa", "oa", "oa", "uoa", "oa", "oa"},
		"open":   {"Agu" + "oa", "Aguoa", "Aguoa", "Aguoa", "Aguoa", "Aguoa"},
	}
	initial := map[Class]string{ClassAnonymous: "A", ClassGuest: "g", ClassUser: "u", ClassOperator: "o", ClassAdmin: "a"}
	for name, rows := range want {
		p, err := ParsePolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, op := range ops {
			for cl, caller := range callers {
				wantAllowed := strings.Contains(rows[i], initial[cl])
				if got := p.Allowed(op, ClassOf(caller)); got != wantAllowed {
					t.Errorf("%s: op %v class %v allowed=%v, want %v", name, op, cl, got, wantAllowed)
				}
				// And through the table itself.
				tb, _ := newTestTable(t, Options{Policy: p})
				fill(t, tb)
				var err error
				if op == OpDelete {
					_, err = tb.Delete(context.Background(), caller, `\\10.0.0.5`, "")
				} else {
					_, err = tb.Enum(context.Background(), caller, EnumQuery{Level: Levels()[i], PrefMaxLen: MaxPreferredLength})
				}
				if denied := errors.Is(err, StatusAccessDenied); denied == wantAllowed {
					t.Errorf("%s: table op %v as %v: err %v, want allowed=%v", name, op, cl, err, wantAllowed)
				}
			}
		}
	}
}

func TestClassOf(t *testing.T) {
	tests := []struct {
		c    Caller
		want Class
	}{
		{Caller{}, ClassAnonymous},
		{Caller{User: "x", Anonymous: true, Groups: []string{GroupAdministrators}}, ClassAnonymous},
		{Caller{User: "nobody", Guest: true}, ClassGuest},
		{Caller{User: "bob"}, ClassUser},
		{Caller{User: "op", Groups: []string{"server operators"}}, ClassOperator},
		{Caller{User: "root", Groups: []string{"Users", `builtin\administrators`}}, ClassAdmin},
	}
	for _, tc := range tests {
		if got := ClassOf(tc.c); got != tc.want {
			t.Errorf("ClassOf(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy("0,10=user; 1,2,502=operator; del=admin")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		op   Op
		c    Class
		want bool
	}{
		{OpEnum0, ClassUser, true}, {OpEnum0, ClassGuest, false}, {OpEnum10, ClassAdmin, true},
		{OpEnum1, ClassUser, false}, {OpEnum502, ClassOperator, true}, {OpDelete, ClassOperator, false},
		{OpDelete, ClassAdmin, true},
	}
	for _, c := range checks {
		if got := p.Allowed(c.op, c.c); got != c.want {
			t.Errorf("custom policy %v/%v = %v, want %v", c.op, c.c, got, c.want)
		}
	}
	if p.Name() != "custom" {
		t.Errorf("name %q", p.Name())
	}
	// The string form parses back to the same policy.
	for _, src := range []Policy{p, PolicyLegacy().Allow(OpDelete, ClassGuest), PolicyModern()} {
		back, err := ParsePolicy(src.String())
		if err != nil || back.allow != src.allow {
			t.Errorf("ParsePolicy(%q) = %v, %v; want %v", src.String(), back.allow, err, src.allow)
		}
	}
	explicit, err := ParsePolicy("0=guest|admin;del=none")
	if err != nil || !explicit.Allowed(OpEnum0, ClassGuest) || explicit.Allowed(OpEnum0, ClassUser) || explicit.Allowed(OpDelete, ClassAdmin) {
		t.Errorf("explicit class set: %v %v", explicit, err)
	}
	for _, bad := range []string{"", "bogus", "0=root", "7=user", "0:user", ";;"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

func TestZeroPolicyMeansModern(t *testing.T) {
	tb := New(Options{})
	if p, ok := tb.Authorizer().(Policy); !ok || p.Name() != "modern" {
		t.Fatalf("default authorizer %v", tb.Authorizer())
	}
	tb.SetPolicy(PolicyOpen())
	if _, err := tb.Enum(context.Background(), anon, EnumQuery{Level: 0}); err != nil {
		t.Fatalf("open policy refused anonymous: %v", err)
	}
}

func TestGetInfo(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	fill(t, tb)
	mustOpen(t, tb, Spec{Client: "10.0.0.5", User: "alice", ClientType: "second"})
	tests := []struct {
		client, user string
		level        Level
		caller       Caller
		want         string
		err          error
	}{
		{`\\10.0.0.5`, "ALICE", 2, admin, `\\10.0.0.5/alice/`, nil}, // the first of two matches
		{`\\WKS1`, "carol", 10, admin, `\\WKS1/carol/`, nil},
		{`\\WKS1`, "carol", 0, admin, `\\WKS1//`, nil},
		{`\\WKS1`, "carol", 502, admin, "", StatusInvalidLevel},
		{`\\WKS1`, "carol", 3, anon, "", StatusInvalidLevel},
		{"", "carol", 1, admin, "", StatusInvalidParameter},
		{`\\WKS1`, "", 1, admin, "", StatusInvalidParameter},
		{"WKS1", "carol", 1, admin, "", StatusInvalidComputer},
		{`\\WKS1`, "carol", 1, plain, "", StatusAccessDenied},
		{`\\WKS9`, "carol", 1, admin, "", StatusClientNameNotFound},
	}
	for _, tc := range tests {
		got, err := tb.GetInfo(context.Background(), tc.caller, tc.client, tc.user, tc.level)
		if err != tc.err && !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("GetInfo(%q, %q, %d) err = %v, want %v", tc.client, tc.user, tc.level, err, tc.err)
			continue
		}
		if err == nil {
			if s := got.ClientName + "/" + got.UserName + "/" + got.ClientType; s != tc.want {
				t.Errorf("GetInfo(%q, %q, %d) = %q, want %q", tc.client, tc.user, tc.level, s, tc.want)
			}
		}
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name         string
		caller       Caller
		client, user string
		closed       int
		left         []string
		err          error
	}{
		{"by client", admin, `\\10.0.0.7`, "", 1, []string{`\\10.0.0.5/alice`, `\\[::1]/Alice`, `\\WKS1/carol`}, nil},
		{"by user, every match", admin, "", "alice", 2, []string{`\\10.0.0.7/bob`, `\\WKS1/carol`}, nil},
		{"by both", admin, `\\[::1]`, "ALICE", 1, []string{`\\10.0.0.5/alice`, `\\10.0.0.7/bob`, `\\WKS1/carol`}, nil},
		{"operator may", operator, `\\wks1`, "", 1, []string{`\\10.0.0.5/alice`, `\\10.0.0.7/bob`, `\\[::1]/Alice`}, nil},
		{"no backslashes", admin, "10.0.0.7", "", 0, nil, StatusClientNameNotFound},
		{"no backslashes beats access", anon, "10.0.0.7", "", 0, nil, StatusClientNameNotFound},
		{"neither name", admin, "", "", 0, nil, StatusInvalidParameter},
		{"denied before not-found", plain, `\\10.9.9.9`, "", 0, nil, StatusAccessDenied},
		{"no match by client", admin, `\\10.9.9.9`, "", 0, nil, StatusClientNameNotFound},
		{"no match by user only", admin, "", "mallory", 0, nil, StatusClientNameNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, _ := newTestTable(t, Options{})
			called := map[uint32]int{}
			specs := []Spec{
				{Client: "10.0.0.5", User: "alice"}, {Client: "10.0.0.7", User: "bob"},
				{Client: "::1", User: "Alice"}, {Client: "WKS1", User: "carol"},
			}
			for i := range specs {
				id := uint32(i + 1)
				specs[i].OnClose = func() { called[id]++ }
				mustOpen(t, tb, specs[i])
			}
			n, err := tb.Delete(context.Background(), tc.caller, tc.client, tc.user)
			if err != tc.err || n != tc.closed {
				t.Fatalf("Delete = %d, %v; want %d, %v", n, err, tc.closed, tc.err)
			}
			total := 0
			for _, c := range called {
				total += c
			}
			if total != tc.closed {
				t.Errorf("%d callbacks for %d closed sessions", total, tc.closed)
			}
			if err == nil {
				res, _ := tb.Enum(context.Background(), admin, EnumQuery{Level: 10, PrefMaxLen: MaxPreferredLength})
				if diff := cmp.Diff(tc.left, names(res)); diff != "" {
					t.Errorf("left (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// The close callback runs outside the table's locks: it may query the table
// and close its own handle (an SMB logoff does exactly that).
func TestDeleteCallbackReentersTable(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	var self *Session
	var seen []string
	var err error
	self, err = tb.Open(Spec{Client: "10.0.0.9", User: "eve", OnClose: func() {
		self.Close()
		res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: 10, PrefMaxLen: MaxPreferredLength})
		if err != nil {
			t.Errorf("Enum from callback: %v", err)
		}
		seen = names(res)
		if _, err := tb.Open(Spec{Client: "10.0.0.10", User: "eve2"}); err != nil {
			t.Errorf("Open from callback: %v", err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, tb, Spec{Client: "10.0.0.1", User: "x"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := tb.Delete(context.Background(), admin, "", "eve"); n != 1 || err != nil {
			t.Errorf("Delete = %d, %v", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Delete deadlocked: callback called under the table lock")
	}
	if diff := cmp.Diff([]string{`\\10.0.0.1/x`}, seen); diff != "" {
		t.Errorf("callback saw (-want +got):\n%s", diff)
	}
	if !self.Closed() || tb.Len() != 2 {
		t.Errorf("closed=%v len=%d", self.Closed(), tb.Len())
	}
	// A second delete finds nothing and calls nothing.
	if _, err := tb.Delete(context.Background(), admin, `\\10.0.0.9`, ""); err != StatusClientNameNotFound {
		t.Errorf("second delete: %v", err)
	}
}

func TestSessionCloseIsIdempotent(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	s := mustOpen(t, tb, Spec{Client: "1.2.3.4", User: "u", OnClose: func() { t.Error("OnClose called by Session.Close") }})
	s.Close()
	s.Close()
	if tb.Len() != 0 || !s.Closed() {
		t.Fatalf("len %d closed %v", tb.Len(), s.Closed())
	}
	tb.Close()
	if _, err := tb.Open(Spec{Client: "1.2.3.4"}); !errors.Is(err, ErrTableClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
}

func TestStatus(t *testing.T) {
	var err error = StatusAccessDenied
	if err.Error() != "access denied (ERROR_ACCESS_DENIED, 5)" {
		t.Errorf("Error() = %q", err.Error())
	}
	wrapped := fmt.Errorf("level 502: %w", err)
	var st Status
	if !errors.As(wrapped, &st) || st != 5 || !errors.Is(wrapped, StatusAccessDenied) || errors.Is(wrapped, StatusInvalidLevel) {
		t.Errorf("errors.As/Is failed on %v", wrapped)
	}
	if Status(0x1234).Error() != "status 0x00001234 (4660)" || Status(0x1234).Name() != "" {
		t.Errorf("unknown status: %q", Status(0x1234).Error())
	}
	want := map[Status]string{
		0: "NERR_Success", 5: "ERROR_ACCESS_DENIED", 8: "ERROR_NOT_ENOUGH_MEMORY", 0x32: "ERROR_NOT_SUPPORTED",
		0x57: "ERROR_INVALID_PARAMETER", 0x7B: "ERROR_INVALID_NAME", 0x7C: "ERROR_INVALID_LEVEL",
		0xEA: "ERROR_MORE_DATA", 0x84B: "NERR_BufTooSmall", 0x8AD: "NERR_UserNotFound",
		0x906: "NERR_NetNameNotFound", 0x908: "NERR_ClientNameNotFound", 0x92F: "NERR_InvalidComputer",
	}
	if len(Statuses()) != len(want) {
		t.Errorf("Statuses() has %d codes, want %d", len(Statuses()), len(want))
	}
	for _, s := range Statuses() {
		if s.Name() != want[s] {
			t.Errorf("%#x name %q, want %q", uint32(s), s.Name(), want[s])
		}
		if !strings.Contains(s.Error(), want[s]) || s.Message() == "unknown status" {
			t.Errorf("%#x Error() %q", uint32(s), s.Error())
		}
	}
	if !StatusMoreData.OK() || !StatusSuccess.OK() || StatusAccessDenied.OK() {
		t.Error("OK() wrong")
	}
}

func TestInfoMatches(t *testing.T) {
	e := Info{ClientName: "127.0.0.3", UserName: "nsp_alice"}
	tests := []struct {
		l            Level
		client, user string
		want         bool
	}{
		{1, "", "", true},
		{1, `\\127.0.0.3`, "", true},
		{1, `\\127.0.0.3`, "NSP_ALICE", true},
		{1, `\\127.0.0.4`, "", false},
		{1, "", "nsp_bob", false},
		{0, `\\127.0.0.3`, "nsp_bob", true}, // level 0 carries no user name
		{0, `\\[::ffff:127.0.0.3]`, "", true},
		{10, `\\127.0.0.3`, "bob", false},
	}
	for _, tc := range tests {
		if got := e.Matches(tc.l, tc.client, tc.user); got != tc.want {
			t.Errorf("Matches(%d, %q, %q) = %v, want %v", tc.l, tc.client, tc.user, got, tc.want)
		}
	}
}
