package dcerpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/session"
)

// TestGoldenSambaExchange replays impacket's bind and NetrSessionEnum
// request from the 70-session capture against our server, with a handler
// that returns Samba's response stub, and expects Samba's bytes back: the
// bind_ack (all but the assoc_group_id, which is the server's choice) and
// both response fragments (4280 + 1140 octets, alloc_hint 5372 then 1116).
func TestGoldenSambaExchange(t *testing.T) {
	frag1, frag2 := readHex(t, "samba-response-frag1.hex"), readHex(t, "samba-response-frag2.hex")
	stub := append(bytes.Clone(frag1[24:]), frag2[24:]...)
	reqStub := readHex(t, "impacket-request-opnum12.hex")[24:]
	s := &Server{}
	s.Register(Interface{Syntax: srvsvcSyntax, Handler: HandlerFunc(func(ctx context.Context, call *Call) ([]byte, error) {
		if call.Opnum != 12 || !bytes.Equal(call.Stub, reqStub) {
			return nil, ErrBadStub
		}
		if call.Caller.User != "alice" {
			return nil, &Fault{Status: StatusAccessDenied}
		}
		return stub, nil
	})})
	c := pipeConnWith(t, s, ConnConfig{SecondaryAddr: `\pipe\srvsvc`, Caller: session.Caller{User: "alice"}})

	writeRead := func(in []byte, n int) []byte {
		t.Helper()
		go c.Write(in)
		out := make([]byte, n)
		if _, err := readFull(c, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	wantAck := readHex(t, "samba-bind-ack.hex")
	gotAck := writeRead(readHex(t, "impacket-bind.hex"), len(wantAck))
	copy(gotAck[20:24], wantAck[20:24]) // assoc_group_id
	if !bytes.Equal(gotAck, wantAck) {
		t.Fatalf("bind_ack\n got % x\nwant % x", gotAck, wantAck)
	}
	got := writeRead(readHex(t, "impacket-request-opnum12.hex"), len(frag1)+len(frag2))
	if !bytes.Equal(got[:len(frag1)], frag1) {
		t.Fatalf("first response fragment differs:\n got % x\nwant % x", got[:64], frag1[:64])
	}
	if !bytes.Equal(got[len(frag1):], frag2) {
		t.Fatalf("last response fragment differs:\n got % x\nwant % x", got[len(frag1):len(frag1)+64], frag2[:64])
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestGoldenBindAcks: for both captured binds, our bind_ack equals Samba's
// byte for byte except the assoc_group_id.
func TestGoldenBindAcks(t *testing.T) {
	for _, tt := range []struct{ bind, ack string }{
		{"impacket-bind.hex", "samba-bind-ack.hex"},
		{"rpcclient-bind.hex", "samba-bind-ack-rpcclient.hex"},
	} {
		t.Run(tt.bind, func(t *testing.T) {
			c := pipeConnWith(t, newTestServer(t), ConnConfig{SecondaryAddr: `\pipe\srvsvc`})
			want := readHex(t, tt.ack)
			p, err := rawExchange(t, c, readHex(t, tt.bind))
			if err != nil {
				t.Fatal(err)
			}
			p.(*BindAck).AssocGroupID = binary.LittleEndian.Uint32(want[20:])
			if got := mustMarshal(t, p); !bytes.Equal(got, want) {
				t.Fatalf("bind_ack\n got % x\nwant % x", got, want)
			}
		})
	}
}

// TestPresentationNegotiation checks every row of the negotiation table
// Samba answers.
func TestPresentationNegotiation(t *testing.T) {
	unknown := SyntaxID{UUID: MustParseUUID("11111111-2222-3333-4444-555555555555"), Major: 1}
	tests := []struct {
		name string
		ctx  ContextElem
		want ContextResultElem
	}{
		{"known interface NDR20", ctxElem(0, testSyntax, NDR20),
			ContextResultElem{Result: ResultAcceptance, TransferSyntax: NDR20}},
		{"NDR64 then NDR20 picks NDR20", ctxElem(0, testSyntax, NDR64, NDR20),
			ContextResultElem{Result: ResultAcceptance, TransferSyntax: NDR20}},
		{"unknown interface", ctxElem(0, unknown, NDR20),
			ContextResultElem{Result: ResultProviderRejection, Reason: ReasonAbstractSyntaxNotSupported}},
		{"unknown major version", ctxElem(0, SyntaxID{UUID: testSyntax.UUID, Major: 2}, NDR20),
			ContextResultElem{Result: ResultProviderRejection, Reason: ReasonAbstractSyntaxNotSupported}},
		{"newer minor version", ctxElem(0, SyntaxID{UUID: testSyntax.UUID, Major: 1, Minor: 1}, NDR20),
			ContextResultElem{Result: ResultProviderRejection, Reason: ReasonAbstractSyntaxNotSupported}},
		{"NDR64 only", ctxElem(0, testSyntax, NDR64),
			ContextResultElem{Result: ResultProviderRejection, Reason: ReasonTransferSyntaxesNotSupported}},
		{"feature negotiation both bits", ctxElem(1, testSyntax, BindTimeFeatureSyntax(3)),
			ContextResultElem{Result: ResultNegotiateAck, Reason: ProviderReason(FeatureKeepConnectionOnOrphan)}},
		{"feature negotiation multiplexing only", ctxElem(1, testSyntax, BindTimeFeatureSyntax(FeatureSecurityContextMultiplexing)),
			ContextResultElem{Result: ResultNegotiateAck, Reason: 0}},
		{"feature negotiation first of several transfer syntaxes", ctxElem(1, testSyntax, BindTimeFeatureSyntax(2), NDR20),
			ContextResultElem{Result: ResultNegotiateAck, Reason: 2}},
		{"feature syntax not first is just unsupported", ctxElem(1, testSyntax, NDR64, BindTimeFeatureSyntax(2)),
			ContextResultElem{Result: ResultProviderRejection, Reason: ReasonTransferSyntaxesNotSupported}},
	}
	s := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeConn(t, s)
			p, err := rawExchange(t, c, mustMarshal(t, bindPDU(1, tt.ctx)))
			if err != nil {
				t.Fatal(err)
			}
			ack, ok := p.(*BindAck)
			if !ok || ack.Type != PTypeBindAck {
				t.Fatalf("answer %T %+v", p, p)
			}
			if d := cmp.Diff([]ContextResultElem{tt.want}, ack.Results); d != "" {
				t.Fatalf("results (-want +got):\n%s", d)
			}
		})
	}
}

// TestBindRefusedOutright: binds Samba refuses with a bind_nak, and the
// same shapes in an alter_context, which get a fault and a close.
func TestBindRefusedOutright(t *testing.T) {
	s := newTestServer(t)
	for _, tt := range []struct {
		name string
		ctxs []ContextElem
		why  BindNakReason
	}{
		{"no context", nil, NakReasonProtocolVersionNotSupport},
		{"no transfer syntax", []ContextElem{ctxElem(0, testSyntax)}, NakReasonNotSpecified},
		{"two feature contexts", []ContextElem{ctxElem(0, testSyntax, BindTimeFeatureSyntax(2)), ctxElem(1, testSyntax, BindTimeFeatureSyntax(2))}, NakReasonNotSpecified},
		{"one id, two interfaces", []ContextElem{ctxElem(0, testSyntax, NDR20), ctxElem(0, srvsvcSyntax, NDR20)}, NakReasonNotSpecified},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeConn(t, s)
			p, err := rawExchange(t, c, mustMarshal(t, bindPDU(1, tt.ctxs...)))
			if nak, ok := p.(*BindNak); err != nil || !ok || nak.Reason != tt.why {
				t.Fatalf("bind: %T %+v %v", p, p, err)
			}
			if _, err := readPDU(c); err == nil {
				t.Fatal("connection open after bind_nak")
			}
			if tt.ctxs == nil || tt.name == "two feature contexts" {
				return // not an error in an alter_context
			}
			c = pipeConn(t, s)
			rawExchange(t, c, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20))))
			alt := bindPDU(2, tt.ctxs...)
			alt.Type = PTypeAlterContext
			p, err = rawExchange(t, c, mustMarshal(t, alt))
			if f, ok := p.(*FaultPDU); err != nil || !ok || f.Status != StatusProtoError {
				t.Fatalf("alter_context: %T %+v %v", p, p, err)
			}
		})
	}
}

// TestBindAckFields: several contexts in one bind, fragment sizes,
// assoc_group_id, secondary address and its alignment.
func TestBindAckFields(t *testing.T) {
	s := newTestServer(t)
	// No secondary address of its own: a connection with none sends an
	// empty one.
	s.SecondaryAddr = ""
	s.Limits.MaxRecvFrag, s.Limits.MaxXmitFrag = 3000, 4000
	for _, tt := range []struct {
		name             string
		xmit, recv       uint16
		assoc            uint32
		secAddr          string
		wantXmit, wantRv uint16
	}{
		{"client larger", 5840, 5840, 0, "49152", 4000, 3000},
		{"client smaller", 2000, 1500, 0, `\PIPE\srvsvc`, 1496, 1496},
		{"client odd", 5840, 3333, 0, "", 3328, 3000},
		{"client below minimum", 100, 10, 0, "", MinFragSize, MinFragSize},
		{"joins group", 5840, 5840, 77, "1", 4000, 3000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeConnWith(t, s, ConnConfig{SecondaryAddr: tt.secAddr})
			b := bindPDU(9, ctxElem(0, testSyntax, NDR20), ctxElem(1, srvsvcSyntax, NDR64), ctxElem(2, srvsvcSyntax, NDR20))
			b.MaxXmitFrag, b.MaxRecvFrag, b.AssocGroupID = tt.xmit, tt.recv, tt.assoc
			raw := mustMarshal(t, b)
			c.Write(raw)
			out, _, err := readFrame(c, nil, 65535, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodePDU(out)
			if err != nil {
				t.Fatal(err)
			}
			ack := p.(*BindAck)
			if ack.CallID != 9 || ack.MaxXmitFrag != tt.wantXmit || ack.MaxRecvFrag != tt.wantRv || ack.SecondaryAddr != tt.secAddr {
				t.Fatalf("ack %+v", ack)
			}
			if tt.assoc != 0 && ack.AssocGroupID != tt.assoc || ack.AssocGroupID == 0 {
				t.Fatalf("assoc_group_id %d", ack.AssocGroupID)
			}
			// The result list starts 4-aligned after the secondary address.
			off := 26 + secAddrLen(tt.secAddr)
			off += (4 - off%4) % 4
			if out[off] != 3 {
				t.Fatalf("n_results at %d is %d", off, out[off])
			}
			want := []ContextResult{ResultAcceptance, ResultProviderRejection, ResultAcceptance}
			for i, r := range ack.Results {
				if r.Result != want[i] {
					t.Fatalf("result %d: %+v", i, r)
				}
			}
		})
	}
}

// client binds a Client to testSyntax over a fresh pipe.
func boundClient(t testing.TB, s *Server) *Client { return boundClientWith(t, s, ClientConfig{}) }

// boundClientWith is boundClient with the client configured by cfg.
func boundClientWith(t testing.TB, s *Server, cfg ClientConfig) *Client {
	t.Helper()
	cl := NewClient(pipeConn(t, s), cfg)
	if err := cl.Bind(testCtx(t), testSyntax); err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestCallsAndFaults(t *testing.T) {
	s := newTestServer(t)
	cl := boundClient(t, s)
	ctx := testCtx(t)
	tests := []struct {
		name          string
		opnum         uint16
		stub          []byte
		opts          CallOptions
		wantStub      []byte
		wantStatus    uint32
		didNotExecute bool
		is            error
	}{
		{name: "echo", opnum: 0, stub: []byte("hello"), wantStub: []byte("hello")},
		{name: "empty stub", opnum: 0, stub: nil, wantStub: []byte{}},
		{name: "object uuid", opnum: 0, stub: []byte("obj"), opts: CallOptions{Object: MustParseUUID("00112233-4455-6677-8899-aabbccddeeff")}, wantStub: []byte("obj")},
		{name: "bad stub", opnum: 2, wantStatus: StatusBadStubData, didNotExecute: true, is: ErrBadStub},
		{name: "custom fault", opnum: 3, wantStatus: 5},
		{name: "plain error", opnum: 4, wantStatus: StatusCantPerform},
		{name: "handler panic", opnum: 5, wantStatus: StatusCantPerform},
		{name: "opnum over NumOpnums", opnum: 6, wantStatus: StatusOpRangeError, didNotExecute: true, is: ErrOpRange},
		{name: "opnum far over", opnum: 0xffff, wantStatus: StatusOpRangeError, didNotExecute: true, is: ErrOpRange},
		{name: "context never offered", opnum: 0, opts: CallOptions{ContextID: 9}, wantStatus: StatusUnknownInterface, didNotExecute: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := cl.CallWith(ctx, tt.opnum, tt.stub, tt.opts)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, tt.wantStub) {
					t.Fatalf("stub %q, want %q", out, tt.wantStub)
				}
				return
			}
			var fe *Fault
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *Fault", err)
			}
			if fe.Status != tt.wantStatus || fe.DidNotExecute != tt.didNotExecute {
				t.Fatalf("fault %+v, want status 0x%08x did_not_execute %v", fe, tt.wantStatus, tt.didNotExecute)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("errors.Is(%v, %v) false", err, tt.is)
			}
		})
	}
	// The association survived every fault.
	if out, err := cl.Call(ctx, 0, []byte("still")); err != nil || string(out) != "still" {
		t.Fatalf("after faults: %q %v", out, err)
	}
}

// TestRejectedContextFault: a request on a context the server rejected
// gets nca_s_unknown_if.
func TestRejectedContextFault(t *testing.T) {
	s := newTestServer(t)
	c := pipeConn(t, s)
	unknown := SyntaxID{UUID: MustParseUUID("11111111-2222-3333-4444-555555555555"), Major: 1}
	if _, err := rawExchange(t, c, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20), ctxElem(1, unknown, NDR20), ctxElem(2, testSyntax, NDR64)))); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint16{1, 2} {
		p, err := rawExchange(t, c, mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 2}, ContextID: id}))
		if err != nil {
			t.Fatal(err)
		}
		f, ok := p.(*FaultPDU)
		if !ok || f.Status != StatusUnknownInterface || f.CallID != 2 || f.ContextID != id || f.Flags&FlagDidNotExecute == 0 {
			t.Fatalf("context %d: %T %+v", id, p, p)
		}
	}
}

func TestAlterContext(t *testing.T) {
	s := newTestServer(t)
	cl := boundClient(t, s)
	ctx := testCtx(t)
	id, err := cl.AlterContext(ctx, srvsvcSyntax)
	if err != nil {
		t.Fatal(err)
	}
	if id == 0 {
		t.Fatal("alter_context reused context 0")
	}
	// srvsvc is registered without NumOpnums: the handler's ErrOpRange
	// decides instead.
	if _, err := cl.CallWith(ctx, 40, nil, CallOptions{ContextID: id}); !errors.Is(err, ErrOpRange) {
		t.Fatalf("opnum 40 on srvsvc: %v", err)
	}
	if out, err := cl.CallWith(ctx, 0, []byte("x"), CallOptions{ContextID: id}); err != nil || string(out) != "x" {
		t.Fatalf("call on altered context: %q %v", out, err)
	}
	_, err = cl.AlterContext(ctx, SyntaxID{UUID: MustParseUUID("11111111-2222-3333-4444-555555555555"), Major: 1})
	var cre *ContextRejectedError
	if !errors.As(err, &cre) || cre.Reason != ReasonAbstractSyntaxNotSupported {
		t.Fatalf("alter_context to an unknown interface: %v", err)
	}
	// A rejection does not break the association.
	if _, err := cl.Call(ctx, 0, []byte("y")); err != nil {
		t.Fatal(err)
	}
}

func TestBindRejections(t *testing.T) {
	s := newTestServer(t)
	ctx := testCtx(t)
	cl := NewClient(pipeConn(t, s), ClientConfig{})
	err := cl.Bind(ctx, SyntaxID{UUID: MustParseUUID("11111111-2222-3333-4444-555555555555"), Major: 1})
	var cre *ContextRejectedError
	if !errors.As(err, &cre) || cre.Result != ResultProviderRejection || cre.Reason != ReasonAbstractSyntaxNotSupported {
		t.Fatalf("bind to an unknown interface: %v", err)
	}
	if _, err := cl.Call(ctx, 0, nil); !errors.Is(err, ErrNotBound) {
		t.Fatalf("call after a rejected bind: %v", err)
	}

	// A second bind on the same association is refused with a bind_nak.
	c := pipeConn(t, s)
	if _, err := rawExchange(t, c, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
		t.Fatal(err)
	}
	p, err := rawExchange(t, c, mustMarshal(t, bindPDU(2, ctxElem(0, testSyntax, NDR20))))
	if nak, ok := p.(*BindNak); err != nil || !ok || nak.CallID != 2 {
		t.Fatalf("second bind: %T %v", p, err)
	}
}

func TestFeatureNegotiationClient(t *testing.T) {
	s := newTestServer(t)
	cl := boundClientWith(t, s, ClientConfig{Features: FeatureKeepConnectionOnOrphan | FeatureSecurityContextMultiplexing})
	if f := cl.Negotiated().Features; f != FeatureKeepConnectionOnOrphan {
		t.Fatalf("features %#x", f)
	}
	if _, err := cl.Call(testCtx(t), 0, []byte("a")); err != nil {
		t.Fatal(err)
	}
}

// TestMultiFragment sends and receives stubs much larger than the
// negotiated fragments, over a pipe and over loopback TCP.
func TestMultiFragment(t *testing.T) {
	s := newTestServer(t)
	s.Limits.MaxRecvFrag, s.Limits.MaxXmitFrag = MinFragSize, MinFragSize
	run := func(t *testing.T, cl *Client) {
		ctx := testCtx(t)
		for _, n := range []int{0, 1, MinFragSize - 24, MinFragSize - 23, 10_000, 100_000, 1 << 20} {
			in := pattern(n)
			out, err := cl.Call(ctx, 0, in)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("echo of %d octets: %d octets back, %v", n, len(out), err)
			}
			out, err = cl.Call(ctx, 1, le32(n))
			if err != nil || !bytes.Equal(out, pattern(n)) {
				t.Fatalf("response of %d octets: %d back, %v", n, len(out), err)
			}
		}
	}
	t.Run("pipe", func(t *testing.T) {
		run(t, boundClientWith(t, s, ClientConfig{MaxXmitFrag: 2000, MaxRecvFrag: 2000}))
	})
	t.Run("tcp", func(t *testing.T) {
		s2 := newTestServer(t)
		s2.Limits.MaxRecvFrag, s2.Limits.MaxXmitFrag = 2048, 2048
		nc, err := net.Dial("tcp", tcpServer(t, s2))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		cl := NewClient(nc, ClientConfig{})
		if err := cl.Bind(testCtx(t), testSyntax); err != nil {
			t.Fatal(err)
		}
		if n := cl.Negotiated(); n.MaxXmitFrag != 2048 || n.MaxRecvFrag != 2048 {
			t.Fatalf("negotiated %+v", n)
		}
		run(t, cl)
	})
}

// TestResponseFragmentsOnWire checks flags and alloc_hint of each response
// fragment.
func TestResponseFragmentsOnWire(t *testing.T) {
	s := newTestServer(t)
	c := pipeConn(t, s)
	b := bindPDU(1, ctxElem(0, testSyntax, NDR20))
	b.MaxRecvFrag = MinFragSize
	if _, err := rawExchange(t, c, mustMarshal(t, b)); err != nil {
		t.Fatal(err)
	}
	const total = 3000
	per := MinFragSize - 24
	if _, err := c.Write(mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 2}, Opnum: 1, Stub: le32(total)})); err != nil {
		t.Fatal(err)
	}
	for off, i := 0, 0; off < total; i++ {
		p, err := readPDU(c)
		if err != nil {
			t.Fatal(err)
		}
		r := p.(*Response)
		n := min(per, total-off)
		var want Flags
		if off == 0 {
			want |= FlagFirstFrag
		}
		if off+n == total {
			want |= FlagLastFrag
		}
		if r.Flags != want || r.AllocHint != uint32(total-off) || len(r.Stub) != n || r.CallID != 2 {
			t.Fatalf("fragment %d: flags %#x alloc_hint %d stub %d", i, r.Flags, r.AllocHint, len(r.Stub))
		}
		off += n
	}
}

// TestRequestFragmentChecks: fragments of one call must agree.
func TestRequestFragmentChecks(t *testing.T) {
	s := newTestServer(t)
	for _, tt := range []struct {
		name   string
		second *Request
	}{
		{"other call_id", &Request{Header: Header{Flags: FlagLastFrag, CallID: 3}}},
		{"other opnum", &Request{Header: Header{Flags: FlagLastFrag, CallID: 2}, Opnum: 1}},
		{"interleaved first", &Request{Header: Header{Flags: FlagFirstFrag, CallID: 3}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeConn(t, s)
			rawExchange(t, c, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20))))
			c.Write(mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag, CallID: 2}, Stub: []byte("a")}))
			p, err := rawExchange(t, c, mustMarshal(t, tt.second))
			if f, ok := p.(*FaultPDU); err != nil || !ok || f.Status != StatusProtoError {
				t.Fatalf("%T %+v %v", p, p, err)
			}
			if _, err := readPDU(c); err == nil {
				t.Fatal("connection still open after a protocol error")
			}
		})
	}
	// An orphaned PDU drops the partial call and the association goes on.
	c := pipeConn(t, s)
	rawExchange(t, c, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20))))
	c.Write(mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag, CallID: 2}, Stub: []byte("a")}))
	c.Write(mustMarshal(t, &Orphaned{Header: Header{Flags: 3, CallID: 2}}))
	p, err := rawExchange(t, c, mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 3}, Stub: []byte("b")}))
	if r, ok := p.(*Response); err != nil || !ok || string(r.Stub) != "b" {
		t.Fatalf("after orphaned: %T %+v %v", p, p, err)
	}
}

// TestCallInfo: the handler sees caller, address, syntax and object.
func TestCallInfo(t *testing.T) {
	var got Call
	s := &Server{}
	s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, call *Call) ([]byte, error) {
		got = *call
		got.Stub = nil
		return nil, nil
	})})
	caller := session.Caller{User: "bob", Domain: "WG", Groups: []string{"Users"}}
	a, b := net.Pipe()
	go s.ServeConn(context.Background(), a, ConnConfig{Caller: caller, RemoteAddr: "192.0.2.1:445"})
	defer b.Close()
	cl := NewClient(b, ClientConfig{})
	ctx := testCtx(t)
	if err := cl.Bind(ctx, testSyntax); err != nil {
		t.Fatal(err)
	}
	obj := MustParseUUID("00112233-4455-6677-8899-aabbccddeeff")
	if _, err := cl.CallWith(ctx, 3, nil, CallOptions{Object: obj}); err != nil {
		t.Fatal(err)
	}
	want := Call{Opnum: 3, CallID: 2, Object: obj, HasObject: true, Syntax: testSyntax,
		AssocGroupID: cl.Negotiated().AssocGroupID, Caller: caller, RemoteAddr: "192.0.2.1:445", AuthLevel: AuthLevelNone}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("call (-want +got):\n%s", d)
	}
}
