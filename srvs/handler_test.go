package srvs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

var (
	adminCaller = session.Caller{User: "alice", Groups: []string{session.GroupAdministrators}}
	userCaller  = session.Caller{User: "bob"}
)

type fixture struct {
	table  *session.Table
	clock  *session.ManualClock
	closed map[string]int
	mu     sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: session.NewManualClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)), closed: map[string]int{}}
	f.table = session.New(session.Options{Clock: f.clock})
	add := func(client, user string, guest bool, opens int) {
		key := client + "/" + user
		s, err := f.table.Open(session.Spec{Client: client, User: user, Guest: guest, Transport: `\Device\NetbiosSmb`,
			OnClose: func() { f.mu.Lock(); f.closed[key]++; f.mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		for range opens {
			s.AddOpen()
		}
		f.clock.Advance(10 * time.Second)
	}
	add("10.0.0.5", "alice", false, 2)
	add("10.0.0.7", "bob", true, 0)
	add("::1", "bob", false, 1)
	for i := range 40 {
		add(fmt.Sprintf("10.1.0.%d", i), fmt.Sprintf("user%02d", i), false, 0)
	}
	return f
}

// dial serves one connection of srv over net.Pipe as caller and returns a
// bound stub.
func dial(t *testing.T, srv *dcerpc.Server, caller session.Caller) *srvs.Client {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeConn(context.Background(), a, dcerpc.ConnConfig{Caller: caller})
	}()
	rpc := dcerpc.NewClient(b, dcerpc.ClientConfig{})
	t.Cleanup(func() { _ = rpc.Close(); <-done })
	c, err := srvs.Bind(context.Background(), rpc)
	if err != nil {
		t.Fatal(err)
	}
	c.ServerName = `\\FS`
	return c
}

func newServer(t *testing.T, table session.Sessions) *dcerpc.Server {
	t.Helper()
	srv := &dcerpc.Server{}
	if err := srv.Register((&srvs.Handler{Table: table}).Interface()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestHandlerAllLevels(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	f := newFixture(t)
	srv := newServer(t, f.table)
	c := dial(t, srv, adminCaller)
	ctx := context.Background()
	for _, l := range session.Levels() {
		want, err := f.table.Enum(context.Background(), adminCaller, session.EnumQuery{Level: l, PrefMaxLen: session.MaxPreferredLength})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.EnumAll(ctx, l, "", "", session.MaxPreferredLength)
		if err != nil {
			t.Fatalf("level %d: %v", l, err)
		}
		if diff := cmp.Diff(want.Entries, got.Entries); diff != "" {
			t.Errorf("level %d (-table +wire):\n%s", l, diff)
		}
		if got.TotalEntries != 43 || got.Pages != 1 || len(got.Entries) != 43 {
			t.Errorf("level %d: total %d pages %d entries %d", l, got.TotalEntries, got.Pages, len(got.Entries))
		}
	}
	// A few fields checked against known values, not just table == wire.
	got, _ := c.EnumAll(ctx, 502, `\\10.0.0.5`, "", session.MaxPreferredLength)
	if e := got.Entries[0]; e.ClientName != `\\10.0.0.5` || e.UserName != "alice" || e.NumOpens != 2 || e.Time != 430 || e.Transport != `\Device\NetbiosSmb` {
		t.Errorf("level 502 entry: %+v", e)
	}
}

func TestHandlerPagingFiltersGetInfo(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	f := newFixture(t)
	c := dial(t, newServer(t, f.table), adminCaller)
	ctx := context.Background()

	paged, err := c.EnumAll(ctx, 10, "", "", 200)
	if err != nil {
		t.Fatal(err)
	}
	if len(paged.Entries) != 43 || paged.Pages < 10 {
		t.Fatalf("paged: %d entries in %d pages", len(paged.Entries), paged.Pages)
	}
	whole, _ := c.EnumAll(ctx, 10, "", "", session.MaxPreferredLength)
	if diff := cmp.Diff(whole.Entries, paged.Entries); diff != "" {
		t.Errorf("paged differs from whole (-whole +paged):\n%s", diff)
	}

	// One raw page: ERROR_MORE_DATA, a resume handle, a total from the start.
	zero := uint32(0)
	resp, err := c.SessionEnum(ctx, &srvs.SessionEnumRequest{Level: 1, PrefMaxLen: 1, ResumeHandle: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != uint32(session.StatusMoreData) || len(resp.Entries) != 1 || *resp.ResumeHandle != 1 || resp.TotalEntries != 43 {
		t.Errorf("first small page: status %#x entries %d resume %d total %d", resp.Status, len(resp.Entries), *resp.ResumeHandle, resp.TotalEntries)
	}
	// A NULL resume handle stays NULL and gives the first page.
	resp, err = c.SessionEnum(ctx, &srvs.SessionEnumRequest{Level: 0, PrefMaxLen: 1})
	if err != nil || resp.ResumeHandle != nil || resp.Status != uint32(session.StatusMoreData) || len(resp.Entries) != 1 {
		t.Errorf("NULL resume handle: %+v, %v", resp, err)
	}
	// A NULL container in the request still gets entries back.
	resp, err = c.SessionEnum(ctx, &srvs.SessionEnumRequest{Level: 0, NoContainer: true, PrefMaxLen: session.MaxPreferredLength})
	if err != nil || resp.NoContainer || len(resp.Entries) != 43 {
		t.Errorf("NULL container: %d entries, %v", len(resp.Entries), err)
	}

	bobs, err := c.EnumAll(ctx, 1, "", "BOB", session.MaxPreferredLength)
	if err != nil || len(bobs.Entries) != 2 || bobs.Entries[1].ClientName != `\\[::1]` {
		t.Errorf("user filter: %+v, %v", bobs, err)
	}
	info, err := c.GetInfo(ctx, `\\10.0.0.7`, "bob", 2)
	if err != nil || info.UserFlags != session.FlagGuest || info.UserName != "bob" {
		t.Errorf("GetInfo: %+v, %v", info, err)
	}
}

func TestHandlerStatuses(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	f := newFixture(t)
	srv := newServer(t, f.table)
	admin := dial(t, srv, adminCaller)
	user := dial(t, srv, userCaller)
	ctx := context.Background()
	long := `\\` + strings.Repeat("x", 1100)
	tests := []struct {
		name string
		do   func() error
		want session.Status
	}{
		{"denied", func() error { _, err := user.EnumAll(ctx, 10, "", "", session.MaxPreferredLength); return err }, session.StatusAccessDenied},
		{"denied del", func() error { return user.Delete(ctx, `\\10.0.0.5`, "") }, session.StatusAccessDenied},
		{"invalid level", func() error { _, err := admin.EnumAll(ctx, 3, "", "", session.MaxPreferredLength); return err }, session.StatusInvalidLevel},
		{"invalid computer", func() error { _, err := admin.EnumAll(ctx, 1, "10.0.0.5", "", session.MaxPreferredLength); return err }, session.StatusInvalidComputer},
		{"too long", func() error { _, err := admin.EnumAll(ctx, 1, long, "", session.MaxPreferredLength); return err }, session.StatusInvalidParameter},
		{"user not found", func() error { _, err := admin.EnumAll(ctx, 1, "", "mallory", session.MaxPreferredLength); return err }, session.StatusUserNotFound},
		{"client not found", func() error {
			_, err := admin.EnumAll(ctx, 1, `\\10.9.9.9`, "", session.MaxPreferredLength)
			return err
		}, session.StatusClientNameNotFound},
		{"getinfo not found", func() error { _, err := admin.GetInfo(ctx, `\\10.9.9.9`, "x", 1); return err }, session.StatusClientNameNotFound},
		{"getinfo 502", func() error { _, err := admin.GetInfo(ctx, `\\10.0.0.5`, "alice", 502); return err }, session.StatusInvalidLevel},
		{"del no backslashes", func() error { return admin.Delete(ctx, "10.0.0.5", "") }, session.StatusClientNameNotFound},
		{"del neither", func() error { return admin.Delete(ctx, "", "") }, session.StatusInvalidParameter},
		{"del no match", func() error { return admin.Delete(ctx, "", "mallory") }, session.StatusClientNameNotFound},
	}
	for _, tc := range tests {
		err := tc.do()
		var se *srvs.StatusError
		if !errors.As(err, &se) || se.Status != tc.want || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want a StatusError %v", tc.name, err, tc.want)
		}
		var fe *dcerpc.Fault
		if errors.As(err, &fe) {
			t.Errorf("%s: a status came back as a fault", tc.name)
		}
	}
	_, err := user.EnumAll(ctx, 502, "", "", session.MaxPreferredLength)
	if err == nil || err.Error() != "access denied (ERROR_ACCESS_DENIED, 5) at level 502" {
		t.Errorf("message: %v", err)
	}
	// The invalid-level answer uses Samba's layout: Level, tag, no arm.
	zero := uint32(0)
	resp, err := admin.SessionEnum(ctx, &srvs.SessionEnumRequest{Level: 3, PrefMaxLen: 1, ResumeHandle: &zero})
	if err != nil || resp.Status != 0x7C || resp.Level != 3 || len(resp.Entries) != 0 {
		t.Errorf("level 3: %+v %v", resp, err)
	}

	if err := admin.Delete(ctx, `\\[::1]`, "BOB"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	f.mu.Lock()
	if f.closed["::1/bob"] != 1 || len(f.closed) != 1 {
		t.Errorf("close callbacks: %v", f.closed)
	}
	f.mu.Unlock()
	if f.table.Len() != 42 {
		t.Errorf("len after delete %d", f.table.Len())
	}
}

func TestHandlerFaults(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	f := newFixture(t)
	srv := newServer(t, f.table)
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeConn(context.Background(), a, dcerpc.ConnConfig{Caller: adminCaller})
	}()
	defer func() { <-done }()
	rpc := dcerpc.NewClient(b, dcerpc.ClientConfig{})
	defer rpc.Close()
	ctx := context.Background()
	if err := rpc.Bind(ctx, srvs.Syntax()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opnum  uint16
		stub   []byte
		status uint32
	}{
		{16, nil, 0x1C010002},                       // NetrShareGetInfo: not implemented here
		{60, nil, 0x1C010002},                       // outside the interface
		{12, []byte{1, 2, 3}, 0x6F7},                // truncated
		{13, []byte{0, 0, 2, 0, 9, 9, 9, 9}, 0x6F7}, // string header lies
		{12, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0x6F7}, // level 1, discriminant 2
	}
	for _, tc := range tests {
		_, err := rpc.Call(ctx, tc.opnum, tc.stub)
		var fe *dcerpc.Fault
		if !errors.As(err, &fe) || fe.Status != tc.status {
			t.Errorf("opnum %d stub %x: %v, want fault %#x", tc.opnum, tc.stub, err, tc.status)
		}
	}
	// The connection keeps serving after faults.
	c := srvs.NewClient(rpc)
	if res, err := c.EnumAll(ctx, 0, "", "", session.MaxPreferredLength); err != nil || len(res.Entries) != 43 {
		t.Fatalf("after faults: %v", err)
	}
}

// Over loopback TCP, many clients at once, each with its own identity.
func TestHandlerLoopbackTCP(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	f := newFixture(t)
	srv := newServer(t, f.table)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.table.SetPolicy(session.PolicyOpen())
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(context.Background(), l) }()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			rpc := dcerpc.NewClient(conn, dcerpc.ClientConfig{})
			defer rpc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := srvs.Bind(ctx, rpc)
			if err != nil {
				t.Error(err)
				return
			}
			lvl := session.Levels()[i%5]
			res, err := c.EnumAll(ctx, lvl, "", "", uint32(100+i*50))
			if err != nil || len(res.Entries) != 43 {
				t.Errorf("client %d level %d: %d entries, %v", i, lvl, len(res.Entries), err)
			}
		}()
	}
	wg.Wait()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-serveDone; err != nil && !errors.Is(err, dcerpc.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// The handler reuses the entry slices of encoded answers: answers that
// follow one another, larger and smaller, with sessions closing between
// them, each carry exactly the table's entries of the moment, never
// entries left from an earlier answer.
func TestHandlerReusedEntries(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.table)
	c := dial(t, srv, adminCaller)
	ctx := context.Background()
	check := func(level session.Level, client string) {
		t.Helper()
		want, err := f.table.Enum(ctx, adminCaller, session.EnumQuery{Level: level, Client: client, PrefMaxLen: session.MaxPreferredLength})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.EnumAll(ctx, level, client, "", session.MaxPreferredLength)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Entries, got.Entries); diff != "" {
			t.Errorf("level %d client %q (-table +wire):\n%s", level, client, diff)
		}
	}
	for range 3 {
		check(session.Level502, "")
		check(session.Level1, `\\10.0.0.5`)
		check(session.Level10, "")
	}
	// Sessions close: the next answers are shorter.
	for i := range 30 {
		if _, err := f.table.Delete(ctx, adminCaller, fmt.Sprintf(`\\10.1.0.%d`, i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		check(session.Level502, "")
		check(session.Level0, "")
	}
}
