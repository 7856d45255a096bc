package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/netsession/netsession/auth"
)

// The GSS-style toy: the toy mechanism, protecting the GSS-API way
// (auth.GSSStyle): its sealing verifiers are gssExtra octets longer than
// its signing ones, and without header signing it covers the stub alone.
const gssExtra = 8

var (
	_ auth.GSSStyle = (*gssServerCtx)(nil)
	_ auth.GSSStyle = (*gssInitiator)(nil)
)

type gssAcceptor struct{ toyAcceptor }

func (a *gssAcceptor) NewSecurityContext(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error) {
	c, err := a.toyAcceptor.NewSecurityContext(ctx, info)
	if err != nil {
		return nil, err
	}
	return &gssServerCtx{c.(*toyServerCtx)}, nil
}

type gssServerCtx struct{ *toyServerCtx }

func (c *gssServerCtx) GSSWrapSize() (int, bool) { return toySigLen + gssExtra, true }
func (c *gssServerCtx) SealWithin(m []byte, lo, hi int) ([]byte, error) {
	return gssSeal(&c.keys, m, lo, hi)
}
func (c *gssServerCtx) UnsealWithin(m []byte, lo, hi int, s []byte) error {
	return gssUnseal(&c.keys, m, lo, hi, s)
}

type gssInitiator struct{ *toyInitiator }

func (i *gssInitiator) GSSWrapSize() (int, bool) { return toySigLen + gssExtra, true }
func (i *gssInitiator) SealWithin(m []byte, lo, hi int) ([]byte, error) {
	return gssSeal(&i.toyKeys, m, lo, hi)
}
func (i *gssInitiator) UnsealWithin(m []byte, lo, hi int, s []byte) error {
	return gssUnseal(&i.toyKeys, m, lo, hi, s)
}

func gssSeal(k *toyKeys, m []byte, lo, hi int) ([]byte, error) {
	sig, err := k.SealWithin(m, lo, hi)
	return append(sig, bytes.Repeat([]byte{0xee}, gssExtra)...), err
}

func gssUnseal(k *toyKeys, m []byte, lo, hi int, s []byte) error {
	if len(s) != toySigLen+gssExtra {
		return errors.New("gss toy: sealing verifier of the wrong size")
	}
	return k.UnsealWithin(m, lo, hi, s[:toySigLen])
}

func gssToyServer(t testing.TB) *Server {
	s := toyServer(t, false, nil, nil)
	s.Auth = map[AuthType]AuthAcceptor{authTypeToy: &gssAcceptor{toyAcceptor{users: map[string]string{"alice": "s3cret"}}}}
	return s
}

// A GSS-style context's verifiers are sized by the level on both sides:
// the client and the server agree at integrity and at privacy, in
// several fragments.
func TestGSSStyleSizes(t *testing.T) {
	for _, level := range []AuthLevel{AuthLevelIntegrity, AuthLevelPrivacy} {
		c := pipeConn(t, gssToyServer(t))
		ini := &gssInitiator{newToyInitiator("alice", "s3cret", level, false)}
		cl := NewClient(c, ClientConfig{Auth: ini, AuthContextID: 3, MaxXmitFrag: MinFragSize, MaxRecvFrag: MinFragSize})
		ctx := context.Background()
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatal(err)
		}
		stub := bytes.Repeat([]byte("0123456789"), 700) // several fragments
		out, err := cl.Call(ctx, 0, stub)
		if err != nil || !bytes.Equal(out, stub) {
			t.Fatalf("%s: %d octets back, %v", level, len(out), err)
		}
	}
}

// Without header signing (the bind did not ask for it) a GSS-style
// context covers the stub and its padding alone, both ways; a request
// signed over the whole PDU is refused.
func TestGSSStyleWithoutHeaderSigning(t *testing.T) {
	c := pipeConn(t, gssToyServer(t))
	ctx := context.Background()
	keys := &gssInitiator{newToyInitiator("alice", "s3cret", AuthLevelIntegrity, false)}
	tok, _, _ := keys.Step(ctx, nil)
	b := bindPDU(1, ctxElem(0, testSyntax, NDR20))
	b.Auth = &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, ContextID: 5, Value: tok}
	p, err := rawExchange(t, c, mustMarshal(t, b))
	if err != nil {
		t.Fatal(err)
	}
	ack := p.(*BindAck)
	if ack.Flags&FlagSupportHdrSign != 0 {
		t.Fatal("header signing granted without being asked for")
	}
	tok, _, _ = keys.Step(ctx, ack.Auth.Value)
	c.Write(mustMarshal(t, &Auth3{Header: Header{Flags: 3, CallID: 1}, Auth: &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, ContextID: 5, Value: tok}}))

	request := func(callID uint32, whole bool) []byte {
		r := &Request{Header: Header{Flags: 3, CallID: callID}, Stub: []byte("abc"),
			Auth: &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, ContextID: 5, Value: make([]byte, toySigLen)}}
		raw := mustMarshal(t, r)
		msg, lo, hi, sig := protectedRanges(raw, r)
		if !whole {
			msg = msg[lo:hi]
		}
		s, _ := keys.Sign(msg)
		copy(sig, s)
		return raw
	}
	raw := request(2, false)
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	rraw, _, err := readFrame(c, nil, 1<<16-1, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := DecodePDU(rraw)
	resp, ok := rp.(*Response)
	if err != nil || !ok || string(resp.Stub[:3]) != "abc" {
		t.Fatalf("request signed over the stub: %T %v", rp, err)
	}
	msg, lo, hi, sig := protectedRanges(rraw, resp)
	if err := keys.Verify(msg[lo:hi], sig); err != nil {
		t.Errorf("the answer is not signed over its stub alone: %v", err)
	}
	p, err = rawExchange(t, c, request(3, true))
	if f, ok := p.(*FaultPDU); err != nil || !ok || f.Status != StatusSecPkgError {
		t.Fatalf("request signed over the whole PDU: %T %+v %v", p, p, err)
	}
}
