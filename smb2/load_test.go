package smb2_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// cycle is one client's life: log on, open srvsvc, enumerate at level 1,
// close and log off (which closes the connection).
func cycle(ctx context.Context, addr, user, pass string) error {
	d := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: user, Password: pass}}
	s, err := d.Dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer s.Logoff()
	share, err := s.Mount("IPC$")
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	defer share.Umount()
	f, err := share.OpenFile("srvsvc", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	c, err := srvs.Bind(ctx, dcerpc.NewClient(pipeStream(f), dcerpc.ClientConfig{}))
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	res, err := c.EnumAll(ctx, 1, "", "", session.MaxPreferredLength)
	if err != nil {
		return fmt.Errorf("enum: %w", err)
	}
	if len(res.Entries) == 0 {
		return fmt.Errorf("enum: own session missing")
	}
	return nil
}

// TestLoad runs many concurrent clients through whole sessions for a
// bounded time: no errors, and afterwards no session, connection,
// goroutine or heap left behind. NETSESS_LOAD=1 runs the long form
// (NETSESS_LOAD_CLIENTS clients, default 500, for 20 s).
func TestLoad(t *testing.T) {
	clients, dur := 100, 2*time.Second
	if os.Getenv("NETSESS_LOAD") != "" {
		clients, dur = 500, 20*time.Second
		if n, err := strconv.Atoi(os.Getenv("NETSESS_LOAD_CLIENTS")); err == nil && n > 0 {
			clients = n
		}
	} else if testing.Short() {
		clients, dur = 20, 500*time.Millisecond
	}
	f := newFixture(t)
	settle := func() (int, uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	g0, h0 := settle()

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var ops, fails atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// Each cycle gets its own time: ending the test's window
				// must not fail a cycle in progress.
				cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := cycle(cctx, f.addr, "alice", "AlicePass1")
				ccancel()
				if err != nil {
					fails.Add(1)
					firstErr.Do(func() { t.Errorf("client %d: %v", i, err) })
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d clients, %v: %d cycles (%.0f/s), %d errors", clients, dur, ops.Load(), float64(ops.Load())/dur.Seconds(), fails.Load())
	if ops.Load() < int64(clients) {
		t.Errorf("%d cycles for %d clients", ops.Load(), clients)
	}

	deadline := time.Now().Add(10 * time.Second)
	for f.table.Len() != 0 || f.srv.Stats().ConnsOpen != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the load: %d sessions, %d connections", f.table.Len(), f.srv.Stats().ConnsOpen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := f.srv.Stats()
	if st.SessionsOpened != ops.Load() || st.SessionsOpen != 0 || st.LogonsFailed != 0 || st.ProtocolErrors != 0 || st.Timeouts != 0 {
		t.Errorf("Stats after %d cycles: %+v", ops.Load(), st)
	}
	var g1 int
	var h1 uint64
	for {
		g1, h1 = settle()
		if g1 <= g0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g1 > g0 {
		t.Errorf("goroutines: %d before, %d after", g0, g1)
	}
	if h1 > h0+16<<20 {
		t.Errorf("heap: %d KiB before, %d KiB after", h0>>10, h1>>10)
	}
	t.Logf("goroutines %d -> %d, heap %d -> %d KiB", g0, g1, h0>>10, h1>>10)
}
