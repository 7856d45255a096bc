package krb5

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/spnego"
)

// fixedTickets hands out one ticket, and counts what was asked for.
type fixedTickets struct {
	t    *Ticket
	asks []string
}

func (f *fixedTickets) Ticket(_ context.Context, spn string) (*Ticket, error) {
	f.asks = append(f.asks, spn)
	return f.t, nil
}

var (
	_ auth.Initiator = (*Mechanism)(nil)
	_ TicketSource   = (*Client)(nil)
)

// drive runs an initiator context against an acceptor context until
// both are done.
func drive(t *testing.T, ic auth.InitiatorContext, ac auth.AcceptorContext) error {
	t.Helper()
	ctx := context.Background()
	var in []byte
	for range 6 {
		out, idone, err := ic.Step(ctx, in)
		if err != nil {
			return err
		}
		if idone && out == nil {
			return nil
		}
		back, adone, err := ac.Step(ctx, out)
		if err != nil {
			return err
		}
		if adone && back == nil && idone {
			return nil
		}
		in = back
	}
	t.Fatal("exchange does not end")
	return nil
}

func TestMechanismAdapters(t *testing.T) {
	ctx := context.Background()
	tkt, svc := issue(t, ticketSpec{})
	_, g, _ := loadGoldenPAC(t, "pac_admin_aes")
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN), Services: []string{fakeSPN}}
	mechs := acc.AuthAcceptors()
	if len(mechs) != 2 || mechs[0].Mechanism() != auth.MechMSKerberos || mechs[1].Mechanism() != auth.MechKerberos {
		t.Fatalf("acceptor mechanisms %v", mechs)
	}
	src := &fixedTickets{t: tkt}
	ini := &Mechanism{Tickets: src, SPN: fakeSPN}
	if ini.Mechanism() != auth.MechKerberos || ini.Anonymous() {
		t.Fatal("initiator mechanism")
	}
	if got := (&Mechanism{}).ForHost("srv.example.com.").(*Mechanism).SPN; got != "cifs/srv.example.com" {
		t.Errorf("ForHost SPN %q", got)
	}
	if ini.ForHost("other") != auth.Initiator(ini) {
		t.Error("ForHost replaced an explicit SPN")
	}
	ic, err := ini.Initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := mechs[1].Accept(ctx, auth.Peer{Source: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ac.Result(); ok {
		t.Fatal("result before the exchange")
	}
	if ic.SessionKey() != nil {
		t.Fatal("initiator key before the exchange")
	}
	if err := drive(t, ic, ac); err != nil {
		t.Fatal(err)
	}
	res, ok := ac.Result()
	if !ok {
		t.Fatal("no result")
	}
	if len(res.SessionKey) != 32 || !bytes.Equal(res.SessionKey, ic.SessionKey()) || bytes.Equal(res.SessionKey, tkt.key.KeyValue) {
		t.Fatalf("session keys %x / %x", res.SessionKey, ic.SessionKey())
	}
	if res.Mechanism != auth.MechKerberos || res.Identity.User != g.ClientName || res.Identity.Domain != g.Domain ||
		res.Identity.UserSID != g.UserSID {
		t.Errorf("result %+v", res)
	}
	for _, s := range g.GroupSIDs {
		if !contains(res.Identity.GroupSIDs, s) {
			t.Errorf("group SID %s missing from %v", s, res.Identity.GroupSIDs)
		}
	}
	if session.ClassOf(res.Identity.Caller()) != session.ClassAdmin {
		t.Errorf("golden admin is not a domain admin: %v", res.Identity.GroupSIDs)
	}
	if len(src.asks) != 1 || src.asks[0] != fakeSPN {
		t.Errorf("tickets asked for %v", src.asks)
	}
	// A second token on a finished context is refused.
	if _, _, err := ac.Step(ctx, nil); !errors.Is(err, ErrState) {
		t.Errorf("step after done: %v", err)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestMechanismAcceptorRefusals: refusals are logon failures that keep
// their Kerberos reason.
func TestMechanismAcceptorRefusals(t *testing.T) {
	ctx := context.Background()
	tkt, svc := issue(t, ticketSpec{})
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN), Services: []string{fakeSPN}}
	tok := mustInit(t, tkt)
	run := func(in []byte) error {
		ac, err := acc.AuthAcceptors()[0].Accept(ctx, auth.Peer{})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ac.Step(ctx, in)
		if _, ok := ac.Result(); ok && err != nil {
			t.Error("result after a refusal")
		}
		return err
	}
	if err := run(tok); err != nil {
		t.Fatal(err)
	}
	err := run(tok)
	if !errors.Is(err, auth.ErrLogonFailure) || !errors.Is(err, ErrReplay) {
		t.Errorf("replay: %v", err)
	}
	if err := run([]byte{0x60, 1, 2}); !errors.Is(err, auth.ErrLogonFailure) || !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
	other, _ := issue(t, ticketSpec{sname: "cifs/other.ad0.netsess.test"})
	if err := run(mustInit(t, other)); !errors.Is(err, ErrWrongService) {
		t.Errorf("other service: %v", err)
	}
}

// TestMechanismInitiatorRefusals: an AP-REP that is not from the
// acceptor, and tokens out of turn.
func TestMechanismInitiatorRefusals(t *testing.T) {
	ctx := context.Background()
	tkt, _ := issue(t, ticketSpec{})
	if _, err := (&Mechanism{}).Initiate(ctx); !errors.Is(err, ErrConfig) {
		t.Errorf("no SPN: %v", err)
	}
	ic, err := (&Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: fakeSPN}).Initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ic.Step(ctx, []byte{1}); !errors.Is(err, ErrState) {
		t.Errorf("answer before the AP-REQ: %v", err)
	}
	if _, _, err := ic.Step(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, done, err := ic.Step(ctx, WrapToken(TokenAPRep, []byte{0x6f, 0})); err == nil || done {
		t.Errorf("bogus AP-REP accepted")
	}
	if ic.SessionKey() != nil {
		t.Error("session key after a bad AP-REP")
	}
}

// TestMechanismThroughSPNEGO: Kerberos chosen by SPNEGO next to another
// mechanism, both OIDs on the acceptor side; the session key and
// identity come through.
func TestMechanismThroughSPNEGO(t *testing.T) {
	ctx := context.Background()
	_, g, _ := loadGoldenPAC(t, "pac_admin_aes")
	for _, offer := range []auth.Mechanism{auth.MechKerberos, auth.MechMSKerberos} {
		t.Run(offer.String(), func(t *testing.T) {
			tkt, svc := issue(t, ticketSpec{})
			acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
			sa, err := spnego.NewAcceptor(acc.AuthAcceptors()...)
			if err != nil {
				t.Fatal(err)
			}
			si, err := spnego.NewInitiator(&Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: fakeSPN, Mech: offer})
			if err != nil {
				t.Fatal(err)
			}
			ic, err := si.Initiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ac, err := sa.Accept(ctx, auth.Peer{Source: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := drive(t, ic, ac); err != nil {
				t.Fatal(err)
			}
			res, ok := ac.Result()
			if !ok {
				t.Fatal("no result")
			}
			if res.Mechanism != offer || res.Identity.User != g.ClientName || res.Identity.UserSID != g.UserSID {
				t.Errorf("result %+v", res)
			}
			if len(res.SessionKey) != 32 || !bytes.Equal(res.SessionKey, ic.SessionKey()) {
				t.Errorf("session keys %x / %x", res.SessionKey, ic.SessionKey())
			}
		})
	}
}

// TestRefusalExplainedThroughSPNEGO: an acceptor refusing the AP-REQ with
// a Kerberos code (a clock two hours ahead, then a replay) sends its
// KRB-ERROR in SPNEGO's reject, stamped with its own time; the
// initiator's error says why. A refusal without a code (garbage) sends a
// bare reject.
func TestRefusalExplainedThroughSPNEGO(t *testing.T) {
	ctx := context.Background()
	tkt, svc := issue(t, ticketSpec{})
	ahead := time.Now().Add(2 * time.Hour)
	for _, tc := range []struct {
		name string
		acc  *Acceptor
		want error
		code int32
	}{
		{"skew", &Acceptor{Keys: keysFor(t, svc, fakeSPN), Clock: func() time.Time { return ahead }}, ErrClockSkew, 37},
		{"not us", &Acceptor{Keys: keysFor(t, svc, fakeSPN), Services: []string{"cifs/elsewhere"}}, ErrWrongService, 35},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa := spnego.MustAcceptor(tc.acc.AuthAcceptors()...)
			si := spnego.MustInitiator(&Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: fakeSPN})
			ic, _ := si.Initiate(ctx)
			ac, _ := sa.Accept(ctx, auth.Peer{Source: "127.0.0.1"})
			init, _, err := ic.Step(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			reject, _, err := ac.Step(ctx, init)
			if !errors.Is(err, tc.want) || !errors.Is(err, auth.ErrLogonFailure) {
				t.Fatalf("acceptor: %v", err)
			}
			resp, err := spnego.ParseNegTokenResp(reject)
			if err != nil || resp.NegState != spnego.NegStateReject || resp.ResponseToken == nil {
				t.Fatalf("reject %+v, %v", resp, err)
			}
			tokID, msg, err := UnwrapToken(resp.ResponseToken)
			if err != nil || tokID != TokenKRBError {
				t.Fatalf("error token %#x: %v", tokID, err)
			}
			var ke messages.KRBError
			if err := ke.Unmarshal(msg); err != nil {
				t.Fatal(err)
			}
			if ke.ErrorCode != tc.code || !slices.Equal(ke.SName.NameString, strings.Split(fakeSPN, "/")) {
				t.Errorf("KRB-ERROR %d for %v", ke.ErrorCode, ke.SName.NameString)
			}
			if want := tc.acc.now(); ke.STime.Sub(want).Abs() > time.Minute {
				t.Errorf("KRB-ERROR time %v, acceptor's %v", ke.STime, want)
			}
			_, _, err = ic.Step(ctx, reject)
			var kdc *KDCError
			if !errors.Is(err, spnego.ErrRejected) || !errors.Is(err, tc.want) || !errors.As(err, &kdc) || kdc.Code != tc.code {
				t.Errorf("initiator: %v", err)
			}
		})
	}
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
	ac, _ := spnego.MustAcceptor(acc.AuthAcceptors()...).Accept(ctx, auth.Peer{})
	init := (&spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{{1, 2, 840, 113554, 1, 2, 2}}, MechToken: []byte{0x60, 1, 2}}).Marshal()
	reject, _, err := ac.Step(ctx, init)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	if resp, err := spnego.ParseNegTokenResp(reject); err != nil || resp.NegState != spnego.NegStateReject || resp.ResponseToken != nil {
		t.Errorf("garbage answered %+v, %v", resp, err)
	}
}
