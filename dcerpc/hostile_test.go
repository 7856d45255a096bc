package dcerpc

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// hostileServer is the test server with the limits an anonymous caller
// meets by default (newTestServer lifts them for the echo tests), and
// timeouts long enough that only the bounds under test end a connection.
func hostileServer(t *testing.T) *Server {
	s := newTestServer(t)
	s.Limits.MaxUnauthReassembledSize = 0
	s.Timeouts.Idle, s.Timeouts.Read, s.Timeouts.Handshake = time.Minute, time.Minute, time.Minute
	return s
}

// hostileBind opens a connection and binds anonymously.
func hostileBind(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	p, err := rawExchange(t, nc, mustMarshal(t, bindPDU(1, ctxElem(0, testSyntax, NDR20))))
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	if _, ok := p.(*BindAck); !ok {
		t.Fatalf("bind answered %T", p)
	}
	return nc
}

// fragment is a request fragment of call 2 on context 0, opnum 0.
func fragment(t *testing.T, first bool, stub []byte) []byte {
	var f Flags
	if first {
		f = FlagFirstFrag
	}
	return mustMarshal(t, &Request{Header: Header{Flags: f, CallID: 2}, Stub: stub})
}

// TestHostileFragmentsBounded: 100 anonymous associations each send
// 256 KiB of request fragments without a last one. Each is refused once
// it passes the anonymous reassembly cap, so what the server buffers (by
// its own account and by the heap) stays far below what they sent, and a
// well-behaved client is still served.
func TestHostileFragmentsBounded(t *testing.T) {
	const conns, perConn = 100, 256 << 10
	s := hostileServer(t)
	addr := tcpServer(t, s)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc

	ncs := make([]net.Conn, conns)
	for i := range ncs {
		ncs[i] = hostileBind(t, addr)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var peak int64
	refused := 0
	for _, nc := range ncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			frag := pattern(4000)
			for sent := 0; sent < perConn; sent += len(frag) {
				if _, err := nc.Write(fragment(t, sent == 0, frag)); err != nil {
					break
				}
				mu.Lock()
				peak = max(peak, s.BufferedRequestBytes())
				mu.Unlock()
			}
			// The server answers the first fragment over the cap with a
			// fault and closes.
			if p, err := readPDU(nc); err == nil {
				if f, ok := p.(*FaultPDU); ok && f.Status == StatusAccessDenied {
					mu.Lock()
					refused++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := int64(ms.HeapAlloc) - int64(heap0)
	t.Logf("sent %d KiB on each of %d connections: peak buffered %d KiB, heap grown %d KiB, %d refused",
		perConn>>10, conns, peak>>10, held>>10, refused)
	if limit := int64(conns * (DefaultMaxUnauthReassembledSize + 64<<10)); peak > limit {
		t.Errorf("peak buffered %d octets, want at most %d", peak, limit)
	}
	if held > 8<<20 {
		t.Errorf("heap grew by %d octets while %d connections each sent %d octets of one request", held, conns, perConn)
	}
	if refused != conns {
		t.Errorf("%d of %d connections refused over the anonymous cap", refused, conns)
	}
	if err := healthyCall(addr); err != nil {
		t.Fatalf("a well-behaved client after the flood: %v", err)
	}
	waitFor(t, func() bool { return s.BufferedRequestBytes() == 0 })
}

// TestReassemblyBudget: with a server-wide budget of 40 KiB, eight
// associations each holding 12 KiB of an unfinished request cannot all be
// buffered; those over the budget get nca_s_fault_remote_no_memory and are
// closed, the budget is never exceeded, and it is all given back when the
// connections end.
func TestReassemblyBudget(t *testing.T) {
	s := hostileServer(t)
	s.Limits.MaxBufferedRequests = 40 << 10
	addr := tcpServer(t, s)
	noMemory := 0
	var ncs []net.Conn
	for range 8 {
		nc := hostileBind(t, addr)
		ncs = append(ncs, nc)
		first := mustMarshal(t, &Request{Header: Header{Flags: FlagFirstFrag, CallID: 2}, AllocHint: 12 << 10, Stub: pattern(4000)})
		nc.Write(first)
		nc.Write(fragment(t, false, pattern(4000)))
		nc.Write(fragment(t, false, pattern(4000)))
		// Those within the budget get no answer: the request goes on.
		nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if p, err := readPDU(nc); err == nil {
			if f, ok := p.(*FaultPDU); ok && f.Status == StatusRemoteNoMemory {
				noMemory++
			}
		} else if !isTimeout(err) {
			t.Logf("read: %v", err)
		}
		if b := s.BufferedRequestBytes(); b > s.Limits.MaxBufferedRequests {
			t.Fatalf("buffered %d octets, over the budget of %d", b, s.Limits.MaxBufferedRequests)
		}
	}
	if noMemory != 5 { // 3 × 12 KiB fit in 40 KiB
		t.Errorf("%d associations refused for want of budget, want 5", noMemory)
	}
	for _, nc := range ncs {
		nc.Close()
	}
	waitFor(t, func() bool { return s.BufferedRequestBytes() == 0 })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestReassemblyDeadline: a request whose fragments keep coming (empty
// ones, every 50 ms) but never end is closed at the reassembly deadline,
// although the idle timeout is a minute away.
func TestReassemblyDeadline(t *testing.T) {
	s := hostileServer(t)
	s.Timeouts.Reassembly = 300 * time.Millisecond
	addr := tcpServer(t, s)
	nc := hostileBind(t, addr)
	if _, err := nc.Write(fragment(t, true, pattern(100))); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var b [1]byte
		nc.Read(b[:]) // returns when the server closes (or the test's deadline)
	}()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			if time.Since(start) >= 10*time.Second {
				t.Fatal("a request kept alive by empty fragments was not closed")
			}
			t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
			return
		case <-tick.C:
			nc.Write(fragment(t, false, nil))
		}
	}
}

// TestFloodingAddressLeavesRoom: one address (127.0.0.1) reconnects as
// soon as it is closed, on 16 connections, against a server of 8 places
// with 4 per address; a bystander from 127.0.0.2 binds and calls every
// time.
func TestFloodingAddressLeavesRoom(t *testing.T) {
	s := hostileServer(t)
	s.Limits.MaxConns, s.Limits.MaxConnsPerAddr = 8, 4
	addr := tcpServer(t, s)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				nc, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				var b [1]byte
				nc.Read(b[:]) // held until the server closes it, or briefly
				nc.Close()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, func() bool { total, _ := s.connLimiter().Held(nil); return total >= 4 })
	const calls = 10
	served := 0
	for range calls {
		if err := bystanderCall(addr); err != nil {
			t.Logf("bystander: %v", err)
		} else {
			served++
		}
	}
	if served != calls {
		t.Errorf("bystander served %d of %d calls while one address flooded", served, calls)
	}
}

func bystanderCall(addr string) error {
	return healthyCallFrom(addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)})
}
