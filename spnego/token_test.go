package spnego_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/spnego"
)

func TestTokenRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 70000) // a three-octet length
	for _, m := range []*spnego.NegTokenResp{
		{NegState: spnego.NegStateAbsent},
		{NegState: spnego.NegStateAcceptIncomplete, SupportedMech: oid(t, auth.MechNTLM), ResponseToken: []byte("x")},
		{NegState: spnego.NegStateAcceptCompleted, MechListMIC: make([]byte, 16)},
		{NegState: spnego.NegStateRequestMIC, ResponseToken: big},
	} {
		got, err := spnego.ParseNegTokenResp(m.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if got.NegState != m.NegState || !got.SupportedMech.Equal(m.SupportedMech) ||
			!bytes.Equal(got.ResponseToken, m.ResponseToken) || !bytes.Equal(got.MechListMIC, m.MechListMIC) {
			t.Fatalf("round trip %+v -> %+v", m, got)
		}
	}
	in := &spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{oid(t, auth.MechMSKerberos), oid(t, auth.MechNTLM)}, MechToken: big, MechListMIC: []byte{1}}
	got, err := spnego.ParseNegTokenInit(in.Marshal())
	if err != nil || len(got.MechTypes) != 2 || auth.MechanismOf(got.MechTypes[1]) != auth.MechNTLM ||
		!bytes.Equal(got.MechToken, big) || !bytes.Equal(got.RawMechTypes, in.RawMechTypes) || !bytes.Equal(got.MechListMIC, []byte{1}) {
		t.Fatalf("NegTokenInit round trip: %+v %v", got, err)
	}
}

func TestDecodeRefusals(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0xa1},
		{0xa1, 0x84, 0xff, 0xff, 0xff, 0xff}, // length beyond the data
		{0xa1, 0x81, 0x05, 0x30, 0x03, 0xa0, 0x01, 0x00},                         // non-minimal length
		{0xa1, 0x05, 0x30, 0x03, 0xa3, 0x01, 0x00},                               // mechListMIC not an OCTET STRING
		{0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 9},                      // negState 9
		{0xa1, 0x0a, 0x30, 0x08, 0xa2, 0x02, 0x04, 0x00, 0xa2, 0x02, 0x04, 0x00}, // repeated field
	} {
		if _, err := spnego.ParseNegTokenResp(b); !errors.Is(err, spnego.ErrMalformed) {
			t.Errorf("%x: %v", b, err)
		}
	}
	for _, b := range [][]byte{
		{0x60, 0x00},
		{0x60, 0x08, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x03},                         // another mechanism
		{0x60, 0x0c, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x02, 0x30, 0x00}, // no mechTypes
	} {
		if _, err := spnego.ParseNegTokenInit(b); !errors.Is(err, spnego.ErrMalformed) {
			t.Errorf("%x: %v", b, err)
		}
	}
}

func FuzzParseNegTokenInit(f *testing.F) {
	for _, tk := range seedTokens(f) {
		f.Add(tk)
	}
	acc := spnego.MustAcceptor(&ntlm.Server{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := spnego.ParseNegTokenInit(b)
		if err != nil {
			return
		}
		raw := m.RawMechTypes
		again, err := spnego.ParseNegTokenInit(m.Marshal())
		if err != nil || len(again.MechTypes) != len(m.MechTypes) || !bytes.Equal(again.MechToken, m.MechToken) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, again, err)
		}
		// DER is canonical: the mechTypes we accepted re-encode to the
		// very bytes the mechListMIC would cover.
		if !bytes.Equal(again.RawMechTypes, raw) {
			t.Fatalf("mechTypes re-encode as %x, received %x", again.RawMechTypes, raw)
		}
		// The acceptor must cope with any decodable NegTokenInit.
		_, _, _ = acc.NewContext(auth.Peer{Source: "fuzz"}).Step(context.Background(), b)
	})
}

func FuzzParseNegTokenResp(f *testing.F) {
	for _, tk := range seedTokens(f) {
		f.Add(tk)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := spnego.ParseNegTokenResp(b)
		if err != nil {
			return
		}
		again, err := spnego.ParseNegTokenResp(m.Marshal())
		if err != nil || again.NegState != m.NegState || !again.SupportedMech.Equal(m.SupportedMech) ||
			!bytes.Equal(again.ResponseToken, m.ResponseToken) || !bytes.Equal(again.MechListMIC, m.MechListMIC) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, again, err)
		}
	})
}
