package srvs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// store is a session.Sessions that is not a *session.Table: a fixed list,
// an access rule of its own, and a switch that makes it fail.
type store struct {
	entries []session.Info
	broken  atomic.Bool
	calls   atomic.Int32
}

var errStoreDown = errors.New("store unreachable")

func (s *store) Authorize(ctx context.Context, c session.Caller, a session.Action, l session.Level) error {
	if ctx == nil {
		return errors.New("no context")
	}
	if c.User != "alice" {
		return session.StatusAccessDenied
	}
	return nil
}

func (s *store) Enum(ctx context.Context, c session.Caller, q session.EnumQuery) (session.EnumResult, error) {
	s.calls.Add(1)
	if s.broken.Load() {
		return session.EnumResult{}, errStoreDown
	}
	if err := s.Authorize(ctx, c, session.ActionEnum, q.Level); err != nil {
		return session.EnumResult{Level: q.Level}, err
	}
	res := session.EnumResult{Level: q.Level, TotalEntries: uint32(len(s.entries))}
	for _, e := range s.entries {
		res.Entries = append(res.Entries, e.Project(q.Level))
	}
	return res, nil
}

func (s *store) GetInfo(ctx context.Context, c session.Caller, client, user string, level session.Level) (session.Info, error) {
	return session.Info{}, session.StatusNotSupported
}

func (s *store) Delete(ctx context.Context, c session.Caller, client, user string) (int, error) {
	s.calls.Add(1)
	if err := s.Authorize(ctx, c, session.ActionDelete, 0); err != nil {
		return 0, err
	}
	return 0, session.StatusClientNameNotFound
}

// The handler serves any session.Sessions: its answers, its statuses, and
// a failure of the store as a fault.
func TestHandlerServesAnySessions(t *testing.T) {
	st := &store{entries: []session.Info{{ClientName: `\\10.9.0.1`, UserName: "zed", Time: 5, Transport: "t"}}}
	srv := newServer(t, st)
	ctx := context.Background()
	alice := dial(t, srv, adminCaller)
	res, err := alice.EnumAll(ctx, session.Level10, "", "", session.MaxPreferredLength)
	if err != nil || len(res.Entries) != 1 || res.Entries[0].UserName != "zed" || res.Entries[0].Time != 5 || res.Entries[0].Transport != "" {
		t.Fatalf("enum: %+v %v", res, err)
	}
	if err := alice.Delete(ctx, `\\10.9.0.2`, ""); !errors.Is(err, session.StatusClientNameNotFound) {
		t.Errorf("delete: %v", err)
	}
	if _, err := dial(t, srv, userCaller).EnumAll(ctx, session.Level0, "", "", session.MaxPreferredLength); !errors.Is(err, session.StatusAccessDenied) {
		t.Errorf("refused caller: %v", err)
	}
	st.broken.Store(true)
	_, err = alice.EnumAll(ctx, session.Level0, "", "", session.MaxPreferredLength)
	var f *dcerpc.Fault
	if !errors.As(err, &f) {
		t.Errorf("failing store: %v, want a fault", err)
	}
	if st.calls.Load() != 4 {
		t.Errorf("%d calls reached the store, want 4", st.calls.Load())
	}
}

// The Samba profile's wildcard deletion lists the sessions with the
// table's trusted read: a caller allowed to delete but not to enumerate
// still deletes every session, as on Samba.
func TestSambaWildcardDeleteNeedsOnlyTheDeleteRight(t *testing.T) {
	f := newFixture(t)
	p, err := session.ParsePolicy("del=user")
	if err != nil {
		t.Fatal(err)
	}
	f.table.SetPolicy(p)
	srv := &dcerpc.Server{}
	if err := srv.Register((&srvs.Handler{Table: f.table, Compat: srvs.CompatSamba417}).Interface()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := dial(t, srv, userCaller)
	ctx := context.Background()
	if _, err := c.EnumAll(ctx, session.Level0, "", "", session.MaxPreferredLength); !errors.Is(err, session.StatusAccessDenied) {
		t.Fatalf("enum by a caller without the right: %v", err)
	}
	n := f.table.Len()
	if err := c.Delete(ctx, "", ""); err != nil {
		t.Fatalf("wildcard delete: %v", err)
	}
	if f.table.Len() != 0 || n == 0 {
		t.Errorf("%d of %d sessions left", f.table.Len(), n)
	}
}
