package smb2_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/syncbuf"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// TestFloodingAddressLeavesRoom: one address (127.0.0.1) reconnects as
// soon as it is closed, on 16 connections at once, against a server of 8
// places with 4 per address. A bystander from 127.0.0.2 logs on and
// enumerates sessions every time it tries, and the thousands of
// refusals make a handful of WARN records, not one each.
func TestFloodingAddressLeavesRoom(t *testing.T) {
	var logs syncbuf.Buffer
	f := newFixture(t, func(s *smb2.Server) {
		s.Limits.MaxConns, s.Limits.MaxConnsPerAddr = 8, 4
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var attempts atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
			for ctx.Err() == nil {
				nc, err := d.DialContext(ctx, "tcp", f.addr)
				if err != nil {
					continue
				}
				attempts.Add(1)
				// Hold the place until the server closes it (or the test ends).
				stopRead := context.AfterFunc(ctx, func() { nc.Close() })
				var b [64]byte
				nc.Read(b[:])
				stopRead()
				nc.Close()
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()
	for f.srv.Stats().ConnsRejected < 100 {
		time.Sleep(10 * time.Millisecond)
	}
	const calls = 10
	served := 0
	for range calls {
		if bystanderCall(t, f.addr) == nil {
			served++
		}
	}
	stop()
	wg.Wait()
	rejected := f.srv.Stats().ConnsRejected
	warns := strings.Count(logs.String(), "level=WARN")
	t.Logf("bystander served %d of %d calls; %d flood connections refused, %d WARN records", served, calls, rejected, warns)
	if served != calls {
		t.Errorf("bystander served %d of %d calls while one address flooded", served, calls)
	}
	if warns > 10 {
		t.Errorf("%d WARN records for %d refusals: not summarised", warns, rejected)
	}
}

// bystanderCall logs on as alice from 127.0.0.2 and enumerates sessions.
func bystanderCall(t *testing.T, addr string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	sd := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: "alice", Password: "AlicePass1"}}
	s, err := sd.DialConn(ctx, nc, addr)
	if err != nil {
		t.Logf("bystander: %v", err)
		return err
	}
	defer s.Logoff()
	share, err := s.Mount("IPC$")
	if err != nil {
		return err
	}
	defer share.Umount()
	pf, err := share.OpenFile("srvsvc", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer pf.Close()
	c, err := srvs.Bind(ctx, dcerpc.NewClient(pipeStream(pf), dcerpc.ClientConfig{}))
	if err != nil {
		return err
	}
	_, err = c.EnumAll(ctx, 1, "", "", session.MaxPreferredLength)
	return err
}
