package smb2_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// announce sends a frame header announcing n octets, then body.
func (c *rawClient) announce(n int, body []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, body...)); err != nil {
		c.t.Fatal(err)
	}
}

// A frame longer than its connection's phase admits closes the
// connection at once: 8 KiB before NEGOTIATE, 64 KiB until a session is
// established. A SESSION_SETUP of the size a Kerberos AP-REQ with a large
// PAC takes is still read and answered.
func TestFrameSizeByPhase(t *testing.T) {
	f := newFixture(t)
	for _, n := range []int{1 << 20, smb2.MaxNegotiateFrameSize + 1} {
		c := dialRaw(t, f.addr)
		c.announce(n, []byte("SMB"))
		closedWithin(t, c, 0)
	}
	negotiated := func() *rawClient {
		c := dialRaw(t, f.addr)
		if st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false); err != nil || st != 0 {
			t.Fatalf("negotiate: %v %v", st, err)
		}
		return c
	}
	c := negotiated()
	c.announce(smb2.MaxSetupFrameSize+1, []byte{0xfe, 'S', 'M', 'B'})
	closedWithin(t, c, 0)

	// A 50 KB token (not a valid one) is taken and refused, not cut off.
	c = negotiated()
	tok := make([]byte, 50_000)
	st, _, err := c.do(c.build(wire.CmdSessionSetup, sessionSetupBody(tok)), false)
	if err != nil || st == smb2.StatusSuccess || st == smb2.StatusMoreProcessingRequired {
		t.Fatalf("session setup with a 50 KB token: %v %v, want a refusal", st, err)
	}
	if got := f.srv.Stats().ProtocolErrors; got != 3 {
		t.Errorf("Stats.ProtocolErrors = %d, want 3", got)
	}
	f.served(t)
}

// Before NEGOTIATE the rest of a frame must come before the negotiate
// deadline, not MessageTimeout after its first octet.
func TestFrameWithinNegotiateDeadline(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) {
		s.Timeouts.Negotiate = 300 * time.Millisecond
		s.Timeouts.Message = 20 * time.Second
	})
	c := dialRaw(t, f.addr)
	c.announce(4096, []byte{0xfe})
	closedWithin(t, c, 300*time.Millisecond)
}

// Established connections that announce the largest frame and send a
// few octets of it hold about what they sent, not what they announced:
// the frame's buffer grows as its octets arrive.
func TestPartialFramesHoldLittle(t *testing.T) {
	f := newFixture(t)
	const conns = 16
	var clients []*rawClient
	for range conns {
		c := dialRaw(t, f.addr)
		c.login("bob", "BobPass1")
		clients = append(clients, c)
	}
	before := liveHeap()
	for _, c := range clients {
		c.announce(1<<20-1, make([]byte, 100))
	}
	time.Sleep(300 * time.Millisecond)
	held := liveHeap() - before
	// 16 KiB each for the first chunk; 128 KiB each leaves room for
	// everything else the test and the runtime allocate meanwhile.
	if held > conns*128<<10 {
		t.Errorf("%d connections with a 1 MiB frame announced hold %d KiB, want under %d KiB", conns, held>>10, conns*128)
	}
	runtime.KeepAlive(clients)
}

// liveHeap is the heap in use after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
