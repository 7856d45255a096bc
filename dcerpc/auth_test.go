package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/netsession/netsession/session"
)

func toyServer(t testing.TB, alter bool, record *Call, mu *sync.Mutex) *Server {
	s := &Server{Auth: map[AuthType]AuthAcceptor{
		authTypeToy: &toyAcceptor{users: map[string]string{"alice": "s3cret"}, alter: alter},
	}}
	s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, call *Call) ([]byte, error) {
		if record != nil {
			mu.Lock()
			*record = *call
			record.Stub = nil
			mu.Unlock()
		}
		return echoHandler(ctx, call)
	}), NumOpnums: 6})
	return s
}

// recorder keeps everything the client writes.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(b)
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// TestAuthPlumbing authenticates with the toy mechanism at each level, in
// the NTLMSSP shape (bind, bind_ack, auth3) and the SPNEGO shape (bind,
// bind_ack, alter_context, alter_context_resp), then makes multi-fragment
// calls that are signed or sealed fragment by fragment.
func TestAuthPlumbing(t *testing.T) {
	secret := []byte("plaintext-marker-0123456789")
	for _, level := range []AuthLevel{AuthLevelConnect, AuthLevelIntegrity, AuthLevelPrivacy} {
		for _, alter := range []bool{false, true} {
			name := level.String() + map[bool]string{false: "/auth3", true: "/alter_context"}[alter]
			t.Run(name, func(t *testing.T) {
				var got Call
				var mu sync.Mutex
				s := toyServer(t, alter, &got, &mu)
				s.Limits.MaxRecvFrag, s.Limits.MaxXmitFrag = MinFragSize, MinFragSize
				rec := &recorder{Conn: pipeConnWith(t, s, ConnConfig{Caller: session.Caller{User: "smbuser"}})}
				cl := NewClient(rec, ClientConfig{Auth: newToyInitiator("alice", "s3cret", level, alter), AuthContextID: 79231})
				ctx := testCtx(t)
				if err := cl.Bind(ctx, testSyntax); err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{0, 5, 3000, 20_000} {
					in := append(bytes.Clone(secret), pattern(n)...)
					out, err := cl.Call(ctx, 0, in)
					if err != nil || !bytes.Equal(out, in) {
						t.Fatalf("echo %d: %d octets, %v", n, len(out), err)
					}
					out, err = cl.Call(ctx, 1, le32(n))
					if err != nil || !bytes.Equal(out, pattern(n)) {
						t.Fatalf("response %d: %d octets, %v", n, len(out), err)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if got.Caller.User != "alice" || got.AuthType != authTypeToy || got.AuthLevel != level {
					t.Fatalf("handler saw caller %+v type %d level %s", got.Caller, got.AuthType, got.AuthLevel)
				}
				rec.mu.Lock()
				defer rec.mu.Unlock()
				if sealed := !bytes.Contains(rec.buf.Bytes(), secret); sealed != (level == AuthLevelPrivacy) {
					t.Fatalf("stub hidden on the wire: %v at level %s", sealed, level)
				}
			})
		}
	}
}

// TestAuthWire checks the PDUs of an authenticated exchange at the byte
// level: the bind_ack carries the challenge under the same auth_type,
// level and context id; auth3 gets no answer; a request without a
// verifier, or with a bad signature, is refused.
func TestAuthWire(t *testing.T) {
	s := toyServer(t, false, nil, nil)
	c := pipeConn(t, s)
	keys := newToyInitiator("alice", "s3cret", AuthLevelIntegrity, false)
	tok, _, _ := keys.Step(context.Background(), nil)
	b := bindPDU(1, ctxElem(0, testSyntax, NDR20))
	b.Flags |= FlagSupportHdrSign
	b.Auth = &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, ContextID: 5, Value: tok}
	p, err := rawExchange(t, c, mustMarshal(t, b))
	if err != nil {
		t.Fatal(err)
	}
	ack := p.(*BindAck)
	if ack.Auth == nil || ack.Auth.Type != authTypeToy || ack.Auth.Level != AuthLevelIntegrity || ack.Auth.ContextID != 5 ||
		!bytes.HasPrefix(ack.Auth.Value, []byte("CHAL:")) || ack.Flags&FlagSupportHdrSign == 0 {
		t.Fatalf("bind_ack %+v auth %+v", ack, ack.Auth)
	}
	tok, done, err := keys.Step(context.Background(), ack.Auth.Value)
	if err != nil || !done {
		t.Fatal(err)
	}
	c.Write(mustMarshal(t, &Auth3{Header: Header{Flags: 3, CallID: 1}, Auth: &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, ContextID: 5, Value: tok}}))

	signed := func(callID uint32, corrupt bool) []byte {
		r := &Request{Header: Header{Flags: 3, CallID: callID}, Stub: []byte("abc"),
			Auth: &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, ContextID: 5, Value: make([]byte, toySigLen)}}
		raw := mustMarshal(t, r)
		keys.corruptNext = corrupt
		if err := protect(keys, AuthLevelIntegrity, true, raw, r); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	p, err = rawExchange(t, c, signed(2, false))
	resp, ok := p.(*Response)
	if err != nil || !ok || string(resp.Stub[:3]) != "abc" || resp.Auth == nil || len(resp.Auth.Value) != toySigLen {
		t.Fatalf("signed call: %T %+v %v", p, p, err)
	}
	// The stub was padded to 16 before the trailer, and the signature
	// covers the whole PDU up to the auth_value (header, padded stub and
	// sec_trailer), as MS-RPCE defines: recompute it independently.
	if resp.Auth.PadLength != 13 {
		t.Fatalf("response auth_pad_length %d", resp.Auth.PadLength)
	}
	wire := mustMarshal(t, resp)
	if want := keys.mac("s2c", 0, wire[:len(wire)-toySigLen]); !bytes.Equal(want, resp.Auth.Value) {
		t.Fatalf("response signature % x, want % x", resp.Auth.Value, want)
	}
	p, err = rawExchange(t, c, signed(3, true))
	if f, ok := p.(*FaultPDU); err != nil || !ok || f.Status != StatusSecPkgError {
		t.Fatalf("tampered call: %T %+v %v", p, p, err)
	}
	if _, err := readPDU(c); err == nil {
		t.Fatal("connection open after a bad signature")
	}

	// Same association set-up, then a request with no verifier at all.
	c2 := pipeConn(t, s)
	keys2 := newToyInitiator("alice", "s3cret", AuthLevelIntegrity, false)
	cl := NewClient(c2, ClientConfig{Auth: keys2, AuthContextID: 5})
	if err := cl.Bind(testCtx(t), testSyntax); err != nil {
		t.Fatal(err)
	}
	p, err = rawExchange(t, c2, mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 50}, Stub: []byte("x")}))
	if f, ok := p.(*FaultPDU); err != nil || !ok || f.Status != StatusSecPkgError {
		t.Fatalf("unsigned call on a signed association: %T %+v %v", p, p, err)
	}
}

func TestAuthFailures(t *testing.T) {
	ctx := testCtx(t)
	t.Run("wrong key, auth3", func(t *testing.T) {
		cl := NewClient(pipeConn(t, toyServer(t, false, nil, nil)), ClientConfig{Auth: newToyInitiator("alice", "wrong", AuthLevelIntegrity, false), AuthContextID: 1})
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatalf("bind: %v (auth3 has no answer, the failure shows on the first call)", err)
		}
		_, err := cl.Call(ctx, 0, []byte("x"))
		var fe *Fault
		if !errors.As(err, &fe) || fe.Status != StatusAccessDenied {
			t.Fatalf("call: %v", err)
		}
	})
	t.Run("wrong key, alter_context", func(t *testing.T) {
		cl := NewClient(pipeConn(t, toyServer(t, true, nil, nil)), ClientConfig{Auth: newToyInitiator("alice", "wrong", AuthLevelPrivacy, true), AuthContextID: 1})
		err := cl.Bind(ctx, testSyntax)
		var fe *Fault
		if !errors.As(err, &fe) || fe.Status != StatusSecPkgError {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("unknown user refused at bind", func(t *testing.T) {
		cl := NewClient(pipeConn(t, toyServer(t, false, nil, nil)), ClientConfig{Auth: newToyInitiator("mallory", "x", AuthLevelIntegrity, false), AuthContextID: 1})
		var nak *BindNakError
		if err := cl.Bind(ctx, testSyntax); !errors.As(err, &nak) || nak.Reason != NakReasonNotSpecified {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("no acceptor for the auth type", func(t *testing.T) {
		cl := NewClient(pipeConn(t, newTestServer(t)), ClientConfig{Auth: newToyInitiator("alice", "s3cret", AuthLevelIntegrity, false), AuthContextID: 1})
		var nak *BindNakError
		if err := cl.Bind(ctx, testSyntax); !errors.As(err, &nak) || nak.Reason != NakReasonAuthTypeNotRecognized {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("unsupported level", func(t *testing.T) {
		cl := NewClient(pipeConn(t, toyServer(t, false, nil, nil)), ClientConfig{Auth: newToyInitiator("alice", "s3cret", AuthLevelPkt, false), AuthContextID: 1})
		var nak *BindNakError
		if err := cl.Bind(ctx, testSyntax); !errors.As(err, &nak) {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("tampered response", func(t *testing.T) {
		s := toyServer(t, false, nil, nil)
		a, b := net.Pipe()
		go s.ServeConn(context.Background(), a, ConnConfig{})
		defer b.Close()
		flip := &flipper{Conn: b}
		cl := NewClient(flip, ClientConfig{Auth: newToyInitiator("alice", "s3cret", AuthLevelIntegrity, false), AuthContextID: 1})
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatal(err)
		}
		flip.armed.Store(true)
		if _, err := cl.Call(ctx, 0, []byte("hello")); !errors.Is(err, ErrAuth) {
			t.Fatalf("call with a flipped response byte: %v", err)
		}
	})
	t.Run("request before auth3", func(t *testing.T) {
		c := pipeConn(t, toyServer(t, false, nil, nil))
		b := bindPDU(1, ctxElem(0, testSyntax, NDR20))
		b.Auth = &AuthVerifier{Type: authTypeToy, Level: AuthLevelIntegrity, Value: []byte("HELLO:alice")}
		if _, err := rawExchange(t, c, mustMarshal(t, b)); err != nil {
			t.Fatal(err)
		}
		p, err := rawExchange(t, c, mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 2}, Stub: []byte("x")}))
		if f, ok := p.(*FaultPDU); err != nil || !ok || f.Status != StatusProtoError {
			t.Fatalf("%T %+v %v", p, p, err)
		}
	})
}
