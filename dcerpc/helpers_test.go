package dcerpc

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// srvsvcSyntax is MS-SRVS srvsvc v3.0, the interface of the captures.
var srvsvcSyntax = SyntaxID{UUID: MustParseUUID("4b324fc8-1670-01d3-1278-5a47bf6ee188"), Major: 3}

// testSyntax is an interface only the tests use.
var testSyntax = SyntaxID{UUID: MustParseUUID("12345678-1234-abcd-ef00-0123456789ab"), Major: 1}

func readHex(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	out, err := hex.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// echoHandler answers opnum 0 with the request stub, opnum 1 with a stub
// of the length the request names (4 bytes LE), opnum 2 with ErrBadStub,
// opnum 3 with a custom fault, opnum 4 with a plain error, opnum 5 panics;
// the interface has 6 opnums.
func echoHandler(ctx context.Context, call *Call) ([]byte, error) {
	switch call.Opnum {
	case 0:
		return bytes.Clone(call.Stub), nil
	case 1:
		if len(call.Stub) != 4 {
			return nil, ErrBadStub
		}
		n := int(call.Stub[0]) | int(call.Stub[1])<<8 | int(call.Stub[2])<<16 | int(call.Stub[3])<<24
		if n > 8<<20 {
			return nil, ErrBadStub // keeps fuzzed requests from asking for gigabytes
		}
		return pattern(n), nil
	case 2:
		return nil, fmt.Errorf("decoding the request: %w", ErrBadStub)
	case 3:
		return nil, &Fault{Status: 0x00000005}
	case 4:
		return nil, errors.New("boom")
	case 5:
		panic("handler bug")
	}
	return nil, ErrOpRange
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func le32(n int) []byte { return []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)} }

func newTestServer(t testing.TB) *Server {
	t.Helper()
	// The echo interface takes large anonymous requests, and the load
	// tests run hundreds of connections from one address.
	s := &Server{SecondaryAddr: `\PIPE\test`, Limits: Limits{MaxUnauthReassembledSize: DefaultMaxReassembledSize, MaxConnsPerAddr: -1}}
	if err := s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(echoHandler), NumOpnums: 6}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(Interface{Syntax: srvsvcSyntax, Handler: HandlerFunc(echoHandler)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// pipeConn serves one end of a net.Pipe and returns the other.
func pipeConn(t testing.TB, s *Server) net.Conn { return pipeConnWith(t, s, ConnConfig{}) }

// pipeConnWith is pipeConn with the connection configured by cfg.
func pipeConnWith(t testing.TB, s *Server, cfg ConnConfig) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.ServeConn(context.Background(), a, cfg)
	}()
	t.Cleanup(func() {
		b.Close()
		wg.Wait()
	})
	return b
}

// tcpServer serves s on a loopback listener and returns its address.
func tcpServer(t testing.TB, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, s, l)
}

// serveOn serves s on l until the test ends and returns l's address.
func serveOn(t testing.TB, s *Server, l net.Listener) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			s.Close()
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return l.Addr().String()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawExchange writes b and reads one PDU back (or an error) within 2 s.
func rawExchange(t testing.TB, c net.Conn, b []byte) (PDU, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	defer c.SetDeadline(time.Time{})
	if len(b) > 0 {
		if _, err := c.Write(b); err != nil {
			return nil, err
		}
	}
	return readPDU(c)
}

func readPDU(c net.Conn) (PDU, error) {
	raw, _, err := readFrame(c, nil, 1<<16-1, nil)
	if err != nil {
		return nil, err
	}
	return DecodePDU(bytes.Clone(raw))
}

func mustMarshal(t testing.TB, p PDU) []byte {
	t.Helper()
	b, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bindPDU(callID uint32, ctxs ...ContextElem) *Bind {
	return &Bind{Header: Header{Flags: FlagFirstFrag | FlagLastFrag, CallID: callID},
		MaxXmitFrag: 4280, MaxRecvFrag: 4280, Contexts: ctxs}
}

func ctxElem(id uint16, abs SyntaxID, ts ...SyntaxID) ContextElem {
	return ContextElem{ContextID: id, AbstractSyntax: abs, TransferSyntaxes: ts}
}
