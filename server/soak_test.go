package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// Bounds the soak test holds the server to once every client has gone: the
// goroutines it runs and the Go heap in use after a collection, against
// what they were before the first client came. The goroutine slack covers
// the runtime's and the test's own helpers that come and go (a timer's
// goroutine, the metrics of a finished connection); the heap slack covers
// the throttle's records, pools and the runtime's caches, and is far below
// what one leaked connection a second would hold over a long soak.
const (
	soakGoroutineSlack = 10
	soakHeapSlack      = 24 << 20
	// soakHeapGrowth bounds how much the heap in use (after a
	// collection) may grow between the first and the last quarter of the
	// run while the load is steady.
	soakHeapGrowth = 32 << 20
)

// soakDialer dials from loopback address 127.0.0.last.
func soakDialer(last byte) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, last)}, Timeout: 10 * time.Second}
}

// TestSoak runs well-behaved clients (list, get and delete over SMB and
// TCP) next to hostile ones (slowloris on both ports, a flood of
// connections from one address, garbage frames, anonymous request
// fragments that never end, wrong passwords) for a while, then checks that
// every well-behaved client was served every time, and that once they
// have all gone the server's goroutines and heap are back within the
// bounds above, and that the heap did not grow while the load was steady.
// It runs for a few seconds in the suite; NETSESS_SOAK=5m runs it for five
// minutes.
func TestSoak(t *testing.T) {
	dur := 3 * time.Second
	if testing.Short() {
		dur = time.Second
	}
	if v := os.Getenv("NETSESS_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("NETSESS_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	accounts, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("BobPass1")},
		ntlm.Account{Name: "carol", NTHash: ntlm.NTHash("CarolPass1")},
	)
	if err != nil {
		t.Fatal(err)
	}
	const seeded = 300
	r := start(t, Config{
		SMBAddr:  "127.0.0.1:0",
		Accounts: accounts,
		Seeds:    seedsN(seeded),
		Throttle: &ntlm.Throttle{FailureDelay: 200 * time.Millisecond},
		Limits:   Limits{MaxConnsPerAddr: 16},
	})
	settle := func() (int, uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapInuse
	}
	g0, h0 := settle()

	ctx, stop := context.WithTimeout(context.Background(), dur)
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	served := map[string]int{}
	var failures []error
	// good runs a well-behaved client: op until the run ends, each under
	// its own deadline (the end of the run must not fail an op).
	good := func(name string, op func(ctx context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				octx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := op(octx)
				cancel()
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Errorf("%s: %w", name, err))
				} else {
					served[name]++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	// bad runs a hostile client until the run ends; its errors are the
	// server refusing it.
	var hostile atomic.Int64
	bad := func(op func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				op()
				hostile.Add(1)
			}
		}()
	}
	alice := client.Credentials{User: "alice", Password: "AlicePass1"}
	dial := func(ctx context.Context, transport, addr string, cred client.Credentials, from byte) (*client.Client, error) {
		return client.Dial(ctx, addr, client.Options{Transport: transport, Credentials: cred, Timeout: 30 * time.Second,
			Dial: soakDialer(from).DialContext})
	}
	listing := func(transport, addr string, level session.Level, calls int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			c, err := dial(ctx, transport, addr, alice, 1)
			if err != nil {
				return err
			}
			defer c.Close()
			for range calls {
				res, err := c.EnumAll(ctx, level, client.Filter{})
				if err != nil {
					return err
				}
				if len(res.Sessions) < seeded {
					return fmt.Errorf("%d sessions listed, want at least %d", len(res.Sessions), seeded)
				}
			}
			return nil
		}
	}
	good("list smb 502", listing(client.TransportSMB, r.addrs.SMB, session.Level502, 5))
	good("list smb 1", listing(client.TransportSMB, r.addrs.SMB, session.Level1, 1))
	good("list tcp 10", listing(client.TransportTCP, r.addrs.RPC, session.Level10, 3))
	good("get tcp", func(ctx context.Context) error {
		c, err := dial(ctx, client.TransportTCP, r.addrs.RPC, alice, 1)
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.GetInfo(ctx, "10.0.0.7", "user00006", session.Level2)
		if err != nil {
			return err
		}
		if s.UserName != "user00006" {
			return fmt.Errorf("get: user %q", s.UserName)
		}
		return nil
	})
	// del: bob logs on over SMB from 127.0.0.5, alice deletes his
	// session over TCP, and bob's next call finds his session gone.
	good("del", func(ctx context.Context) error {
		bob, err := dial(ctx, client.TransportSMB, r.addrs.SMB, client.Credentials{User: "bob", Password: "BobPass1"}, 5)
		if err != nil {
			return err
		}
		defer bob.Close()
		c, err := dial(ctx, client.TransportTCP, r.addrs.RPC, alice, 1)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Delete(ctx, "127.0.0.5", "bob"); err != nil {
			return err
		}
		if _, err := bob.EnumAll(ctx, session.Level0, client.Filter{}); err == nil {
			return errors.New("bob's session still answers after its deletion")
		}
		return nil
	})

	// Hostile clients, each from an address of its own.
	pause := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	// dribble opens a connection from address from and sends b one octet
	// every 50 ms until the run ends or the server closes it.
	dribble := func(addr string, from byte, b []byte) func() {
		return func() {
			nc, err := soakDialer(from).Dial("tcp", addr)
			if err != nil {
				pause(50 * time.Millisecond)
				return
			}
			defer nc.Close()
			for i := 0; ctx.Err() == nil; i = (i + 1) % len(b) {
				if _, err := nc.Write(b[i : i+1]); err != nil {
					return
				}
				pause(50 * time.Millisecond)
			}
		}
	}
	bind := mustMarshalPDU(t, &dcerpc.Bind{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag | dcerpc.FlagLastFrag, CallID: 1},
		MaxXmitFrag: 4280, MaxRecvFrag: 4280,
		Contexts: []dcerpc.ContextElem{{AbstractSyntax: srvs.Syntax(), TransferSyntaxes: []dcerpc.SyntaxID{dcerpc.NDR20}}}})
	smbHeader := []byte{0, 0, 0xff, 0xff, 0xfe, 'S', 'M', 'B'}
	for range 2 {
		bad(dribble(r.addrs.RPC, 21, bind))
		bad(dribble(r.addrs.SMB, 22, smbHeader))
	}
	// Anonymous request fragments without LAST_FRAG, and empty ones to
	// keep the association busy.
	first := mustMarshalPDU(t, &dcerpc.Request{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag, CallID: 2}, Stub: make([]byte, 1024)})
	middle := mustMarshalPDU(t, &dcerpc.Request{Header: dcerpc.Header{CallID: 2}, Stub: make([]byte, 1024)})
	empty := mustMarshalPDU(t, &dcerpc.Request{Header: dcerpc.Header{CallID: 2}})
	for range 2 {
		bad(func() {
			nc, err := soakDialer(23).Dial("tcp", r.addrs.RPC)
			if err != nil {
				pause(50 * time.Millisecond)
				return
			}
			defer nc.Close()
			go io.Copy(io.Discard, nc)
			for _, b := range [][]byte{bind, first} {
				if _, err := nc.Write(b); err != nil {
					return
				}
			}
			for ctx.Err() == nil {
				if _, err := nc.Write(middle); err != nil {
					return
				}
				if _, err := nc.Write(empty); err != nil {
					return
				}
				pause(5 * time.Millisecond)
			}
		})
	}
	// A flood of connections from one address, more than its share, each
	// held a little; to both ports.
	for _, addr := range []string{r.addrs.SMB, r.addrs.RPC} {
		for range 4 {
			bad(func() {
				var held []net.Conn
				for range 8 {
					if nc, err := soakDialer(24).Dial("tcp", addr); err == nil {
						held = append(held, nc)
					}
				}
				pause(20 * time.Millisecond)
				for _, nc := range held {
					nc.Close()
				}
			})
		}
	}
	// Garbage: random octets, and frames with valid lengths and random
	// bodies.
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex
	garbage := func(n int) []byte {
		rngMu.Lock()
		defer rngMu.Unlock()
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, addr := range []string{r.addrs.SMB, r.addrs.RPC} {
		bad(func() {
			nc, err := soakDialer(25).Dial("tcp", addr)
			if err != nil {
				pause(50 * time.Millisecond)
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(2 * time.Second))
			b := garbage(200)
			if addr == r.addrs.SMB && b[0]%2 == 0 {
				b[0], b[1], b[2], b[3] = 0, 0, 0, 196 // an NBSS frame of random SMB2
				copy(b[4:], smbHeader[4:])
			}
			nc.Write(b)
			io.Copy(io.Discard, nc)
		})
	}
	// Wrong passwords for carol over both transports.
	for _, tr := range []string{client.TransportSMB, client.TransportTCP} {
		addr := r.addrs.SMB
		if tr == client.TransportTCP {
			addr = r.addrs.RPC
		}
		bad(func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := dial(dctx, tr, addr, client.Credentials{User: "carol", Password: "guess"}, 26)
			if err == nil {
				// Over TCP the failure shows on the first call.
				_, err = c.EnumAll(dctx, session.Level0, client.Filter{})
				c.Close()
			}
			if err == nil {
				t.Errorf("%s: a wrong password was accepted", tr)
			}
		})
	}

	// The heap in use after a collection, sampled while the load runs.
	var samples []uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := max(dur/8, 250*time.Millisecond)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
			_, h := settle()
			mu.Lock()
			samples = append(samples, h)
			mu.Unlock()
		}
	}()
	wg.Wait()

	mu.Lock()
	for _, err := range failures {
		t.Error(err)
	}
	for _, name := range []string{"list smb 502", "list smb 1", "list tcp 10", "get tcp", "del"} {
		if served[name] == 0 {
			t.Errorf("%s: never served", name)
		}
	}
	t.Logf("%v: served %v; %d hostile attempts; heap samples (MiB) %v", dur, served, hostile.Load(), mib(samples))
	if q := len(samples) / 4; q > 0 {
		firstMax, lastMax := slices.Max(samples[:q]), slices.Max(samples[len(samples)-q:])
		if lastMax > firstMax+soakHeapGrowth {
			t.Errorf("heap in use grew under steady load: %d MiB in the first quarter, %d MiB in the last", firstMax>>20, lastMax>>20)
		}
	}
	mu.Unlock()

	// Every client has gone: the server lets go of what they held.
	deadline := time.Now().Add(30 * time.Second)
	var g1 int
	var h1 uint64
	for {
		g1, h1 = settle()
		if (g1 <= g0+soakGoroutineSlack && r.srv.smb.Stats().ConnsOpen == 0 && r.srv.Table().Len() == seeded) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.srv.smb.Stats().ConnsOpen; n != 0 {
		t.Errorf("%d SMB connections still open", n)
	}
	if n := r.srv.Table().Len(); n != seeded {
		t.Errorf("%d sessions in the table, want the %d seeded", n, seeded)
	}
	if g1 > g0+soakGoroutineSlack {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after (slack %d)\n%s", g0, g1, soakGoroutineSlack, buf[:runtime.Stack(buf, true)])
	}
	if h1 > h0+soakHeapSlack {
		t.Errorf("heap in use: %d KiB before, %d KiB after (slack %d KiB)", h0>>10, h1>>10, soakHeapSlack>>10)
	}
	t.Logf("goroutines %d -> %d, heap in use %d -> %d KiB; SMB %+v", g0, g1, h0>>10, h1>>10, r.srv.smb.Stats())
}

func mustMarshalPDU(t *testing.T, p dcerpc.PDU) []byte {
	t.Helper()
	b, err := dcerpc.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mib(s []uint64) []uint64 {
	out := make([]uint64, len(s))
	for i, v := range s {
		out[i] = v >> 20
	}
	return out
}
