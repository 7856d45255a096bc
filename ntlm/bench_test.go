package ntlm

import (
	"context"
	"testing"
)

// BenchmarkAcceptorExchange measures one full NTLMv2 logon on the acceptor
// side (NEGOTIATE and AUTHENTICATE processing), initiator work excluded.
func BenchmarkAcceptorExchange(b *testing.B) {
	srv := &Server{Accounts: testAccounts(b)}
	cli := &Client{User: "alice", Password: "AlicePass1"}
	ctx := context.Background()
	// Pre-compute client tokens against a server whose challenge we
	// replay, so only acceptor work is timed.
	cc, sc := cli.NewContext(), srv.NewContext("b")
	neg, chal, auth := handshakeTokens(b, cc, sc)
	b.ReportAllocs()
	for b.Loop() {
		c := srv.NewContext("b")
		c.challengeHook = func(*NegotiateMessage) []byte { return chal }
		if _, _, err := c.Step(ctx, neg); err != nil {
			b.Fatal(err)
		}
		if _, done, err := c.Step(ctx, auth); err != nil || !done {
			b.Fatal(done, err)
		}
	}
}

func benchSecurity(b *testing.B) (*Security, *Security) {
	key := make([]byte, 16)
	c, err := NewSecurity(key, DefaultClientFlags, RoleClient)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSecurity(key, DefaultClientFlags, RoleServer)
	if err != nil {
		b.Fatal(err)
	}
	return c, s
}

func BenchmarkSignVerify4K(b *testing.B) {
	c, s := benchSecurity(b)
	msg := make([]byte, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		sig, _ := c.Sign(msg)
		if err := s.Verify(msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealUnseal4K(b *testing.B) {
	c, s := benchSecurity(b)
	msg := make([]byte, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		sig, _ := c.SealWithin(msg, 24, len(msg))
		if err := s.UnsealWithin(msg, 24, len(msg), sig); err != nil {
			b.Fatal(err)
		}
	}
}
