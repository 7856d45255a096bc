package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/netsession/netsession/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestManyConnections: 300 loopback connections at once, each binding and
// calling (some calls multi-fragment both ways); then Shutdown, and no
// goroutine is left behind.
func TestManyConnections(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := 300
	if testing.Short() {
		n = 50
	}
	s := newTestServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), l) }()

	ctx := testCtx(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := oneClient(ctx, l.Addr().String(), i); err != nil {
				failures.Add(1)
				t.Errorf("client %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d clients failed", failures.Load())
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

func oneClient(ctx context.Context, addr string, i int) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	cl := NewClient(nc, ClientConfig{MaxXmitFrag: MinFragSize, MaxRecvFrag: MinFragSize})
	if err := cl.Bind(ctx, testSyntax); err != nil {
		return err
	}
	for j := range 4 {
		size := (i*131 + j*977) % 5000
		in := pattern(size)
		out, err := cl.Call(ctx, 0, in)
		if err != nil {
			return err
		}
		if !bytes.Equal(in, out) {
			return errors.New("echo mismatch")
		}
	}
	_, err = cl.Call(ctx, 2, nil)
	if !errors.Is(err, ErrBadStub) {
		return err
	}
	return nil
}

// blocking serves opnum 0 by waiting for release (or ctx).
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) ServeRPC(ctx context.Context, call *Call) ([]byte, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return []byte("done"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func blockingServer(t *testing.T) (*Server, *blocking) {
	bl := &blocking{entered: make(chan struct{}, 10), release: make(chan struct{})}
	s := &Server{}
	s.Register(Interface{Syntax: testSyntax, Handler: bl})
	return s, bl
}

// TestShutdownDrains: Shutdown waits for a call in progress, closes idle
// connections at once, and refuses new ones.
func TestShutdownDrains(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, bl := blockingServer(t)
	busy, idle := net.Pipe()
	idleSrv, idleCli := net.Pipe()
	done := make(chan error, 2)
	go func() { done <- s.ServeConn(context.Background(), busy, ConnConfig{}) }()
	go func() { done <- s.ServeConn(context.Background(), idleSrv, ConnConfig{}) }()
	defer idle.Close()
	defer idleCli.Close()
	ctx := testCtx(t)
	cl := NewClient(idle, ClientConfig{})
	cl2 := NewClient(idleCli, ClientConfig{})
	if err := cl.Bind(ctx, testSyntax); err != nil {
		t.Fatal(err)
	}
	if err := cl2.Bind(ctx, testSyntax); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() {
		out, err := cl.Call(ctx, 0, nil)
		if err == nil && string(out) != "done" {
			err = errors.New("wrong answer")
		}
		result <- err
	}()
	<-bl.entered
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	// The idle connection is closed promptly.
	idleCli.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idleCli.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection after Shutdown: %v", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a call in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(bl.release)
	if err := <-result; err != nil {
		t.Fatalf("call in progress: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		<-done
	}
	a, b := net.Pipe()
	defer b.Close()
	if err := s.ServeConn(ctx, a, ConnConfig{}); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeConn after Shutdown: %v", err)
	}
}

// TestShutdownTimeoutThenClose: a stuck handler makes Shutdown give up at
// its deadline; Close then cancels the handler's context.
func TestShutdownTimeoutThenClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, bl := blockingServer(t)
	a, b := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- s.ServeConn(context.Background(), a, ConnConfig{}) }()
	defer b.Close()
	cl := NewClient(b, ClientConfig{})
	ctx := testCtx(t)
	if err := cl.Bind(ctx, testSyntax); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() { _, err := cl.Call(ctx, 0, nil); result <- err }()
	<-bl.entered
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	s.Close()
	if err := <-result; err == nil {
		t.Fatal("call succeeded after Close")
	}
	<-served
}

// TestServeContextCancel: cancelling Serve's context stops it and ends its
// connections.
func TestServeContextCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := newTestServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cl := NewClient(nc, ClientConfig{})
	if err := cl.Bind(testCtx(t), testSyntax); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve: %v", err)
	}
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection after cancel: %v", err)
	}
	s.Shutdown(context.Background())
}

// TestClientCancellation: a deadline or cancellation unblocks a call stuck
// waiting for its response; the client is then unusable.
func TestClientCancellation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, bl := blockingServer(t)
	defer s.Close()

	type closerOnly struct {
		io.ReadWriter
		io.Closer
	}
	for _, tt := range []struct {
		name string
		wrap func(net.Conn) io.ReadWriter
	}{
		{"net.Conn deadline", func(c net.Conn) io.ReadWriter { return c }},
		{"io.Closer", func(c net.Conn) io.ReadWriter { return closerOnly{c, c} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			go s.ServeConn(context.Background(), a, ConnConfig{})
			defer b.Close()
			cl := NewClient(tt.wrap(b), ClientConfig{})
			if err := cl.Bind(testCtx(t), testSyntax); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := cl.Call(ctx, 0, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("stuck call: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
			<-bl.entered
			if _, err := cl.Call(testCtx(t), 0, nil); !errors.Is(err, ErrClientBroken) {
				t.Fatalf("call after interruption: %v", err)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		cl := NewClient(pipeConn(t, newTestServer(t)), ClientConfig{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := cl.Bind(ctx, testSyntax); !errors.Is(err, context.Canceled) {
			t.Fatalf("bind: %v", err)
		}
	})
}

// TestClientResponseCap: a response over ClientConfig.MaxResponseSize is refused.
func TestClientResponseCap(t *testing.T) {
	cl := boundClientWith(t, newTestServer(t), ClientConfig{MaxResponseSize: 10_000})
	ctx := testCtx(t)
	if _, err := cl.Call(ctx, 1, le32(9_000)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Call(ctx, 1, le32(20_000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized response: %v", err)
	}
}

// TestClientCallIDs: call_id increases with every exchange.
func TestClientCallIDs(t *testing.T) {
	var ids []uint32
	var mu sync.Mutex
	s := &Server{}
	s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, c *Call) ([]byte, error) {
		mu.Lock()
		ids = append(ids, c.CallID)
		mu.Unlock()
		return nil, nil
	})})
	cl := boundClient(t, s)
	for range 3 {
		if _, err := cl.Call(testCtx(t), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] != 2 || ids[1] != 3 || ids[2] != 4 {
		t.Fatalf("call ids %v", ids)
	}
}

// TestHandshakeTimeout: a connection that never binds is closed at the
// handshake deadline even though the idle timeout is long.
func TestHandshakeTimeout(t *testing.T) {
	s := newTestServer(t)
	s.Timeouts.Idle, s.Timeouts.Handshake = time.Minute, 200*time.Millisecond
	c := pipeConn(t, s)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// TestShutdownBetweenFragments: a request whose first fragment has
// arrived is finished before Shutdown closes the connection.
func TestShutdownBetweenFragments(t *testing.T) {
	s := newTestServer(t)
	c := pipeConn(t, s)
	if _, err := rawExchange(t, c, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20)))); err != nil {
		t.Fatal(err)
	}
	c.Write(mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag, CallID: 2}, Stub: []byte("he")}))
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(testCtx(t)) }()
	time.Sleep(50 * time.Millisecond)
	p, err := rawExchange(t, c, mustMarshal(t, &Request{Header: Header{Flags: FlagLastFrag, CallID: 2}, Stub: []byte("llo")}))
	if r, ok := p.(*Response); err != nil || !ok || string(r.Stub) != "hello" {
		t.Fatalf("%T %+v %v", p, p, err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if _, err := readPDU(c); err == nil {
		t.Fatal("connection open after Shutdown")
	}
}

// TestLogger: handler failures and panics reach Server.Logger.
func TestLogger(t *testing.T) {
	var buf syncbuf.Buffer
	s := newTestServer(t)
	s.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cl := boundClient(t, s)
	cl.Call(testCtx(t), 4, nil)
	cl.Call(testCtx(t), 5, nil)
	out := buf.String()
	for _, want := range []string{"handler failed", "boom", "handler panic", "connection opened"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
