package spnego_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/internal/authtest"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/spnego"
)

func oid(t testing.TB, m auth.Mechanism) asn1.ObjectIdentifier {
	o, err := m.OID()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestRoundTripNTLM(t *testing.T) {
	acc := spnego.MustAcceptor(&ntlm.Server{Accounts: testAccounts(t)})
	for _, tt := range []struct {
		cli  *ntlm.Client
		seal bool
	}{
		{&ntlm.Client{User: "alice", Password: "AlicePass1", Domain: "NETSESS"}, true},
		{&ntlm.Client{User: "bob", Password: "BobPass1", Flags: ntlm.FlagUnicode | ntlm.FlagNTLM | ntlm.FlagSign | ntlm.FlagExtendedSessionSecurity | ntlm.Flag128}, false},
	} {
		t.Run(tt.cli.User, func(t *testing.T) {
			cc, sc := run(t, spnego.MustInitiator(tt.cli), acc)
			r, ok := sc.Result()
			if !ok || r.Identity.User != tt.cli.User || r.Mechanism != auth.MechNTLM || !bytes.Equal(cc.SessionKey(), r.SessionKey) || len(r.SessionKey) != 16 {
				t.Fatalf("result %+v %v", r, ok)
			}
			if m, _ := sc.Negotiated(); m != auth.MechNTLM {
				t.Fatalf("negotiated %v", m)
			}
			// The first signed messages after the mechListMIC exchange
			// verify on both sides: both reset their RC4 state.
			authtest.ProtectRoundTrips(t, cc, sc, tt.seal, ntlm.ErrBadSignature)
		})
	}
}

// TestKerberosFirst is a Windows-style NegTokenInit: Kerberos first with
// an optimistic Kerberos token, NTLMSSP last. The acceptor selects
// NTLMSSP without a token, the initiator restarts NTLM, and the
// mechListMIC over the original (Kerberos-first) list is mandatory.
func TestKerberosFirst(t *testing.T) {
	acc := spnego.MustAcceptor(&ntlm.Server{Accounts: testAccounts(t)})
	mechs := []asn1.ObjectIdentifier{oid(t, auth.MechMSKerberos), oid(t, auth.MechKerberos), oid(t, auth.MechNTLM)}
	goodMIC := func(raw []byte, cc *ntlm.ClientContext) []byte {
		sig, err := cc.Sign(raw)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	for _, tt := range []struct {
		name       string
		optimistic []byte
		mic        func(raw []byte, cc *ntlm.ClientContext) []byte
		want       error
	}{
		{"with optimistic token", []byte("\x60\x03\x06\x01\x00"), goodMIC, nil},
		{"without optimistic token", nil, goodMIC, nil},
		{"mechListMIC missing", nil, func([]byte, *ntlm.ClientContext) []byte { return nil }, spnego.ErrMechListMIC},
		{"mechListMIC over another list", nil, func(_ []byte, cc *ntlm.ClientContext) []byte {
			other := &spnego.NegTokenInit{MechTypes: mechs[2:]}
			other.Marshal()
			return goodMIC(other.RawMechTypes, cc)
		}, spnego.ErrMechListMIC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sc := acc.NewContext(auth.Peer{Source: "127.0.0.1"})
			init := &spnego.NegTokenInit{MechTypes: mechs, MechToken: tt.optimistic}
			out, done, err := sc.Step(ctx, init.Marshal())
			if err != nil || done {
				t.Fatal(done, err)
			}
			r, err := spnego.ParseNegTokenResp(out)
			if err != nil || r.NegState != spnego.NegStateAcceptIncomplete || auth.MechanismOf(r.SupportedMech) != auth.MechNTLM || r.ResponseToken != nil {
				t.Fatalf("first reply %+v %v", r, err)
			}
			cc := (&ntlm.Client{User: "alice", Password: "AlicePass1"}).NewContext()
			neg, _, _ := cc.Step(ctx, nil)
			out, _, err = sc.Step(ctx, (&spnego.NegTokenResp{NegState: spnego.NegStateAbsent, ResponseToken: neg}).Marshal())
			if err != nil {
				t.Fatal(err)
			}
			r, err = spnego.ParseNegTokenResp(out)
			if err != nil || r.ResponseToken == nil {
				t.Fatalf("challenge reply %+v %v", r, err)
			}
			authTok, _, err := cc.Step(ctx, r.ResponseToken)
			if err != nil {
				t.Fatal(err)
			}
			final, done, err := sc.Step(ctx, (&spnego.NegTokenResp{NegState: spnego.NegStateAbsent, ResponseToken: authTok, MechListMIC: tt.mic(init.RawMechTypes, cc)}).Marshal())
			if tt.want != nil {
				if !errors.Is(err, tt.want) || done {
					t.Fatalf("done=%v err=%v, want %v", done, err, tt.want)
				}
				if rr, _ := spnego.ParseNegTokenResp(final); rr == nil || rr.NegState != spnego.NegStateReject {
					t.Fatalf("refusal token %x", final)
				}
				return
			}
			if err != nil || !done {
				t.Fatal(done, err)
			}
			r, err = spnego.ParseNegTokenResp(final)
			if err != nil || r.NegState != spnego.NegStateAcceptCompleted {
				t.Fatalf("final %+v %v", r, err)
			}
			if err := cc.Verify(init.RawMechTypes, r.MechListMIC); err != nil {
				t.Fatalf("acceptor's mechListMIC: %v", err)
			}
			cc.Security().ResetRC4()
			authtest.ProtectRoundTrips(t, cc, sc, true, ntlm.ErrBadSignature)
		})
	}
}

// TestMechListMICRequiredWithNTLMMIC: NTLMSSP first, but the AUTHENTICATE
// carries a MIC, so stripping the mechListMIC is refused; a forged one is
// refused too.
func TestMechListMICRequiredWithNTLMMIC(t *testing.T) {
	acc := spnego.MustAcceptor(&ntlm.Server{Accounts: testAccounts(t)})
	ini := spnego.MustInitiator(&ntlm.Client{User: "alice", Password: "AlicePass1"})
	for _, tt := range []struct {
		name  string
		alter func(*spnego.NegTokenResp)
	}{
		{"stripped", func(r *spnego.NegTokenResp) { r.MechListMIC = nil }},
		{"forged", func(r *spnego.NegTokenResp) { r.MechListMIC[5] ^= 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cc, sc := ini.NewContext(), acc.NewContext(auth.Peer{Source: "127.0.0.1"})
			t1, _, _ := cc.Step(ctx, nil)
			t2, _, err := sc.Step(ctx, t1)
			if err != nil {
				t.Fatal(err)
			}
			t3, _, err := cc.Step(ctx, t2)
			if err != nil {
				t.Fatal(err)
			}
			r, err := spnego.ParseNegTokenResp(t3)
			if err != nil {
				t.Fatal(err)
			}
			tt.alter(r)
			if _, done, err := sc.Step(ctx, r.Marshal()); done || !errors.Is(err, spnego.ErrMechListMIC) {
				t.Fatalf("done=%v err=%v", done, err)
			}
			if _, ok := sc.Result(); sc.Done() || ok {
				t.Fatal("refused exchange reports a result")
			}
		})
	}
}

func TestNoCommonMechanism(t *testing.T) {
	sc := spnego.MustAcceptor(&ntlm.Server{}).NewContext(auth.Peer{})
	out, _, err := sc.Step(context.Background(), (&spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{oid(t, auth.MechKerberos)}}).Marshal())
	if !errors.Is(err, spnego.ErrNoMechanism) {
		t.Fatal(err)
	}
	if r, _ := spnego.ParseNegTokenResp(out); r == nil || r.NegState != spnego.NegStateReject {
		t.Fatalf("reject token %x", out)
	}
}

// TestRejectIsLogonFailure: an initiator told "reject" fails with a logon
// failure, whatever the mechanism.
func TestRejectIsLogonFailure(t *testing.T) {
	ctx := context.Background()
	cc := spnego.MustInitiator(&ntlm.Client{User: "alice", Password: "x"}).NewContext()
	if _, _, err := cc.Step(ctx, nil); err != nil {
		t.Fatal(err)
	}
	reject := (&spnego.NegTokenResp{NegState: spnego.NegStateReject}).Marshal()
	if _, _, err := cc.Step(ctx, reject); !errors.Is(err, auth.ErrLogonFailure) || !errors.Is(err, spnego.ErrRejected) {
		t.Fatal(err)
	}
}

func TestStateErrors(t *testing.T) {
	ctx := context.Background()
	acc := spnego.MustAcceptor(&ntlm.Server{Accounts: testAccounts(t)})
	ini := spnego.MustInitiator(&ntlm.Client{User: "alice", Password: "AlicePass1"})
	a, i := acc.NewContext(auth.Peer{}), ini.NewContext()
	for _, p := range []auth.Protector{a, i} {
		if _, err := p.Sign([]byte("m")); !errors.Is(err, spnego.ErrState) {
			t.Fatalf("%T Sign before completion: %v", p, err)
		}
		if err := p.Verify([]byte("m"), make([]byte, 16)); !errors.Is(err, spnego.ErrState) {
			t.Fatalf("%T Verify before completion: %v", p, err)
		}
		if _, err := p.SealWithin([]byte("m"), 0, 1); !errors.Is(err, spnego.ErrState) {
			t.Fatalf("%T SealWithin before completion: %v", p, err)
		}
		if err := p.UnsealWithin([]byte("m"), 0, 1, make([]byte, 16)); !errors.Is(err, spnego.ErrState) {
			t.Fatalf("%T UnsealWithin before completion: %v", p, err)
		}
	}
	if _, ok := a.Result(); ok || i.SessionKey() != nil {
		t.Fatal("result before completion")
	}
	cc, sc := run(t, ini, acc)
	if cc.SignatureSize() != 16 || sc.SignatureSize() != 16 {
		t.Fatal("signature size")
	}
	if _, _, err := cc.Step(ctx, nil); !errors.Is(err, spnego.ErrState) {
		t.Fatal(err)
	}
	if _, _, err := sc.Step(ctx, []byte{0xa1, 0}); !errors.Is(err, spnego.ErrState) {
		t.Fatal(err)
	}
	// A cancelled context neither advances nor spoils an exchange.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	fresh := acc.NewContext(auth.Peer{})
	if _, _, err := fresh.Step(cctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if _, err := spnego.NewAcceptor(); !errors.Is(err, spnego.ErrNoMechanism) {
		t.Fatal(err)
	}
	if _, err := spnego.NewInitiator(&ntlm.Client{}, &ntlm.Client{}); err == nil {
		t.Fatal("a mechanism given twice is accepted")
	}
}

func TestAdvertiseMatchesSamba(t *testing.T) {
	want := readTokens(t, "testdata/samba-negotiate-hint.spnego")[0].Data
	if got := spnego.MustAcceptor(&ntlm.Server{}).Advertise(); !bytes.Equal(got, want) {
		t.Fatalf("hint\n got %x\nwant %x", got, want)
	}
	m, err := spnego.ParseNegTokenInit(want)
	if err != nil || len(m.MechTypes) != 1 || auth.MechanismOf(m.MechTypes[0]) != auth.MechNTLM || m.MechToken != nil || m.MechListMIC != nil {
		t.Fatalf("%+v %v", m, err)
	}
}
