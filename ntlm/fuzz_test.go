package ntlm

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"
)

// seedTokens returns every captured or specified token in testdata: the
// SPNEGO tokens and the NTLM messages inside them.
func seedTokens(t testing.TB) (spnego, ntlmMsgs [][]byte) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.spnego"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		for _, tk := range readTokens(t, filepath.Base(f)) {
			spnego = append(spnego, tk.Data)
			ntlmMsgs = append(ntlmMsgs, ntlmOf(t, tk.Data))
		}
	}
	for _, tk := range readTokens(t, "nlmp-4.2.4.ntlm") {
		ntlmMsgs = append(ntlmMsgs, tk.Data)
	}
	return spnego, ntlmMsgs
}

func seedNTLM(f *testing.F, typ uint32) {
	_, msgs := seedTokens(f)
	for _, m := range msgs {
		if len(m) >= 12 && binary.LittleEndian.Uint32(m[8:]) == typ {
			f.Add(m)
		}
	}
}

func FuzzParseNegotiate(f *testing.F) {
	seedNTLM(f, negotiateType)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseNegotiate(b)
		if err != nil {
			return
		}
		again, err := ParseNegotiate(m.Marshal())
		if err != nil || again.Domain != m.Domain || again.Workstation != m.Workstation {
			t.Fatalf("re-encoding: %+v -> %+v, %v", m, again, err)
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	seedNTLM(f, challengeType)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseChallenge(b)
		if err != nil {
			return
		}
		again, err := ParseChallenge(m.Marshal())
		if err != nil || again.ServerChallenge != m.ServerChallenge || len(again.TargetInfo) != len(m.TargetInfo) {
			t.Fatalf("re-encoding: %+v -> %+v, %v", m, again, err)
		}
		// The initiator must cope with any decodable CHALLENGE.
		cc := (&Client{User: "u", Password: "p"}).NewContext()
		if _, _, err := cc.Step(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		_, _, _ = cc.Step(context.Background(), b)
	})
}

func FuzzParseAuthenticate(f *testing.F) {
	seedNTLM(f, authenticateType)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseAuthenticate(b)
		if err != nil {
			return
		}
		if m.MIC != nil && len(m.MIC) != 16 {
			t.Fatalf("MIC of %d bytes", len(m.MIC))
		}
		again, err := ParseAuthenticate(m.Marshal())
		if err != nil || !bytes.Equal(again.NtChallengeResponse, m.NtChallengeResponse) || again.User != m.User {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}

// FuzzAcceptAuthenticate feeds arbitrary AUTHENTICATE messages to an
// acceptor that has issued a real CHALLENGE: it must refuse them without
// panicking (none can know alice's password).
func FuzzAcceptAuthenticate(f *testing.F) {
	seedNTLM(f, authenticateType)
	accounts := testAccounts(f)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		srv := &Server{Accounts: accounts, Now: func() time.Time { return now }, RefuseAnonymous: true,
			Rand: bytes.NewReader(bytes.Repeat([]byte{0x42}, 8))}
		sc := srv.NewContext("fuzz")
		neg := (&NegotiateMessage{Flags: DefaultClientFlags}).Marshal()
		if _, _, err := sc.Step(context.Background(), neg); err != nil {
			t.Fatal(err)
		}
		if _, done, err := sc.Step(context.Background(), b); done || err == nil {
			t.Fatalf("arbitrary AUTHENTICATE accepted: %x", b)
		}
	})
}

func FuzzParseAVPairs(f *testing.F) {
	_, msgs := seedTokens(f)
	for _, m := range msgs {
		if c, err := ParseChallenge(m); err == nil && c.RawTargetInfo != nil {
			f.Add(c.RawTargetInfo)
		}
		if a, err := ParseAuthenticate(m); err == nil && len(a.NtChallengeResponse) > 44 {
			f.Add(a.NtChallengeResponse[44:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseAVPairs(b)
		if err != nil {
			return
		}
		again, err := ParseAVPairs(l.Marshal())
		if err != nil || len(again) != len(l) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range l {
			if again[i].ID != l[i].ID || !bytes.Equal(again[i].Value, l[i].Value) {
				t.Fatalf("pair %d differs", i)
			}
		}
		l.Flags()
		l.Timestamp()
		l.String(AvNbComputerName)
	})
}
