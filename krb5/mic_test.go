package krb5

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/internal/tokenfile"
	"github.com/netsession/netsession/internal/toymech"
	"github.com/netsession/netsession/spnego"
)

// established runs one Kerberos context between our initiator and
// acceptor (golden ticket) and returns both contexts as MICContexts.
func established(t *testing.T) (ic, ac auth.MICContext) {
	t.Helper()
	ctx := context.Background()
	tkt, svc := issue(t, ticketSpec{})
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
	i, err := (&Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: fakeSPN}).Initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := acc.AuthAcceptors()[1].Accept(ctx, auth.Peer{})
	if err != nil {
		t.Fatal(err)
	}
	if i.(auth.MICContext).CanMIC() || a.(auth.MICContext).CanMIC() {
		t.Fatal("CanMIC before the exchange")
	}
	if err := drive(t, i, a); err != nil {
		t.Fatal(err)
	}
	return i.(auth.MICContext), a.(auth.MICContext)
}

// TestMICTokens: RFC 4121 MIC tokens both ways, with the acceptor's
// subkey (flag 0x04), the sender's flag, each side's sequence numbers
// (the authenticator's and the AP-REP's, counting up); a replayed,
// reflected, altered or foreign token is refused.
func TestMICTokens(t *testing.T) {
	ic, ac := established(t)
	if !ic.CanMIC() || !ac.CanMIC() || ic.MICRequired() || ac.MICRequired() {
		t.Fatal("CanMIC/MICRequired")
	}
	msg := []byte("mechTypes")
	im, err := ic.GetMIC(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(im) != 16+12 || !bytes.Equal(im[:8], []byte{4, 4, wrapAcceptorSubkey, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("initiator token % x", im)
	}
	am, err := ac.GetMIC(msg)
	if err != nil {
		t.Fatal(err)
	}
	if am[2] != wrapAcceptorSubkey|wrapSentByAcceptor {
		t.Fatalf("acceptor flags %#x", am[2])
	}
	if err := ac.VerifyMIC(msg, im); err != nil {
		t.Fatalf("acceptor on the initiator's MIC: %v", err)
	}
	if err := ic.VerifyMIC(msg, am); err != nil {
		t.Fatalf("initiator on the acceptor's MIC: %v", err)
	}
	// The next token counts up; the first one again is a replay.
	im2, _ := ic.GetMIC(msg)
	if bytes.Equal(im2[8:16], im[8:16]) {
		t.Error("sequence number did not advance")
	}
	if err := ac.VerifyMIC(msg, im); !errors.Is(err, ErrMIC) {
		t.Errorf("replayed MIC: %v", err)
	}
	if err := ac.VerifyMIC(msg, im2); err != nil {
		t.Errorf("second MIC: %v", err)
	}
	bad := func(name string, v auth.MICContext, m, tok []byte) {
		t.Helper()
		if err := v.VerifyMIC(m, tok); !errors.Is(err, ErrMIC) {
			t.Errorf("%s: %v", name, err)
		}
	}
	im3, _ := ic.GetMIC(msg)
	bad("reflected", ic, msg, im3)
	bad("other message", ac, []byte("mechTypez"), im3)
	flip := bytes.Clone(im3)
	flip[len(flip)-1] ^= 1
	bad("altered checksum", ac, msg, flip)
	flags := bytes.Clone(im3)
	flags[2] = 0
	bad("no acceptor-subkey flag", ac, msg, flags)
	bad("truncated", ac, msg, im3[:16])
	bad("wrong token id", ac, msg, append([]byte{5, 4}, im3[2:]...))
	if err := ac.VerifyMIC(msg, im3); err != nil {
		t.Errorf("the good third MIC after the bad ones: %v", err)
	}
	// Another context's token does not verify.
	ic2, _ := established(t)
	other, _ := ic2.GetMIC(msg)
	bad("another context", ac, msg, other)
}

// TestMICNotForRC4: RC4-HMAC contexts have no RFC 4121 tokens; the
// contexts say so (CanMIC false) instead of making wrong ones.
func TestMICNotForRC4(t *testing.T) {
	if _, err := newWrapper(ETypeRC4, make([]byte, 16), true, true, 0, 0, nil); err == nil {
		t.Error("Wrapper for RC4")
	}
	if micCapable(ETypeRC4) || !micCapable(ETypeAES256) || !micCapable(ETypeAES128) {
		t.Error("micCapable")
	}
}

// TestMechListMICKerberosNotFirst: the initiator offers another
// mechanism first and Kerberos second; the acceptor, with Kerberos alone,
// selects it, so the mechListMIC is required: the initiator restarts with
// the AP-REQ, the acceptor answers the AP-REP with its MIC
// (accept-incomplete), the initiator sends its MIC alone, the acceptor
// completes. A missing or altered MIC on either side fails the logon.
func TestMechListMICKerberosNotFirst(t *testing.T) {
	ctx := context.Background()
	// exchange runs the legs, letting tamper change a token before it
	// is delivered; it returns the error of the side that refused.
	exchange := func(t *testing.T, tamper func(leg string, tok []byte) []byte) (*spnego.InitiatorContext, *spnego.AcceptorContext, error) {
		t.Helper()
		tkt, svc := issue(t, ticketSpec{})
		acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
		sa := spnego.MustAcceptor(acc.AuthAcceptors()[1])
		si := spnego.MustInitiator(&toymech.Initiator{User: "u", Secret: "s"}, &Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: fakeSPN})
		ic, ac := si.NewContext(), sa.NewContext(auth.Peer{Source: "127.0.0.1"})
		var in []byte
		for i, name := range []string{"init", "select", "ap-req", "ap-rep", "ini-mic", "final"} {
			if i%2 == 0 {
				out, _, err := ic.Step(ctx, in)
				if err != nil {
					return ic, ac, err
				}
				if out == nil {
					return ic, ac, nil
				}
				in = tamper(name, out)
				continue
			}
			out, _, err := ac.Step(ctx, in)
			if err != nil {
				return ic, ac, err
			}
			in = tamper(name, out)
		}
		_, _, err := ic.Step(ctx, in)
		return ic, ac, err
	}
	var seen = map[string]*spnego.NegTokenResp{}
	ic, ac, err := exchange(t, func(leg string, tok []byte) []byte {
		if leg != "init" {
			r, err := spnego.ParseNegTokenResp(tok)
			if err != nil {
				t.Fatalf("%s: %v", leg, err)
			}
			seen[leg] = r
		}
		return tok
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ic.Done() || !ac.Done() {
		t.Fatalf("done: %v %v", ic.Done(), ac.Done())
	}
	res, _ := ac.Result()
	if res.Mechanism != auth.MechKerberos || !bytes.Equal(res.SessionKey, ic.SessionKey()) {
		t.Errorf("result %v, keys %x / %x", res.Mechanism, res.SessionKey, ic.SessionKey())
	}
	if r := seen["ap-rep"]; r.NegState != spnego.NegStateAcceptIncomplete || r.ResponseToken == nil || r.MechListMIC == nil {
		t.Errorf("AP-REP leg %+v", r)
	}
	if r := seen["ini-mic"]; r.ResponseToken != nil || r.MechListMIC == nil {
		t.Errorf("initiator's MIC leg %+v", r)
	}
	if r := seen["final"]; r.NegState != spnego.NegStateAcceptCompleted || r.MechListMIC != nil || r.ResponseToken != nil {
		t.Errorf("final leg %+v", r)
	}

	for _, tc := range []struct {
		leg      string
		change   func(r *spnego.NegTokenResp)
		acceptor bool // the acceptor refuses (else the initiator)
	}{
		{"ap-rep", func(r *spnego.NegTokenResp) { r.MechListMIC[len(r.MechListMIC)-1] ^= 1 }, false},
		{"ap-rep", func(r *spnego.NegTokenResp) { r.MechListMIC = nil; r.NegState = spnego.NegStateAcceptCompleted }, false},
		{"ini-mic", func(r *spnego.NegTokenResp) { r.MechListMIC[len(r.MechListMIC)-1] ^= 1 }, true},
		{"ini-mic", func(r *spnego.NegTokenResp) { r.MechListMIC = nil }, true},
	} {
		ic, ac, err := exchange(t, func(leg string, tok []byte) []byte {
			if leg != tc.leg {
				return tok
			}
			r, _ := spnego.ParseNegTokenResp(tok)
			tc.change(r)
			return r.Marshal()
		})
		if !errors.Is(err, spnego.ErrMechListMIC) || ic.Done() || ac.Done() {
			t.Errorf("%s tampered: %v (done %v %v)", tc.leg, err, ic.Done(), ac.Done())
		}
	}
}

// TestKerberosFirstMICOptional: with Kerberos first no mechListMIC is
// exchanged, but one the acceptor sends along with the AP-REP (as some
// servers do) is verified: a bad one fails the logon.
func TestKerberosFirstMICOptional(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mic  func(ac auth.AcceptorContext, raw []byte) []byte
		ok   bool
	}{
		{"none", func(auth.AcceptorContext, []byte) []byte { return nil }, true},
		{"good", func(ac auth.AcceptorContext, raw []byte) []byte {
			m, _ := ac.(auth.MICContext).GetMIC(raw)
			return m
		}, true},
		{"bad", func(ac auth.AcceptorContext, raw []byte) []byte {
			m, _ := ac.(auth.MICContext).GetMIC(raw)
			m[20] ^= 1
			return m
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tkt, svc := issue(t, ticketSpec{})
			acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
			ic := spnego.MustInitiator(&Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: fakeSPN}).NewContext()
			init, _, err := ic.Step(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The acceptor's side by hand, to add the MIC to its answer.
			nti, err := spnego.ParseNegTokenInit(init)
			if err != nil {
				t.Fatal(err)
			}
			ac, _ := acc.AuthAcceptors()[1].Accept(ctx, auth.Peer{})
			rep, done, err := ac.Step(ctx, nti.MechToken)
			if err != nil || !done {
				t.Fatal(err)
			}
			resp := &spnego.NegTokenResp{NegState: spnego.NegStateAcceptCompleted, SupportedMech: nti.MechTypes[0],
				ResponseToken: rep, MechListMIC: tc.mic(ac, nti.RawMechTypes)}
			out, done, err := ic.Step(ctx, resp.Marshal())
			if tc.ok != (err == nil && done && out == nil) {
				t.Errorf("done %v, %v", done, err)
			}
			if !tc.ok && !errors.Is(err, spnego.ErrMechListMIC) {
				t.Errorf("bad MIC: %v", err)
			}
		})
	}
}

// FuzzMICToken: any token is refused or verifies, never a panic; seeded
// with tokens of both sides, ours and Samba's.
func FuzzMICToken(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	wrappers := func() (ini, acc *Wrapper) {
		ini, err := newWrapper(ETypeAES256, key, true, true, 5, 9, nil)
		if err != nil {
			f.Fatal(err)
		}
		acc, _ = newWrapper(ETypeAES256, key, false, true, 9, 5, nil)
		return ini, acc
	}
	msg := []byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	ini, acc := wrappers()
	for _, w := range []*Wrapper{ini, acc} {
		tok, err := w.MIC(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add([]byte{4, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 1})
	toks, err := tokenfile.Read(filepath.Join("..", "spnego", "testdata", "samba-dc-kerberos-mic.spnego"))
	if err != nil {
		f.Fatal(err)
	}
	for _, tk := range toks {
		if r, err := spnego.ParseNegTokenResp(tk.Data); err == nil && r.MechListMIC != nil {
			f.Add(r.MechListMIC)
		}
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		ini, acc := wrappers()
		for _, w := range []*Wrapper{ini, acc} {
			if err := w.VerifyMIC(msg, tok); err == nil && len(tok) != 16+12 {
				t.Fatalf("token of %d bytes verified", len(tok))
			}
		}
	})
}
