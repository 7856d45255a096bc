package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// stallAfterFirst passes the first NetrSessionEnum to the real handler and
// answers every later one with ERROR_MORE_DATA, no entries and the resume
// handle it was asked with; it records the requests.
type stallAfterFirst struct {
	next dcerpc.Handler
	mu   sync.Mutex
	reqs []srvs.SessionEnumRequest
}

func (s *stallAfterFirst) ServeRPC(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	var req srvs.SessionEnumRequest
	if call.Opnum != srvs.OpNetrSessionEnum || req.UnmarshalNDR(call.Stub) != nil {
		return s.next.ServeRPC(ctx, call)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	n := len(s.reqs)
	s.mu.Unlock()
	if n == 1 {
		return s.next.ServeRPC(ctx, call)
	}
	resp := srvs.SessionEnumResponse{Level: req.Level, ResumeHandle: req.ResumeHandle, TotalEntries: 3, Status: uint32(session.StatusMoreData)}
	return resp.MarshalNDR()
}

// The client pages with the srvs pager: a server that stops making
// progress ends the enumeration with a protocol error wrapping
// srvs.ErrNoProgress, after the sessions already received, and the calls
// carry the server name as GetInfo and Delete do.
func TestEnumNoProgress(t *testing.T) {
	h := &stallAfterFirst{}
	srv := startServer(t, serverConfig{wrap: func(next dcerpc.Handler) dcerpc.Handler { h.next = next; return h }})
	o := admin()
	o.PrefMaxLen = 1 // one entry on the first page, then ERROR_MORE_DATA
	c := dial(t, srv.addr, o)
	res, err := c.EnumAll(context.Background(), session.Level0, client.Filter{})
	var ce *client.Error
	if !errors.Is(err, srvs.ErrNoProgress) || !errors.Is(err, client.ErrProtocol) || !errors.As(err, &ce) ||
		ce.Op != "NetrSessionEnum" || !ce.HasLevel || ce.Level != session.Level0 {
		t.Fatalf("err = %v (%#v)", err, ce)
	}
	if len(res.Sessions) != 1 || res.Pages != 2 {
		t.Errorf("%d sessions in %d pages, want 1 in 2", len(res.Sessions), res.Pages)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reqs) != 2 {
		t.Fatalf("%d calls, want 2 (none after the page without progress)", len(h.reqs))
	}
	for i, q := range h.reqs {
		if q.ServerName == nil || *q.ServerName != `\\127.0.0.1` {
			t.Errorf("call %d: server name %v, want \\\\127.0.0.1", i, q.ServerName)
		}
	}
	if *h.reqs[1].ResumeHandle == 0 {
		t.Error("the second call did not resume")
	}
}
