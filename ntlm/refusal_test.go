package ntlm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// challenged runs a client up to its AUTHENTICATE and returns the server
// context waiting for it.
func challenged(t *testing.T, srv *Server, cli *Client) (*ServerContext, []byte) {
	t.Helper()
	sc := srv.NewContext("198.51.100.7")
	_, _, auth := handshakeTokens(t, cli.NewContext(), sc)
	return sc, auth
}

// handshakeTokens steps cc and sc up to the client's AUTHENTICATE, which
// sc has not yet seen, and returns the three messages; any error fails
// the test.
func handshakeTokens(tb testing.TB, cc *ClientContext, sc *ServerContext) (neg, chal, auth []byte) {
	tb.Helper()
	ctx := context.Background()
	neg, _, err := cc.Step(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	chal, _, err = sc.Step(ctx, neg)
	if err != nil {
		tb.Fatal(err)
	}
	auth, _, err = cc.Step(ctx, chal)
	if err != nil {
		tb.Fatal(err)
	}
	return neg, chal, auth
}

// withoutMICField re-lays an AUTHENTICATE message without the 16-byte MIC
// field: the payload moves down to offset 72 and every offset follows.
func withoutMICField(t *testing.T, auth []byte) []byte {
	t.Helper()
	out := append(bytes.Clone(auth[:72]), auth[88:]...)
	for i := 0; i < 6; i++ {
		at := 12 + 8*i + 4
		off := binary.LittleEndian.Uint32(out[at:])
		if binary.LittleEndian.Uint16(out[at-4:]) > 0 {
			binary.LittleEndian.PutUint32(out[at:], off-16)
		}
	}
	if _, err := ParseAuthenticate(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ntResponseAt returns the offset of the NT response inside auth.
func ntResponseAt(auth []byte) int { return int(binary.LittleEndian.Uint32(auth[24:])) }

func TestRefusals(t *testing.T) {
	accounts := testAccounts(t)
	alice := Client{User: "alice", Password: "AlicePass1", Domain: "WORKGROUP"}
	tests := []struct {
		name   string
		srv    Server
		cli    Client
		tamper func(t *testing.T, auth []byte) []byte
		want   error
	}{
		{name: "wrong password", cli: Client{User: "alice", Password: "alicepass1"}, want: ErrWrongPassword},
		{name: "wrong hash", cli: Client{User: "bob", NTHash: bytes.Repeat([]byte{0x11}, 16)}, want: ErrWrongPassword},
		{name: "unknown user, guest off", cli: Client{User: "mallory", Password: "x"}, want: ErrUnknownUser},
		{name: "user name with empty responses", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			m, _ := ParseAuthenticate(a)
			m.NtChallengeResponse, m.LmChallengeResponse, m.MIC = nil, nil, nil
			return m.Marshal()
		}, want: ErrWrongPassword},
		{name: "tampered MIC", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			a[80] ^= 0x40
			return a
		}, want: ErrMICMismatch},
		{name: "zeroed MIC", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			clear(a[72:88])
			return a
		}, want: ErrMICMismatch},
		{name: "MIC field stripped while MsvAvFlags says present", cli: alice, tamper: withoutMICField, want: ErrMICMissing},
		{name: "flags changed under the MIC", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			binary.LittleEndian.PutUint32(a[60:], binary.LittleEndian.Uint32(a[60:])&^uint32(FlagSeal))
			return a
		}, want: ErrMICMismatch},
		{name: "MsvAvFlags MIC bit cleared", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			// The AV pairs are under NTProofStr: clearing the bit breaks the proof.
			nt := ntResponseAt(a)
			i := bytes.Index(a[nt:], []byte{0x06, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00})
			if i < 0 {
				t.Fatal("no MsvAvFlags pair in our own response")
			}
			a[nt+i+4] = 0
			return a
		}, want: ErrWrongPassword},
		{name: "NTLMv1 response", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			m, _ := ParseAuthenticate(a)
			m.NtChallengeResponse = m.NtChallengeResponse[:24]
			return m.Marshal()
		}, want: ErrNTLMv1},
		{name: "LM response only", cli: alice, tamper: func(t *testing.T, a []byte) []byte {
			m, _ := ParseAuthenticate(a)
			m.NtChallengeResponse = nil
			return m.Marshal()
		}, want: ErrNTLMv1},
		{name: "anonymous refused by configuration", srv: Server{RefuseAnonymous: true}, cli: Client{}, want: ErrAnonymousRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			srv := tt.srv
			srv.Accounts = accounts
			srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			sc, auth := challenged(t, &srv, &tt.cli)
			if tt.tamper != nil {
				auth = tt.tamper(t, auth)
			}
			_, done, err := sc.Step(context.Background(), auth)
			if done || !errors.Is(err, tt.want) || !errors.Is(err, ErrLogonFailure) {
				t.Fatalf("done=%v err=%v, want %v", done, err, tt.want)
			}
			var le *LogonError
			if !errors.As(err, &le) || le.User != tt.cli.User {
				t.Fatalf("error %#v does not name user %q", err, tt.cli.User)
			}
			if sc.Done() || sc.Caller().User != "" || sc.SessionKey() != nil {
				t.Fatal("a refused context reports a logon")
			}
			if !strings.Contains(logs.String(), "ntlm logon refused") || (tt.cli.Password != "" && strings.Contains(logs.String(), tt.cli.Password)) {
				t.Fatalf("log: %s", logs.String())
			}
			// The challenge is spent either way.
			if _, _, err := sc.Step(context.Background(), auth); !errors.Is(err, ErrChallengeReused) {
				t.Fatalf("second AUTHENTICATE: %v", err)
			}
		})
	}
}

func TestReusedChallengeAfterSuccess(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	sc, auth := challenged(t, srv, &Client{User: "alice", Password: "AlicePass1"})
	if _, done, err := sc.Step(context.Background(), auth); err != nil || !done {
		t.Fatal(done, err)
	}
	if _, _, err := sc.Step(context.Background(), auth); !errors.Is(err, ErrChallengeReused) {
		t.Fatalf("replayed AUTHENTICATE: %v", err)
	}
	if sc.Caller().User != "alice" {
		t.Fatal("the replay attempt spoilt the established context")
	}
}

func TestStaleTimestamp(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		window time.Duration
		delay  time.Duration
		ok     bool
	}{
		{"default window, 35h late", 0, 35 * time.Hour, true},
		{"default window, 37h late", 0, 37 * time.Hour, false},
		{"default window, 37h early", 0, -37 * time.Hour, false},
		{"1 minute window, 2 minutes late", time.Minute, 2 * time.Minute, false},
		{"1 minute window, 30 s late", time.Minute, 30 * time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			srv := &Server{Accounts: testAccounts(t), TimestampWindow: tt.window, Now: func() time.Time { return now }}
			sc, auth := challenged(t, srv, &Client{User: "bob", Password: "BobPass1"})
			now = start.Add(tt.delay)
			_, _, err := sc.Step(context.Background(), auth)
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, ErrStaleTimestamp)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestGuestMapping(t *testing.T) {
	accounts, err := NewAccounts("NETSESS", true, Account{Name: "alice", NTHash: NTHash("AlicePass1")})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Accounts: accounts}
	sc, auth := challenged(t, srv, &Client{User: "stranger", Password: "whatever"})
	if _, done, err := sc.Step(context.Background(), auth); err != nil || !done {
		t.Fatal(done, err)
	}
	c := sc.Caller()
	if !c.Guest || c.IsAnonymous() || c.InGroup("Administrators") {
		t.Fatalf("caller %+v", c)
	}
	if l, _ := sc.Logon(); l.ClientUser != "stranger" || l.SessionKey != nil {
		t.Fatalf("logon %+v", l)
	}
	if _, err := sc.Sign([]byte("x")); !errors.Is(err, ErrNotNegotiated) {
		t.Fatalf("guest signing: %v", err)
	}
	// A known user with a wrong password is never mapped to guest.
	sc, auth = challenged(t, srv, &Client{User: "alice", Password: "wrong"})
	if _, _, err := sc.Step(context.Background(), auth); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("known user, wrong password: %v", err)
	}
}

func TestNegotiateRefusals(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags NegotiateFlags
	}{
		{"OEM only", FlagOEM | FlagNTLM},
		{"datagram", FlagUnicode | FlagNTLM | FlagDatagram},
		{"40-bit sealing", FlagUnicode | FlagNTLM | FlagSign | FlagSeal | FlagExtendedSessionSecurity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := (&Server{}).NewContext("x")
			neg := (&NegotiateMessage{Flags: tt.flags}).Marshal()
			if _, _, err := sc.Step(context.Background(), neg); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// Signing without extended session security: the CHALLENGE offers no
// signing, a null session may follow, any other logon is refused.
func TestSigningWithoutESS(t *testing.T) {
	accounts, err := NewAccounts("WG", false, Account{Name: "alice", NTHash: NTHash("AlicePass1")})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Accounts: accounts}
	ctx := context.Background()
	negFlags := FlagUnicode | FlagNTLM | FlagSign | FlagAlwaysSign | FlagKeyExch | Flag128
	for _, tc := range []struct {
		name string
		cl   *Client
		ok   bool
	}{
		{"anonymous", &Client{}, true},
		{"alice", &Client{User: "alice", Password: "AlicePass1", Domain: "WG"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := srv.NewContext("x")
			chal, _, err := sc.Step(ctx, (&NegotiateMessage{Flags: negFlags}).Marshal())
			if err != nil {
				t.Fatalf("NEGOTIATE refused: %v", err)
			}
			cm, err := ParseChallenge(chal)
			if err != nil {
				t.Fatal(err)
			}
			if cm.Flags&(FlagSign|FlagSeal|FlagAlwaysSign) != 0 {
				t.Errorf("CHALLENGE offers signing without ESS: %v", cm.Flags)
			}
			cc := tc.cl.NewContext()
			if _, _, err := cc.Step(ctx, nil); err != nil {
				t.Fatal(err)
			}
			auth, _, err := cc.Step(ctx, chal)
			if err != nil {
				t.Fatalf("initiator: %v", err)
			}
			_, done, err := sc.Step(ctx, auth)
			if tc.ok {
				if err != nil || !done || !sc.Caller().IsAnonymous() {
					t.Fatalf("null session: done %v, %v, caller %+v", done, err, sc.Caller())
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || done {
				t.Fatalf("logon after a NEGOTIATE without ESS: %v", err)
			}
		})
	}
}

// Samba's clients negotiate extended session security and signing, then
// drop extended session security from the AUTHENTICATE of a null session.
// The null session is accepted, without signing (it has no key).
func TestAnonymousDropsESS(t *testing.T) {
	sc := (&Server{}).NewContext("x")
	ctx := context.Background()
	neg := (&NegotiateMessage{Flags: FlagUnicode | FlagNTLM | FlagSign | FlagAlwaysSign | FlagExtendedSessionSecurity | Flag128}).Marshal()
	if _, _, err := sc.Step(ctx, neg); err != nil {
		t.Fatal(err)
	}
	auth := (&AuthenticateMessage{Flags: FlagUnicode | FlagNTLM | FlagSign | FlagAlwaysSign | Flag128, LmChallengeResponse: []byte{0}}).Marshal()
	_, done, err := sc.Step(ctx, auth)
	if err != nil || !done || !sc.Caller().IsAnonymous() {
		t.Fatalf("null session without ESS: done %v, %v", done, err)
	}
	if sc.Flags()&(FlagSign|FlagSeal) != 0 {
		t.Errorf("a null session without ESS negotiated signing: %v", sc.Flags())
	}
}
