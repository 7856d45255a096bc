package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/msgstream"
	"github.com/netsession/netsession/session"
)

// msgPipe is the client's side of a MessageConn, as a byte stream: a
// Write feeds the association (each Write one transport message, as a
// pipe WRITE is), a Read returns the answers Next hands out, in order, and
// io.EOF when none is waiting.
type msgPipe struct {
	*msgstream.Stream
	m *MessageConn
}

func newMsgPipe(t testing.TB, s *Server, ctx context.Context) *msgPipe {
	return newMsgPipeWith(t, s, ctx, ConnConfig{})
}

// newMsgPipeWith is newMsgPipe with the association configured by cfg.
func newMsgPipeWith(t testing.TB, s *Server, ctx context.Context, cfg ConnConfig) *msgPipe {
	t.Helper()
	if cfg.RemoteAddr == "" {
		cfg.RemoteAddr = "127.0.0.1:445"
	}
	m, err := s.NewMessageConn(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	next := func(buf []byte) (int, error) {
		msg, _, err := m.Next(len(buf))
		if msg == nil && err == nil {
			err = io.EOF
		}
		return copy(buf, msg), err
	}
	return &msgPipe{m: m, Stream: &msgstream.Stream{Send: m.Write, Recv: next}}
}

// answers takes the waiting answer PDUs.
func (p *msgPipe) answers(t testing.TB) []PDU {
	t.Helper()
	var out []PDU
	for {
		b, more, _ := p.m.Next(1 << 20)
		if b == nil {
			return out
		}
		if more {
			t.Fatal("an answer longer than 1 MiB")
		}
		pdu, err := DecodePDU(b)
		if err != nil {
			t.Fatalf("answer: %v", err)
		}
		out = append(out, pdu)
	}
}

// ended reports whether the association has ended: Next says io.EOF once
// the answers are taken, and Write refuses.
func (p *msgPipe) ended(t testing.TB) bool {
	t.Helper()
	p.answers(t)
	_, _, err := p.m.Next(1)
	return errors.Is(err, io.EOF)
}

// TestMessageConnCalls runs the client through a message association:
// answers are ready when Write returns, in one fragment when the client
// can take it, fragmented both ways when it cannot.
func TestMessageConnCalls(t *testing.T) {
	s := newTestServer(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name       string
		cfg        ClientConfig
		wantRecv   uint16 // the server's max_xmit_frag the bind settles on
		wantFrags  int    // response fragments of the 20,000-octet answer
		requestLen int
	}{
		{name: "large fragments", wantRecv: MaxFragSize, wantFrags: 1, requestLen: 100},
		{name: "windows sizes", cfg: ClientConfig{MaxXmitFrag: 4280, MaxRecvFrag: 4280}, wantRecv: 4280, wantFrags: 5, requestLen: 9000},
		{name: "minimum", cfg: ClientConfig{MaxXmitFrag: MinFragSize, MaxRecvFrag: MinFragSize}, wantRecv: MinFragSize &^ 7, wantFrags: 15, requestLen: 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newMsgPipe(t, s, context.Background())
			cl := NewClient(p, tc.cfg)
			if err := cl.Bind(ctx, testSyntax); err != nil {
				t.Fatal(err)
			}
			if got := cl.Negotiated().MaxRecvFrag; got != tc.wantRecv {
				t.Fatalf("server max_xmit_frag %d, want %d", got, tc.wantRecv)
			}
			// Count the answer's fragments by calling through the raw pipe.
			req := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: 77}, Opnum: 1, Stub: le32(20_000)})
			if _, err := p.Write(req); err != nil {
				t.Fatal(err)
			}
			var got []byte
			answers := p.answers(t)
			for _, a := range answers {
				r, ok := a.(*Response)
				if !ok {
					t.Fatalf("answer %T", a)
				}
				got = append(got, r.Stub...)
			}
			if len(answers) != tc.wantFrags || !bytes.Equal(got, pattern(20_000)) {
				t.Fatalf("%d fragments carrying %d octets, want %d carrying the pattern", len(answers), len(got), tc.wantFrags)
			}
			// A request the client fragments, echoed back.
			in := pattern(tc.requestLen)
			out, err := cl.Call(ctx, 0, in)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("echo of %d octets: %d octets, %v", len(in), len(out), err)
			}
			var fe *Fault
			if _, err := cl.Call(ctx, 3, nil); !errors.As(err, &fe) || fe.Status != 5 {
				t.Fatalf("fault call: %v", err)
			}
			if out, err := cl.Call(ctx, 0, []byte("still")); err != nil || string(out) != "still" {
				t.Fatalf("after the fault: %q %v", out, err)
			}
		})
	}
}

// TestMessageConnSplitAndBatched: a PDU split across writes is answered
// once its last octet arrives; PDUs batched in one write are each
// answered, in order.
func TestMessageConnSplitAndBatched(t *testing.T) {
	s := newTestServer(t)
	p := newMsgPipe(t, s, context.Background())
	bind := mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))
	for i := range bind {
		if _, err := p.Write(bind[i : i+1]); err != nil {
			t.Fatalf("octet %d: %v", i, err)
		}
		if got := p.answers(t); (i < len(bind)-1 && len(got) != 0) || (i == len(bind)-1 && len(got) != 1) {
			t.Fatalf("after octet %d of %d: %d answers", i+1, len(bind), len(got))
		}
	}
	var batch []byte
	for id := uint32(2); id <= 4; id++ {
		batch = append(batch, mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: id}, Stub: []byte{byte(id)}})...)
	}
	// The batch and half of a fourth request in one write, the rest later.
	tail := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: 5}, Stub: []byte{5}})
	if _, err := p.Write(append(batch, tail[:20]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(tail[20:]); err != nil {
		t.Fatal(err)
	}
	answers := p.answers(t)
	if len(answers) != 4 {
		t.Fatalf("%d answers, want 4", len(answers))
	}
	for i, a := range answers {
		r, ok := a.(*Response)
		if want := uint32(i + 2); !ok || r.CallID != want || !bytes.Equal(r.Stub, []byte{byte(want)}) {
			t.Fatalf("answer %d: %#v, want the echo of call %d", i, a, want)
		}
	}
}

// TestMessageConnErrors: a fragment over the limit or a PDU that cannot
// be read gets its answer (still taken with Next), ends the association
// and refuses later writes.
func TestMessageConnErrors(t *testing.T) {
	s := newTestServer(t)
	bound := func(t *testing.T) *msgPipe {
		p := newMsgPipe(t, s, context.Background())
		if _, err := p.Write(mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
			t.Fatal(err)
		}
		if a := p.answers(t); len(a) != 1 {
			t.Fatalf("bind: %d answers", len(a))
		}
		return p
	}
	tests := []struct {
		name      string
		in        func(t *testing.T) []byte
		is        error
		wantFault uint32
		wantNak   bool
	}{
		{name: "fragment over max_recv_frag", is: ErrTooLarge, wantFault: StatusProtoError, in: func(t *testing.T) []byte {
			b := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: 9}, Stub: []byte{1}})
			b[8], b[9] = 0xff, 0xff // frag_length 65535: over the 4280 the bind settled on
			return b
		}},
		{name: "second bind", is: ErrProtocol, wantNak: true, in: func(t *testing.T) []byte {
			return mustMarshal(t, bindPDU(2, ctxElem(0, testSyntax, NDR20)))
		}},
		{name: "bad version", is: ErrMalformed, in: func(t *testing.T) []byte {
			b := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: 9}, Stub: []byte{1}})
			b[0] = 4
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bound(t)
			if _, err := p.Write(tt.in(t)); !errors.Is(err, tt.is) {
				t.Fatalf("write: %v, want %v", err, tt.is)
			}
			a := p.answers(t)
			switch {
			case tt.wantFault != 0:
				if f, ok := firstOf[*FaultPDU](a); !ok || f.Status != tt.wantFault {
					t.Fatalf("answers %#v, want a fault 0x%08x", a, tt.wantFault)
				}
			case tt.wantNak:
				if _, ok := firstOf[*BindNak](a); !ok {
					t.Fatalf("answers %#v, want a bind_nak", a)
				}
			}
			if !p.ended(t) {
				t.Fatal("the association goes on after the error")
			}
			if err := p.m.Write([]byte{5}); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after the end: %v", err)
			}
			p.m.Close()
			if !p.ended(t) {
				t.Fatal("not ended after Close")
			}
		})
	}
}

func firstOf[T PDU](ps []PDU) (T, bool) {
	for _, p := range ps {
		if v, ok := p.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// TestMessageConnLifecycle: cancelling the context ends an association;
// Shutdown ends idle ones and returns, after which none can start.
func TestMessageConnLifecycle(t *testing.T) {
	s := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	p1 := newMsgPipe(t, s, ctx)
	cancel()
	waitFor(t, func() bool { return p1.ended(t) })

	p2 := newMsgPipe(t, s, context.Background())
	if _, err := p2.Write(mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown with an idle message association: %v", err)
	}
	if !p2.ended(t) {
		t.Fatal("Shutdown left the association open")
	}
	if _, err := s.NewMessageConn(context.Background(), ConnConfig{}); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("NewMessageConn after Shutdown: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMessageConnOpenRacesClose opens associations while the server closes
// them from another goroutine, and with a context that is already done:
// the server may end an association before NewMessageConn returns, and
// that must neither crash nor race nor lose the Done Shutdown waits for.
func TestMessageConnOpenRacesClose(t *testing.T) {
	for i := 0; i < 200; i++ {
		s := &Server{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for j := 0; j < 20; j++ {
				s.closeIdle()
			}
		}()
		ctx := context.Background()
		if i%2 == 1 {
			c, cancel := context.WithCancel(ctx)
			cancel()
			ctx = c
		}
		m, err := s.NewMessageConn(ctx, ConnConfig{})
		<-done
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(sctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		cancel()
		if _, _, err := m.Next(1); !errors.Is(err, io.EOF) {
			t.Fatalf("Next after the end: %v, want io.EOF", err)
		}
	}
}

// TestMessageConnCloseWaitsForWrite closes an association while a Write
// runs a handler: the association stays counted until the Write returns,
// so Shutdown does not report an orderly end with a handler still running.
func TestMessageConnCloseWaitsForWrite(t *testing.T) {
	s := &Server{}
	entered, release := make(chan struct{}), make(chan struct{})
	if err := s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, call *Call) ([]byte, error) {
		close(entered)
		<-release
		return nil, nil
	})}); err != nil {
		t.Fatal(err)
	}
	p := newMsgPipe(t, s, context.Background())
	if _, err := p.Write(mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
		t.Fatal(err)
	}
	p.answers(t)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		p.Write(mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: 2}}))
	}()
	<-entered
	p.m.Close()
	if _, _, err := p.m.Next(1); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after Close: %v, want io.EOF", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := s.Shutdown(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a handler running: %v, want %v", err, context.DeadlineExceeded)
	}
	close(release)
	<-wrote
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown once the Write returned: %v", err)
	}
}

// TestMessageConnMaxPending: once the answers not taken reach the bound,
// complete PDUs stay buffered unanswered (an answer already begun is
// finished), Write(nil) answers none of them, and Next takes them up
// again in order as it makes room.
func TestMessageConnMaxPending(t *testing.T) {
	s := newTestServer(t)
	p := newMsgPipeWith(t, s, context.Background(), ConnConfig{MaxPending: 1})
	m := p.m
	if err := m.Write(mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
		t.Fatal(err)
	}
	if len(p.answers(t)) != 1 {
		t.Fatal("no bind answer")
	}
	var batch []byte
	for id := uint32(2); id <= 4; id++ {
		batch = append(batch, mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: id}, Opnum: 1, Stub: le32(10_000)})...)
	}
	if err := m.Write(batch); err != nil {
		t.Fatal(err)
	}
	// Call 2's answer (three 4280-octet fragments) is finished although
	// the bound was reached with its first fragment; calls 3 and 4 wait.
	in, out, busy := m.Pending()
	if in != 2*len(batch)/3 || out == 0 || busy != nil {
		t.Fatalf("Pending = %d, %d, %v; want the two other calls (%d octets) held and answers waiting", in, out, busy, 2*len(batch)/3)
	}
	if err := m.Write(nil); err != nil {
		t.Fatal(err)
	}
	if in2, out2, _ := m.Pending(); in2 != in || out2 != out {
		t.Fatalf("Write(nil) at the bound answered: Pending %d, %d", in2, out2)
	}
	// Each fragment taken is the only answer waiting, in order: the next
	// call is answered only once the previous one is all taken.
	var ids []uint32
	frags := 0
	for {
		b, _, err := m.Next(1 << 20)
		if b == nil {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		frags++
		pdu, err := DecodePDU(b)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := pdu.(*Response)
		if !ok {
			t.Fatalf("answer %T", pdu)
		}
		if len(ids) == 0 || ids[len(ids)-1] != r.CallID {
			ids = append(ids, r.CallID)
		}
		if _, now, _ := m.Pending(); now > out {
			t.Fatalf("%d octets of answers waiting, more than one call's (%d)", now, out)
		}
	}
	if in, out, _ := m.Pending(); !slices.Equal(ids, []uint32{2, 3, 4}) || frags != 9 || in != 0 || out != 0 {
		t.Fatalf("answers to calls %v in %d fragments, %d/%d octets left; want calls 2, 3, 4 in 9 and nothing left", ids, frags, in, out)
	}
}

// TestMessageConnReassemblyDeadline: a message association has no read
// deadline, so a request left unfinished (its first fragment only) is
// ended by the reassembly deadline itself, with no further write: the
// association ends and the memory and budget it held are given back.
// Pending counts the request being reassembled as input held.
func TestMessageConnReassemblyDeadline(t *testing.T) {
	s := newTestServer(t)
	s.Timeouts.Reassembly = 200 * time.Millisecond
	p := newMsgPipeWith(t, s, context.Background(), ConnConfig{Caller: session.Caller{User: "smbuser"}})
	if p, err := rawBind(t, p); err != nil {
		t.Fatal(p, err)
	}
	first := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag, CallID: 2}, AllocHint: 64 << 10, Stub: pattern(4000)})
	if err := p.m.Write(first); err != nil {
		t.Fatal(err)
	}
	if in, _, _ := p.m.Pending(); in < 4000 {
		t.Errorf("Pending reports %d octets of input held, want the request's (at least 4000)", in)
	}
	if b := s.BufferedRequestBytes(); b == 0 {
		t.Fatal("the unfinished request holds none of the budget")
	}
	waitFor(t, func() bool { return s.BufferedRequestBytes() == 0 })
	if !p.ended(t) {
		t.Error("the association outlived its request's reassembly deadline")
	}
	if in, _, _ := p.m.Pending(); in != 0 {
		t.Errorf("Pending reports %d octets held after the end", in)
	}
}

// rawBind binds the test syntax on a message pipe and takes the bind_ack.
func rawBind(t *testing.T, p *msgPipe) (PDU, error) {
	t.Helper()
	if err := p.m.Write(mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
		return nil, err
	}
	a := p.answers(t)
	if len(a) != 1 {
		return nil, fmt.Errorf("%d answers to a bind", len(a))
	}
	if _, ok := a[0].(*BindAck); !ok {
		return a[0], fmt.Errorf("bind answered %T", a[0])
	}
	return a[0], nil
}

// Answers given back with Recycle hold later answers: calls of changing
// sizes, each answer recycled as soon as it is read, the recycled bytes
// scribbled over by the test, still get exactly their own answers.
func TestMessageConnRecycle(t *testing.T) {
	s := newTestServer(t)
	ctx := testCtx(t)
	p := newMsgPipe(t, s, context.Background())
	cl := NewClient(p, ClientConfig{MaxXmitFrag: 4280, MaxRecvFrag: 4280})
	if err := cl.Bind(ctx, testSyntax); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{20_000, 100, 9_000, 20_000, 3, 4_000} {
		req := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: uint32(100 + i)}, Opnum: 1, Stub: le32(n)})
		if _, err := p.Write(req); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for {
			b, more, _ := p.m.Next(1 << 20)
			if b == nil {
				break
			}
			if more {
				t.Fatal("an answer longer than 1 MiB")
			}
			pdu, err := DecodePDU(b)
			if err != nil {
				t.Fatalf("answer: %v", err)
			}
			r, ok := pdu.(*Response)
			if !ok || r.CallID != uint32(100+i) {
				t.Fatalf("answer %T for call %d", pdu, 100+i)
			}
			got = append(got, r.Stub...)
			// What a caller might leave in memory it gave back.
			for j := range b {
				b[j] = 0xEE
			}
			p.m.Recycle(b)
		}
		if !bytes.Equal(got, pattern(n)) {
			t.Fatalf("call %d: %d octets, want the %d-octet pattern", i, len(got), n)
		}
	}
}

// releasingHandler echoes, and records the stubs the server gives back.
type releasingHandler struct {
	mu       sync.Mutex
	served   [][]byte
	released [][]byte
}

func (h *releasingHandler) ServeRPC(_ context.Context, call *Call) ([]byte, error) {
	out := append([]byte(nil), call.Stub...)
	h.mu.Lock()
	h.served = append(h.served, out)
	h.mu.Unlock()
	return out, nil
}

func (h *releasingHandler) ReleaseStub(stub []byte) {
	h.mu.Lock()
	h.released = append(h.released, stub)
	h.mu.Unlock()
}

// A Handler that is a StubReleaser gets each answer's stub back once it
// is written, over a stream and over a message association, fragmented
// or not.
func TestStubReleaser(t *testing.T) {
	h := &releasingHandler{}
	s := &Server{}
	if err := s.Register(Interface{Syntax: testSyntax, Handler: h}); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	stream := NewClient(pipeConn(t, s), ClientConfig{MaxXmitFrag: 4280, MaxRecvFrag: 4280})
	msg := NewClient(newMsgPipe(t, s, context.Background()), ClientConfig{MaxXmitFrag: 4280, MaxRecvFrag: 4280})
	for _, cl := range []*Client{stream, msg} {
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{10, 9000} {
			in := pattern(n)
			out, err := cl.Call(ctx, 0, in)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("echo of %d octets: %d octets, %v", n, len(out), err)
			}
		}
	}
	// Over a stream the client may read the answer before the server is
	// done writing it.
	waitFor(t, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.released) == 4 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.released) != len(h.served) || len(h.served) != 4 {
		t.Fatalf("%d stubs served, %d given back", len(h.served), len(h.released))
	}
	// The stream's last one may come back after the message calls.
	for i, out := range h.served {
		if !slices.ContainsFunc(h.released, func(r []byte) bool { return &r[0] == &out[0] }) {
			t.Errorf("stub %d served was not given back", i)
		}
	}
}
