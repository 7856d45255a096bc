package promtext

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.NewGauge("up", "Up.").Set(1)
	var logged bytes.Buffer
	h := Handler(r, slog.New(slog.NewTextHandler(&logged, nil)))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != ContentType || w.Body.String() != "# HELP up Up.\n# TYPE up gauge\nup 1\n" {
		t.Errorf("GET: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("HEAD", "/metrics", nil))
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "35" {
		t.Errorf("HEAD: %d %q %v", w.Code, w.Body, w.Header())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/metrics", strings.NewReader("x")))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}

	r.Collect(func() []Family { return []Family{{Name: "bad name", Type: TypeGauge, Metrics: []Metric{{}}}} })
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "up 1") || !strings.Contains(logged.String(), "bad name") {
		t.Errorf("invalid families: %d %q, log %q", w.Code, w.Body, logged.String())
	}
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server closed c without answering.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// scrape sends one GET on c and returns the status.
func scrape(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(c, line); err != nil {
		t.Fatal(err)
	}
	return string(line)
}

// The Server caps the connections of one address and in all: an address
// that holds its share is refused more, another address is still served
// until the total is reached; cancelling the context stops it.
func TestServerLimits(t *testing.T) {
	r := NewRegistry()
	r.NewGauge("up", "Up.").Set(1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	var logged syncWriter
	s := &Server{Handler: Handler(r, nil), MaxConns: 3, MaxConnsPerAddr: 2, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()

	a1 := dialFrom(t, "127.0.0.1", addr)
	if got := scrape(t, a1); got != "HTTP/1.1 200" {
		t.Fatalf("first scrape: %q", got)
	}
	a2 := dialFrom(t, "127.0.0.1", addr)
	if got := scrape(t, a2); got != "HTTP/1.1 200" {
		t.Fatalf("second scrape: %q", got)
	}
	if a3 := dialFrom(t, "127.0.0.1", addr); !refused(t, a3) {
		t.Error("a third connection from 127.0.0.1 was kept")
	}
	b1 := dialFrom(t, "127.0.0.2", addr)
	if got := scrape(t, b1); got != "HTTP/1.1 200" {
		t.Errorf("another address: %q", got)
	}
	if c1 := dialFrom(t, "127.0.0.3", addr); !refused(t, c1) {
		t.Error("a connection beyond the total was kept")
	}
	a1.Close()
	// The place a1 held is free again once the server sees it closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialFrom(t, "127.0.0.3", addr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
		if line := make([]byte, 12); func() bool { _, err := io.ReadFull(c, line); return err == nil }() {
			if string(line) != "HTTP/1.1 200" {
				t.Errorf("after a release: %q", line)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the place of a closed connection was not released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if !strings.Contains(logged.String(), "too many connections from this address") || !strings.Contains(logged.String(), "listener=metrics") {
		t.Errorf("refusals not logged:\n%s", logged.String())
	}
}

// syncWriter is a buffer that log records may be written to from several
// goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
