package smb2_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// served proves a well-behaved client is served: go-smb2 logs on, binds
// srvsvc and enumerates.
func (f *fixture) served(t *testing.T) {
	t.Helper()
	c := srvsvc(t, f.dial(t, "alice", "AlicePass1", smb2.Dialect311))
	if _, err := c.EnumAll(context.Background(), 1, "", "", session.MaxPreferredLength); err != nil {
		t.Fatalf("well-behaved client: %v", err)
	}
}

// closedWithin waits for the server to close c's connection and fails
// unless it does within d.
func closedWithin(t *testing.T, c *rawClient, d time.Duration) {
	t.Helper()
	start := time.Now()
	c.nc.SetReadDeadline(start.Add(d + 2*time.Second))
	var b [512]byte
	for {
		_, err := c.nc.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", time.Since(start))
		}
		if el := time.Since(start); el > d+time.Second {
			t.Fatalf("closed after %v, want about %v", el, d)
		}
		return
	}
}

func TestSlowClients(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) {
		s.Timeouts.Negotiate = 300 * time.Millisecond
		s.Timeouts.Setup = 400 * time.Millisecond
		s.Timeouts.Message = 300 * time.Millisecond
		s.Timeouts.Idle = 500 * time.Millisecond
	})
	negotiated := func(t *testing.T) *rawClient {
		c := dialRaw(t, f.addr)
		if st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false); err != nil || st != 0 {
			t.Fatalf("negotiate: %v %v", st, err)
		}
		return c
	}
	loggedOn := func(t *testing.T) *rawClient {
		c := dialRaw(t, f.addr)
		c.login("bob", "BobPass1")
		return c
	}
	tests := []struct {
		name  string
		stall func(t *testing.T) *rawClient
		limit time.Duration
	}{
		{"silent before NEGOTIATE", func(t *testing.T) *rawClient { return dialRaw(t, f.addr) }, 300 * time.Millisecond},
		{"half a frame header", func(t *testing.T) *rawClient {
			c := dialRaw(t, f.addr)
			c.nc.Write([]byte{0, 0})
			return c
		}, 300 * time.Millisecond},
		{"half a header with a session", func(t *testing.T) *rawClient {
			c := loggedOn(t)
			c.nc.Write([]byte{0, 0, 0})
			return c
		}, 300 * time.Millisecond},
		{"half a body with a session", func(t *testing.T) *rawClient {
			c := loggedOn(t)
			msg := c.build(wire.CmdEcho, []byte{4, 0, 0, 0})
			c.nc.Write(append([]byte{0, 0, 0, byte(len(msg))}, msg[:20]...))
			return c
		}, 300 * time.Millisecond},
		{"ECHOes without ever logging on", func(t *testing.T) *rawClient {
			c := negotiated(t)
			for range 8 {
				if st, _, err := c.do(c.build(wire.CmdEcho, []byte{4, 0, 0, 0}), false); err != nil || st != 0 {
					break // the setup deadline struck
				}
				time.Sleep(100 * time.Millisecond)
			}
			return c
		}, 0},
		{"idle with a session", loggedOn, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.stall(t)
			f.served(t)
			closedWithin(t, c, tt.limit)
		})
	}
	t.Cleanup(func() {
		if st := f.srv.Stats(); st.Timeouts < int64(len(tests)) {
			t.Errorf("Stats.Timeouts = %d, want at least %d", st.Timeouts, len(tests))
		}
	})
}

// A client that never reads what it asked for cannot hold the serving
// goroutine longer than WriteTimeout.
func TestStalledReader(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Timeouts.Write = 200 * time.Millisecond })
	cli, srv := net.Pipe()
	defer cli.Close()
	done := make(chan error, 1)
	go func() { done <- f.srv.ServeConn(context.Background(), srv) }()
	c := &rawClient{t: t, nc: cli}
	if err := c.sendFrame(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300))); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeConn: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn still blocked writing to a client that does not read")
	}
	if st := f.srv.Stats(); st.Timeouts != 1 {
		t.Errorf("Stats.Timeouts = %d, want 1", st.Timeouts)
	}
	f.served(t)
}

func TestCreditAbuse(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxCredits = 16 })
	t.Run("huge grant asked", func(t *testing.T) {
		c := dialRaw(t, f.addr)
		total := uint64(1)
		for range 4 {
			h := wire.Header{Command: wire.CmdEcho, Credit: 65535, MessageID: c.mid}
			if c.mid == 0 {
				h.Command = wire.CmdNegotiate
			}
			c.mid++
			body := []byte{4, 0, 0, 0}
			if h.Command == wire.CmdNegotiate {
				body = negotiateBody(smb2.Dialect300)
			}
			if err := c.sendFrame(append(h.Append(nil), body...)); err != nil {
				t.Fatal(err)
			}
			resp, err := c.recv()
			if err != nil {
				t.Fatal(err)
			}
			rh, _ := wire.ParseHeader(resp)
			total += uint64(rh.Credit) - 1
			if total > 16 {
				t.Fatalf("client holds %d credits, want at most 16", total)
			}
		}
	})
	for _, tt := range []struct {
		name   string
		mid    uint64
		charge uint16
	}{
		{"message id beyond the window", 1000, 1},
		{"message id reused", 0, 1},
		{"charge beyond the window", 1, 1000},
		{"message id wraps", ^uint64(0), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, f.addr)
			if st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false); err != nil || st != 0 {
				t.Fatalf("negotiate: %v %v", st, err)
			}
			h := wire.Header{Command: wire.CmdEcho, Credit: 1, CreditCharge: tt.charge, MessageID: tt.mid}
			if err := c.sendFrame(append(h.Append(nil), 4, 0, 0, 0)); err != nil {
				t.Fatal(err)
			}
			if resp, err := c.recv(); err == nil {
				rh, _ := wire.ParseHeader(resp)
				t.Fatalf("answered (status %#x), want the connection closed", rh.Status)
			}
			f.served(t)
		})
	}
	if st := f.srv.Stats(); st.ProtocolErrors < 4 {
		t.Errorf("Stats.ProtocolErrors = %d, want at least 4", st.ProtocolErrors)
	}
}

func TestMaxConns(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxConns = 3 })
	var held []*rawClient
	for range 3 {
		c := dialRaw(t, f.addr)
		if st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false); err != nil || st != 0 {
			t.Fatalf("negotiate: %v %v", st, err)
		}
		held = append(held, c)
	}
	over := dialRaw(t, f.addr)
	if _, _, err := over.do(over.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false); err == nil {
		t.Fatal("a fourth connection was served with MaxConns 3")
	}
	if st := f.srv.Stats(); st.ConnsRejected != 1 || st.ConnsOpen != 3 {
		t.Errorf("Stats: rejected %d open %d, want 1 and 3", st.ConnsRejected, st.ConnsOpen)
	}
	held[0].nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.Stats().ConnsOpen != 2 {
		if time.Now().After(deadline) {
			t.Fatal("closed connection still counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.served(t)
}

func TestSessionsPerConn(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxSessionsPerConn = 2 })
	c := dialRaw(t, f.addr)
	c.login("bob", "BobPass1")
	c.sid, c.signer = 0, nil
	c.login2("alice", "AlicePass1", smb2.Dialect300)
	c.sid = 0
	st, _, err := c.do(c.build(wire.CmdSessionSetup, sessionSetupBody(nil)), false)
	if err != nil || st != smb2.StatusInsufficientResources {
		t.Fatalf("third session: %v %v, want %v", st, err, smb2.StatusInsufficientResources)
	}
	if n := f.table.Len(); n != 2 {
		t.Errorf("table holds %d sessions, want 2", n)
	}
	f.served(t)
}

func TestMaxMessageSize(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxMessageSize = 4096 })
	c := dialRaw(t, f.addr)
	if _, err := c.nc.Write([]byte{0, 0, 0x20, 0}); err != nil { // 8 KiB announced
		t.Fatal(err)
	}
	closedWithin(t, c, 0)
	f.served(t)
	if st := f.srv.Stats(); st.ProtocolErrors != 1 {
		t.Errorf("Stats.ProtocolErrors = %d, want 1", st.ProtocolErrors)
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); f.served(t) }()
	}
	wg.Wait()
	bad := dialRaw(t, f.addr)
	bad.login("bob", "BobPass1")
	st := f.srv.Stats()
	if st.ConnsAccepted != 4 || st.SessionsOpened != 4 || st.SessionsOpen != 4 || st.LogonsFailed != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if st.BytesIn == 0 || st.BytesOut == 0 || st.Commands["negotiate"] != 4 || st.Commands["create"] != 3 || st.Commands["write"] == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// A handler that writes answers the client never reads is held back once
// MaxPipeBuffer bytes wait: its memory stays bounded, and a READ lets it
// go on.
func TestPipeOutputBounded(t *testing.T) {
	var written atomic.Int64
	flood := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		msg := make([]byte, 1000)
		for {
			if _, err := conn.Write(msg); err != nil {
				return nil
			}
			written.Add(1)
		}
	}
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"flood": smb2.PipeHandler(flood)}
		s.Limits.MaxPipeBuffer = 10000
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "flood")
	waitFor(t, func() bool { return written.Load() == 10 })
	time.Sleep(50 * time.Millisecond)
	if n := written.Load(); n != 10 {
		t.Fatalf("%d messages of 1000 bytes buffered, want 10", n)
	}
	if st, _, err := c.do(c.build(wire.CmdRead, readBody(fid, 4096)), true); err != nil || st != 0 {
		t.Fatalf("read: %v %v", st, err)
	}
	waitFor(t, func() bool { return written.Load() == 11 })
}

func TestOpensPerConn(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxOpensPerConn = 3 })
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true); err != nil || st != 0 {
		t.Fatal(st, err)
	}
	for i := range 4 {
		want := smb2.StatusSuccess
		if i == 3 {
			want = smb2.StatusInsufficientResources
		}
		if st, _, err := c.do(c.build(wire.CmdCreate, createBody("srvsvc")), true); err != nil || st != want {
			t.Fatalf("open %d: %v %v, want %v", i+1, st, err, want)
		}
	}
	f.served(t)
}

// NBSS keep-alives are skipped and do not count as a message: the
// negotiate deadline still strikes.
func TestKeepAlivesDoNotHold(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Timeouts.Negotiate = 300 * time.Millisecond })
	c := dialRaw(t, f.addr)
	for range 5 {
		if _, err := c.nc.Write([]byte{0x85, 0, 0, 0}); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	closedWithin(t, c, 0)
}
