package ntlm

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"testing"
)

// runSPNEGO drives our SPNEGO initiator against our acceptor.
func runSPNEGO(t *testing.T, cli *Client, srv *Server) (*SPNEGOClientContext, *SPNEGOServerContext) {
	t.Helper()
	ctx := context.Background()
	cc, sc := cli.NewSPNEGOContext(), srv.NewSPNEGOContext("127.0.0.1")
	var in []byte
	for i := 0; !cc.Done(); i++ {
		if i > 4 {
			t.Fatal("exchange does not end")
		}
		out, _, err := cc.Step(ctx, in)
		if err != nil {
			t.Fatalf("initiator leg %d: %v", i, err)
		}
		if out == nil {
			break
		}
		if in, _, err = sc.Step(ctx, out); err != nil {
			t.Fatalf("acceptor leg %d: %v", i, err)
		}
	}
	if !cc.Done() || !sc.Done() {
		t.Fatalf("done: initiator %v acceptor %v", cc.Done(), sc.Done())
	}
	return cc, sc
}

func TestSPNEGORoundTrip(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	for _, cli := range []*Client{
		{User: "alice", Password: "AlicePass1", Domain: "NETSESS"},
		{User: "bob", Password: "BobPass1", Flags: FlagUnicode | FlagNTLM | FlagSign | FlagExtendedSessionSecurity | Flag128},
	} {
		t.Run(cli.User, func(t *testing.T) {
			cc, sc := runSPNEGO(t, cli, srv)
			if sc.Caller().User != cli.User || !bytes.Equal(cc.SessionKey(), sc.SessionKey()) {
				t.Fatalf("caller %+v", sc.Caller())
			}
			// The first signed messages after the mechListMIC exchange
			// verify on both sides: both reset their RC4 state.
			signRoundTrips(t, cc, sc)
		})
	}
}

// TestSPNEGOKerberosFirst is a Windows-style NegTokenInit: Kerberos first
// with an optimistic Kerberos token, NTLMSSP last. The acceptor selects
// NTLMSSP without a token, the initiator restarts NTLM, and the mechListMIC
// over the original (Kerberos-first) list is mandatory.
func TestSPNEGOKerberosFirst(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	mechs := []asn1.ObjectIdentifier{OIDMSKerberos(), OIDKerberos(), OIDNTLMSSP()}
	for _, tt := range []struct {
		name       string
		optimistic []byte
		mic        func(raw []byte, cc *ClientContext) []byte
		want       error
	}{
		{"with optimistic token", []byte("\x60\x03\x06\x01\x00"), goodMIC, nil},
		{"without optimistic token", nil, goodMIC, nil},
		{"mechListMIC missing", nil, func([]byte, *ClientContext) []byte { return nil }, ErrMechListMIC},
		{"mechListMIC over another list", nil, func(_ []byte, cc *ClientContext) []byte {
			return goodMIC((&NegTokenInit{MechTypes: mechs[2:]}).rawMechs(), cc)
		}, ErrMechListMIC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sc := srv.NewSPNEGOContext("127.0.0.1")
			init := &NegTokenInit{MechTypes: mechs, MechToken: tt.optimistic}
			out, done, err := sc.Step(ctx, init.Marshal())
			if err != nil || done {
				t.Fatal(done, err)
			}
			r, err := ParseNegTokenResp(out)
			if err != nil || r.NegState != NegStateAcceptIncomplete || !r.SupportedMech.Equal(OIDNTLMSSP()) || r.ResponseToken != nil {
				t.Fatalf("first reply %+v %v", r, err)
			}
			cc := (&Client{User: "alice", Password: "AlicePass1"}).NewContext()
			neg, _, _ := cc.Step(ctx, nil)
			out, _, err = sc.Step(ctx, (&NegTokenResp{NegState: NegStateAbsent, ResponseToken: neg}).Marshal())
			if err != nil {
				t.Fatal(err)
			}
			r, err = ParseNegTokenResp(out)
			if err != nil || r.ResponseToken == nil {
				t.Fatalf("challenge reply %+v %v", r, err)
			}
			auth, _, err := cc.Step(ctx, r.ResponseToken)
			if err != nil {
				t.Fatal(err)
			}
			final, done, err := sc.Step(ctx, (&NegTokenResp{NegState: NegStateAbsent, ResponseToken: auth, MechListMIC: tt.mic(init.RawMechTypes, cc)}).Marshal())
			if tt.want != nil {
				if !errors.Is(err, tt.want) || done {
					t.Fatalf("done=%v err=%v, want %v", done, err, tt.want)
				}
				if rr, _ := ParseNegTokenResp(final); rr == nil || rr.NegState != NegStateReject {
					t.Fatalf("refusal token %x", final)
				}
				return
			}
			if err != nil || !done {
				t.Fatal(done, err)
			}
			r, err = ParseNegTokenResp(final)
			if err != nil || r.NegState != NegStateAcceptCompleted {
				t.Fatalf("final %+v %v", r, err)
			}
			if err := cc.Verify(init.RawMechTypes, r.MechListMIC); err != nil {
				t.Fatalf("acceptor's mechListMIC: %v", err)
			}
			cc.Security().ResetRC4()
			signRoundTrips(t, cc, sc)
		})
	}
}

func goodMIC(raw []byte, cc *ClientContext) []byte {
	sig, err := cc.Sign(raw)
	if err != nil {
		panic(err)
	}
	return sig
}

func (m *NegTokenInit) rawMechs() []byte { m.Marshal(); return m.RawMechTypes }

// TestSPNEGOMechListMICRequiredWithNTLMMIC: NTLMSSP first, but the
// AUTHENTICATE carries a MIC, so stripping the mechListMIC is refused; a
// forged one is refused too.
func TestSPNEGOMechListMICRequiredWithNTLMMIC(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	for _, tt := range []struct {
		name  string
		alter func(*NegTokenResp)
	}{
		{"stripped", func(r *NegTokenResp) { r.MechListMIC = nil }},
		{"forged", func(r *NegTokenResp) { r.MechListMIC[5] ^= 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cc := (&Client{User: "alice", Password: "AlicePass1"}).NewSPNEGOContext()
			sc := srv.NewSPNEGOContext("127.0.0.1")
			t1, _, _ := cc.Step(ctx, nil)
			t2, _, err := sc.Step(ctx, t1)
			if err != nil {
				t.Fatal(err)
			}
			t3, _, err := cc.Step(ctx, t2)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseNegTokenResp(t3)
			if err != nil {
				t.Fatal(err)
			}
			tt.alter(r)
			if _, done, err := sc.Step(ctx, r.Marshal()); done || !errors.Is(err, ErrMechListMIC) {
				t.Fatalf("done=%v err=%v", done, err)
			}
			if sc.Done() || sc.Caller().User != "" {
				t.Fatal("refused exchange reports a caller")
			}
		})
	}
}

func TestSPNEGONoNTLM(t *testing.T) {
	sc := (&Server{}).NewSPNEGOContext("127.0.0.1")
	out, _, err := sc.Step(context.Background(), (&NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDKerberos()}}).Marshal())
	if !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	if r, _ := ParseNegTokenResp(out); r == nil || r.NegState != NegStateReject {
		t.Fatalf("reject token %x", out)
	}
}

func TestSPNEGOTokenRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 70000) // four-octet... three-octet length
	for _, m := range []*NegTokenResp{
		{NegState: NegStateAbsent},
		{NegState: NegStateAcceptIncomplete, SupportedMech: OIDNTLMSSP(), ResponseToken: []byte("x")},
		{NegState: NegStateAcceptCompleted, MechListMIC: make([]byte, 16)},
		{NegState: NegStateRequestMIC, ResponseToken: big},
	} {
		got, err := ParseNegTokenResp(m.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if got.NegState != m.NegState || !got.SupportedMech.Equal(m.SupportedMech) ||
			!bytes.Equal(got.ResponseToken, m.ResponseToken) || !bytes.Equal(got.MechListMIC, m.MechListMIC) {
			t.Fatalf("round trip %+v -> %+v", m, got)
		}
	}
	in := &NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDMSKerberos(), OIDNTLMSSP()}, MechToken: big, MechListMIC: []byte{1}}
	got, err := ParseNegTokenInit(in.Marshal())
	if err != nil || len(got.MechTypes) != 2 || !got.MechTypes[1].Equal(OIDNTLMSSP()) ||
		!bytes.Equal(got.MechToken, big) || !bytes.Equal(got.RawMechTypes, in.RawMechTypes) || !bytes.Equal(got.MechListMIC, []byte{1}) {
		t.Fatalf("NegTokenInit round trip: %+v %v", got, err)
	}
}

func TestSPNEGODecodeRefusals(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0xa1},
		{0xa1, 0x84, 0xff, 0xff, 0xff, 0xff}, // length beyond the data
		{0xa1, 0x81, 0x05, 0x30, 0x03, 0xa0, 0x01, 0x00},                         // non-minimal length
		{0xa1, 0x05, 0x30, 0x03, 0xa3, 0x01, 0x00},                               // mechListMIC not an OCTET STRING
		{0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 9},                      // negState 9
		{0xa1, 0x0a, 0x30, 0x08, 0xa2, 0x02, 0x04, 0x00, 0xa2, 0x02, 0x04, 0x00}, // repeated field
	} {
		if _, err := ParseNegTokenResp(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", b, err)
		}
	}
	for _, b := range [][]byte{
		{0x60, 0x00},
		{0x60, 0x08, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x03},                         // another mechanism
		{0x60, 0x0c, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x02, 0x30, 0x00}, // no mechTypes
	} {
		if _, err := ParseNegTokenInit(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", b, err)
		}
	}
}

func TestAcceptorHintMatchesSamba(t *testing.T) {
	want := readTokens(t, "samba-negotiate-hint.spnego")[0].data
	if got := AcceptorHint(); !bytes.Equal(got, want) {
		t.Fatalf("hint\n got %x\nwant %x", got, want)
	}
	m, err := ParseNegTokenInit(want)
	if err != nil || len(m.MechTypes) != 1 || !m.MechTypes[0].Equal(OIDNTLMSSP()) || m.MechToken != nil || m.MechListMIC != nil {
		t.Fatalf("%+v %v", m, err)
	}
}
