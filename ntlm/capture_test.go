package ntlm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/internal/tokenfile"
	"github.com/netsession/netsession/spnego"
)

type token = tokenfile.Token

// readTokens reads a token file of testdata.
func readTokens(t testing.TB, name string) []token {
	t.Helper()
	toks, err := tokenfile.Read(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

func tokensFrom(toks []token, fromClient bool) [][]byte {
	var out [][]byte
	for _, tk := range toks {
		if tk.FromClient == fromClient {
			out = append(out, tk.Data)
		}
	}
	return out
}

// ntlmOf extracts the NTLM message from a captured SPNEGO token.
func ntlmOf(t testing.TB, tok []byte) []byte {
	t.Helper()
	if tok[0] == 0x60 {
		m, err := spnego.ParseNegTokenInit(tok)
		if err != nil {
			t.Fatal(err)
		}
		return m.MechToken
	}
	m, err := spnego.ParseNegTokenResp(tok)
	if err != nil {
		t.Fatal(err)
	}
	return m.ResponseToken
}

// hookedServer is an acceptor whose contexts send a given CHALLENGE, so
// that captured exchanges can be replayed through SPNEGO.
type hookedServer struct {
	*Server
	hook func(*NegotiateMessage) []byte
	last *ServerContext
}

func (h *hookedServer) Accept(_ context.Context, peer auth.Peer) (auth.AcceptorContext, error) {
	h.last = h.NewContext(peer.Source)
	h.last.challengeHook = h.hook
	return h.last, nil
}

// TestReplaySambaCaptures drives our SPNEGO acceptor with the client
// tokens of real SMB2 logons to Samba 4.17 (rpcclient and impacket), with
// Samba's own CHALLENGE substituted for ours and the clock set to the
// capture. Our replies must equal Samba's byte for byte, mechListMIC
// included, which proves the NTLMv2 verification, the MIC, the key
// exchange, the mechListMIC signature and the SPNEGO encoding together.
func TestReplaySambaCaptures(t *testing.T) {
	accounts := testAccounts(t)
	tests := []struct {
		file, user, domain string
		anonymous, hadMIC  bool
	}{
		{"samba-rpcclient-alice.spnego", "alice", "PEERTEST", false, true},
		{"samba-impacket-alice.spnego", "alice", "", false, false},
		{"samba-impacket-bob.spnego", "bob", "", false, false},
		{"samba-impacket-anonymous.spnego", "", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			toks := readTokens(t, tt.file)
			cli, srv := tokensFrom(toks, true), tokensFrom(toks, false)
			if len(cli) != 2 || len(srv) != 2 {
				t.Fatalf("want 2+2 tokens, got %d+%d", len(cli), len(srv))
			}
			sambaChallenge := ntlmOf(t, srv[0])
			cm, err := ParseChallenge(sambaChallenge)
			if err != nil {
				t.Fatal(err)
			}
			capturedAt, ok := cm.TargetInfo.Timestamp()
			if !ok {
				t.Fatal("captured CHALLENGE has no timestamp")
			}
			s := &Server{Accounts: accounts, Now: func() time.Time { return capturedAt.Add(time.Second) }}
			h := &hookedServer{Server: s, hook: func(*NegotiateMessage) []byte { return sambaChallenge }}
			sc := spnego.MustAcceptor(h).NewContext(auth.Peer{Source: "127.0.0.1"})
			ctx := context.Background()
			for i := range cli {
				out, done, err := sc.Step(ctx, cli[i])
				if err != nil {
					t.Fatalf("leg %d: %v", i, err)
				}
				if done != (i == 1) {
					t.Fatalf("leg %d: done=%v", i, done)
				}
				if !bytes.Equal(out, srv[i]) {
					t.Errorf("leg %d: reply differs from Samba's\n got %x\nwant %x", i, out, srv[i])
				}
			}
			res, _ := sc.Result()
			c := res.Identity.Caller()
			if c.User != tt.user || c.Domain != tt.domain || c.IsAnonymous() != tt.anonymous || c.Guest {
				t.Errorf("caller = %+v", c)
			}
			if h.last.hadMIC != tt.hadMIC {
				t.Errorf("MIC seen = %v, want %v", h.last.hadMIC, tt.hadMIC)
			}

			// The same AUTHENTICATE against a fresh challenge fails, and
			// the spent context refuses it outright.
			if _, _, err := h.last.Step(ctx, ntlmOf(t, cli[1])); !errors.Is(err, ErrChallengeReused) {
				t.Errorf("spent context: %v, want ErrChallengeReused", err)
			}
			if tt.anonymous {
				return
			}
			fresh := s.NewContext("127.0.0.1")
			if _, _, err := fresh.Step(ctx, ntlmOf(t, cli[0])); err != nil {
				t.Fatal(err)
			}
			if _, _, err := fresh.Step(ctx, ntlmOf(t, cli[1])); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("replay against a fresh challenge: %v, want ErrWrongPassword", err)
			}
		})
	}
}

// TestNLMPAuthenticateThroughAcceptor runs the AUTHENTICATE message of
// MS-NLMP 4.2.4.3 through the acceptor with the example's CHALLENGE: it
// verifies, yields RandomSessionKey 0x55 x16, and is refused as stale under
// a current clock (its timestamp is zero, i.e. 1601).
func TestNLMPAuthenticateThroughAcceptor(t *testing.T) {
	toks := readTokens(t, "nlmp-4.2.4.ntlm")
	chal, auth := toks[0].Data, toks[1].Data
	accounts, err := NewAccounts("Domain", false, Account{Name: "User", NTHash: NTHash("Password")})
	if err != nil {
		t.Fatal(err)
	}
	neg := (&NegotiateMessage{Flags: nlmpFlags}).Marshal()
	run := func(now time.Time) (*ServerContext, error) {
		s := &Server{Accounts: accounts, Now: func() time.Time { return now }}
		c := s.NewContext("192.0.2.1")
		c.challengeHook = func(*NegotiateMessage) []byte { return chal }
		if _, _, err := c.Step(context.Background(), neg); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Step(context.Background(), auth)
		return c, err
	}
	c, err := run(fromFiletime(0).Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(c.SessionKey()); got != strings.Repeat("55", 16) {
		t.Errorf("exported session key = %s", got)
	}
	if _, err := run(time.Now()); !errors.Is(err, ErrStaleTimestamp) || !errors.Is(err, ErrLogonFailure) {
		t.Errorf("current clock: %v, want ErrStaleTimestamp", err)
	}
}
