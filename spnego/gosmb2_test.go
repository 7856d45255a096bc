package spnego_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"testing"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/spnego"
)

// TestGoSMB2InitiatorSPNEGO wraps go-smb2's NTLM tokens the way its
// (unexported) SPNEGO client does: NegTokenInit with NTLMSSP only, then the
// AUTHENTICATE with a mechListMIC from NTLMInitiator.Sum over the DER
// mechTypes.
func TestGoSMB2InitiatorSPNEGO(t *testing.T) {
	acc := spnego.MustAcceptor(&ntlm.Server{Accounts: testAccounts(t)})
	in := &gosmb2.NTLMInitiator{User: "alice", Password: "AlicePass1"}
	ctx := context.Background()
	sc := acc.NewContext(auth.Peer{Source: "127.0.0.1"})
	neg, err := in.InitSecContext()
	if err != nil {
		t.Fatal(err)
	}
	init := &spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{in.OID()}, MechToken: neg}
	initTok := init.Marshal()
	raw, err := asn1.Marshal([]asn1.ObjectIdentifier{in.OID()})
	if err != nil || !bytes.Equal(raw, init.RawMechTypes) {
		t.Fatalf("mechTypes DER %x, encoding/asn1 gives %x (%v)", init.RawMechTypes, raw, err)
	}
	out, _, err := sc.Step(ctx, initTok)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := spnego.ParseNegTokenResp(out)
	if err != nil {
		t.Fatal(err)
	}
	authTok, err := in.AcceptSecContext(resp.ResponseToken)
	if err != nil {
		t.Fatal(err)
	}
	final, done, err := sc.Step(ctx, (&spnego.NegTokenResp{NegState: spnego.NegStateAbsent, ResponseToken: authTok, MechListMIC: in.Sum(raw)}).Marshal())
	if err != nil || !done {
		t.Fatalf("done=%v err=%v", done, err)
	}
	fr, err := spnego.ParseNegTokenResp(final)
	if err != nil || fr.NegState != spnego.NegStateAcceptCompleted || len(fr.MechListMIC) != ntlm.SignatureSize {
		t.Fatalf("final token %x: %+v %v", final, fr, err)
	}
	r, _ := sc.Result()
	if r.Identity.User != "alice" || !bytes.Equal(r.SessionKey, in.SessionKey()) {
		t.Fatalf("result %+v, keys %x / %x", r, r.SessionKey, in.SessionKey())
	}
}
