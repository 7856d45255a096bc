package dcerpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type outcome int

const (
	closes      outcome = iota // no answer, connection closed
	faultCloses                // a fault PDU, then the connection is closed
	faultStays                 // a fault PDU, the association goes on
	nakCloses                  // a bind_nak, then closed
)

func setU16(b []byte, off int, v uint16) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint16(b[off:], v)
	return b
}

// TestMalformedInputs sends bad input on fresh connections and checks each
// is answered by a fault, a bind_nak or a clean close, while a healthy
// client keeps getting served on other connections.
func TestMalformedInputs(t *testing.T) {
	fast := newTestServer(t)
	fast.Limits.MaxReassembledSize = 64 << 10
	fast.Timeouts.Idle, fast.Timeouts.Read, fast.Timeouts.Handshake = 10*time.Second, 10*time.Second, 10*time.Second
	slow := newTestServer(t)
	slow.Timeouts.Idle, slow.Timeouts.Read, slow.Timeouts.Handshake = 300*time.Millisecond, 300*time.Millisecond, 600*time.Millisecond
	fastAddr, slowAddr := tcpServer(t, fast), tcpServer(t, slow)

	bind := mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))
	smallBind := func() []byte {
		b := bindPDU(1, ctxElem(0, testSyntax, NDR20))
		b.MaxXmitFrag, b.MaxRecvFrag = MinFragSize, MinFragSize
		return mustMarshal(t, b)
	}()
	req := func(callID uint32, flags Flags, stub []byte) []byte {
		return mustMarshal(t, &Request{Header: Header{Flags: flags, CallID: callID}, Stub: stub})
	}
	withAuth := func(p PDU) []byte { return mustMarshal(t, p) }
	av := &AuthVerifier{Type: AuthTypeNTLM, Level: AuthLevelIntegrity, Value: pattern(16)}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0x17
	overCap := func() []byte {
		var b []byte
		for i := range 20 { // 20 × 4000 octets > 64 KiB
			var f Flags
			if i == 0 {
				f = FlagFirstFrag
			}
			b = append(b, req(2, f, pattern(4000))...)
		}
		return b
	}()
	hdr := func(ptype PType, fragLen uint16) []byte {
		b := mustMarshal(t, &Shutdown{Header: Header{Flags: 3, CallID: 1}})
		b[2] = byte(ptype)
		return setU16(b, 8, fragLen)
	}

	tests := []struct {
		name    string
		slow    bool
		pre     []byte // sent first; its answer is read and ignored
		send    []byte
		stall   bool // keep the connection open without sending more
		want    outcome
		status  uint32
		nakWhy  BindNakReason
		halfEnd bool // close the write side after sending
	}{
		{name: "truncated header then EOF", send: bind[:10], halfEnd: true, want: closes},
		{name: "truncated body then EOF", send: bind[:40], halfEnd: true, want: closes},
		{name: "frag_length 0", send: setU16(bind, 8, 0), want: closes},
		{name: "frag_length 15", send: setU16(bind, 8, 15), want: closes},
		{name: "frag_length header only bind", send: hdr(PTypeBind, 16), want: nakCloses, nakWhy: NakReasonNotSpecified},
		{name: "frag_length larger than sent", slow: true, send: setU16(bind, 8, 200), want: closes},
		{name: "frag_length over MaxRecvFrag", send: hdr(PTypeBind, 60000), want: faultCloses, status: StatusProtoError},
		{name: "frag_length 65535", send: hdr(PTypeRequest, 65535), want: faultCloses, status: StatusProtoError},
		{name: "fragment over negotiated max_recv_frag", pre: smallBind, send: req(2, 3, pattern(2000)), want: faultCloses, status: StatusProtoError},
		{name: "reassembled size over cap", pre: bind, send: overCap, want: faultCloses, status: StatusAccessDenied},
		{name: "version 4 bind", send: func() []byte { b := bytes.Clone(bind); b[0] = 4; return b }(), want: nakCloses, nakWhy: NakReasonProtocolVersionNotSupport},
		{name: "minor version 2 bind", send: func() []byte { b := bytes.Clone(bind); b[1] = 2; return b }(), want: nakCloses, nakWhy: NakReasonProtocolVersionNotSupport},
		{name: "version 6 request after bind", pre: bind, send: func() []byte { b := req(2, 3, nil); b[0] = 6; return b }(), want: closes},
		{name: "big-endian data representation", send: func() []byte { b := bytes.Clone(bind); b[4] = 0; return b }(), want: closes},
		{name: "unknown PDU type", pre: bind, send: hdr(42, 16), want: faultCloses, status: StatusProtoError},
		{name: "request before bind", send: req(1, 3, []byte("x")), want: faultCloses, status: StatusProtoError},
		{name: "alter_context before bind", send: mustMarshal(t, &Bind{Header: Header{Type: PTypeAlterContext, Flags: 3}, Contexts: []ContextElem{ctxElem(0, testSyntax, NDR20)}}), want: faultCloses, status: StatusProtoError},
		{name: "unknown context id", pre: bind, send: mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 2}, ContextID: 77}), want: faultStays, status: StatusUnknownInterface},
		{name: "auth_length over frag_length", send: setU16(bind, 10, 500), want: closes},
		{name: "auth_pad_length over body", send: func() []byte {
			b := withAuth(&Bind{Header: Header{Flags: 3}, MaxXmitFrag: 4280, MaxRecvFrag: 4280, Contexts: []ContextElem{ctxElem(0, testSyntax, NDR20)}, Auth: av})
			b[len(b)-16-8+2] = 250
			return b
		}(), want: nakCloses, nakWhy: NakReasonNotSpecified},
		{name: "context count lies", send: func() []byte { b := bytes.Clone(bind); b[24] = 99; return b }(), want: nakCloses, nakWhy: NakReasonNotSpecified},
		{name: "unknown auth type in bind", send: withAuth(&Bind{Header: Header{Flags: 3}, MaxXmitFrag: 4280, MaxRecvFrag: 4280, Contexts: []ContextElem{ctxElem(0, testSyntax, NDR20)}, Auth: av}), want: nakCloses, nakWhy: NakReasonAuthTypeNotRecognized},
		{name: "verifier on unauthenticated association", pre: bind, send: withAuth(&Request{Header: Header{Flags: 3, CallID: 2}, Auth: av}), want: faultCloses, status: StatusProtoError},
		{name: "auth3 without security context", pre: bind, send: withAuth(&Auth3{Header: Header{Flags: 3, CallID: 2}, Auth: av}), want: faultCloses, status: StatusProtoError},
		{name: "middle fragment without first", pre: bind, send: req(2, 0, []byte("x")), want: faultCloses, status: StatusProtoError},
		{name: "bind_ack sent to the server", pre: bind, send: readHex(t, "samba-bind-ack.hex"), want: faultCloses, status: StatusProtoError},
		{name: "response sent to the server", pre: bind, send: readHex(t, "samba-response-opnum13.hex"), want: faultCloses, status: StatusProtoError},
		{name: "second bind", pre: bind, send: bind, want: nakCloses, nakWhy: NakReasonNotSpecified},
		{name: "shutdown sent to the server", pre: bind, send: hdr(PTypeShutdown, 16), want: faultCloses, status: StatusProtoError},
		{name: "alloc_hint over cap", pre: bind, send: mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag, CallID: 2}, AllocHint: 1 << 30, Stub: []byte("x")}), want: faultCloses, status: StatusAccessDenied},
		{name: "random bytes", send: random, want: closes},
		{name: "zero bytes", send: make([]byte, 64), want: closes},
		{name: "slowloris half header", slow: true, send: bind[:8], stall: true, want: closes},
		{name: "slowloris nothing at all", slow: true, stall: true, want: closes},
		{name: "idle after bind", slow: true, pre: bind, stall: true, want: closes},
	}

	// A healthy client keeps dialing and calling on both servers while the
	// table runs.
	stop := make(chan struct{})
	var healthy, sick atomic.Int64
	var hwg sync.WaitGroup
	for _, addr := range []string{fastAddr, slowAddr} {
		hwg.Add(1)
		go func() {
			defer hwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := healthyCall(addr); err != nil {
					sick.Add(1)
					t.Errorf("healthy client on %s: %v", addr, err)
					return
				}
				healthy.Add(1)
			}
		}()
	}

	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				addr := fastAddr
				if tt.slow {
					addr = slowAddr
				}
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(5 * time.Second))
				if tt.pre != nil {
					nc.Write(tt.pre)
					if _, err := readPDU(nc); err != nil {
						t.Fatalf("answer to the preamble: %v", err)
					}
				}
				start := time.Now()
				if len(tt.send) > 0 {
					go nc.Write(tt.send) // may block on a server that stopped reading
				}
				if tt.halfEnd {
					time.Sleep(20 * time.Millisecond)
					nc.(*net.TCPConn).CloseWrite()
				}
				checkOutcome(t, nc, tt.want, tt.status, tt.nakWhy)
				if !tt.stall && !tt.slow && time.Since(start) > 3*time.Second {
					t.Errorf("took %v: closed by a timeout, not by the protocol", time.Since(start))
				}
			})
		}
	})
	close(stop)
	hwg.Wait()
	if healthy.Load() == 0 || sick.Load() != 0 {
		t.Fatalf("healthy calls %d, failures %d", healthy.Load(), sick.Load())
	}
	// And after.
	for _, addr := range []string{fastAddr, slowAddr} {
		if err := healthyCall(addr); err != nil {
			t.Fatal(err)
		}
	}
}

func checkOutcome(t *testing.T, nc net.Conn, want outcome, status uint32, why BindNakReason) {
	t.Helper()
	p, err := readPDU(nc)
	switch want {
	case closes:
		if err == nil {
			t.Fatalf("got %T %+v, want a close", p, p)
		}
		if errors.Is(err, ErrMalformed) {
			t.Fatalf("garbage instead of a close: %v", err)
		}
		return
	case faultCloses, faultStays:
		f, ok := p.(*FaultPDU)
		if err != nil || !ok || f.Status != status {
			t.Fatalf("got %T %+v (%v), want fault 0x%08x", p, p, err, status)
		}
	case nakCloses:
		n, ok := p.(*BindNak)
		if err != nil || !ok || n.Reason != why {
			t.Fatalf("got %T %+v (%v), want bind_nak %d", p, p, err, why)
		}
	}
	if want == faultStays {
		nc.Write(mustMarshal(t, &Request{Header: Header{Flags: 3, CallID: 9}, Stub: []byte("ok")}))
		p, err := readPDU(nc)
		if r, ok := p.(*Response); err != nil || !ok || string(r.Stub) != "ok" {
			t.Fatalf("association did not survive: %T %v", p, err)
		}
		return
	}
	if p, err := readPDU(nc); err == nil {
		t.Fatalf("connection still open: read %T", p)
	}
}

func healthyCall(addr string) error { return healthyCallFrom(addr, nil) }

// healthyCallFrom binds and makes one echo call from local (nil: any).
func healthyCallFrom(addr string, local net.Addr) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := net.Dialer{LocalAddr: local}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	cl := NewClient(nc, ClientConfig{})
	if err := cl.Bind(ctx, testSyntax); err != nil {
		return err
	}
	out, err := cl.Call(ctx, 0, []byte("ping"))
	if err != nil {
		return err
	}
	if string(out) != "ping" {
		return errors.New("wrong echo")
	}
	return nil
}
