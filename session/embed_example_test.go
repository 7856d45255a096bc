package session_test

import (
	"context"
	"fmt"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// toyServer stands in for a Go SMB server that embeds the table: it tells
// the table of logons, opened files and logoffs, and nothing else.
type toyServer struct {
	table *session.Table
}

// logon is where a session setup completes.
func (s *toyServer) logon(client, user string) *session.Session {
	h, err := s.table.Open(session.Spec{Client: client, User: user, Transport: `\Device\NetbiosSmb`})
	if err != nil {
		panic(err) // the table is closed: the server is shutting down
	}
	return h
}

// The table embedded in a toy server: restored sessions, an observer, an
// authorization function beside the modern preset, the srvsvc handler
// serving the table as a session.Sessions, and a metrics read that needs
// no caller.
func Example_embedding() {
	clock := session.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))

	// Members of Helpdesk may list at levels 0 and 10; everything else is
	// decided as Windows Server 2019 does.
	modern := session.PolicyModern()
	authorize := session.AuthorizerFunc(func(ctx context.Context, c session.Caller, a session.Action, l session.Level) error {
		if a == session.ActionEnum && (l == session.Level0 || l == session.Level10) && c.InGroup("Helpdesk") {
			return nil
		}
		return modern.Authorize(ctx, c, a, l)
	})
	table := session.New(session.Options{
		Clock:      clock,
		Authorizer: authorize,
		Observer: session.ObserverFuncs{
			Open: func(s *session.Session) { fmt.Println("opened:", s.Info().UserName) },
			Close: func(s *session.Session, why session.CloseReason) {
				fmt.Println("closed:", s.Info().UserName, "-", why)
			},
		},
	})
	srv := &toyServer{table: table}

	// Restored from before a restart: bob has been connected for an hour,
	// idle for ten minutes, with two files open.
	now := table.Now()
	if _, err := table.Open(session.Spec{Client: "10.0.0.7", User: "bob", Created: now.Add(-time.Hour),
		LastActive: now.Add(-10 * time.Minute), Opens: 2}); err != nil {
		panic(err)
	}
	alice := srv.logon("10.0.0.5", "alice")
	alice.AddOpen() // a CREATE
	clock.Advance(time.Minute)

	// The RPC side: register handler.Interface() with a dcerpc.Server, and
	// it answers NetrSessionEnum for each authenticated caller. Here one
	// call is handed to it directly.
	handler := &srvs.Handler{Table: table}
	req := srvs.SessionEnumRequest{Level: session.Level10, PrefMaxLen: session.MaxPreferredLength}
	out, err := handler.ServeRPC(context.Background(), &dcerpc.Call{
		Opnum:  srvs.OpNetrSessionEnum,
		Stub:   req.MarshalNDR(),
		Caller: session.Caller{User: "hd", Groups: []string{"Helpdesk"}},
	})
	if err != nil {
		panic(err)
	}
	var resp srvs.SessionEnumResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		panic(err)
	}
	for _, e := range resp.Entries {
		fmt.Printf("helpdesk sees %s from %s: %ds, idle %ds\n", e.UserName, e.ClientName, e.Time, e.IdleTime)
	}

	// Any session.Sessions answers the same calls in process.
	var sessions session.Sessions = table
	ctx := context.Background()
	_, err = sessions.Delete(ctx, session.Caller{User: "hd", Groups: []string{"Helpdesk"}}, `\\10.0.0.7`, "")
	fmt.Println("helpdesk delete:", err)

	// A metrics exporter in the same process reads every session with no
	// caller and no access check.
	var opens uint32
	all := table.Snapshot()
	for _, in := range all {
		opens += in.NumOpens
	}
	fmt.Println("sessions:", len(all), "opens:", opens)

	admin := session.Caller{User: "root", Groups: []string{session.GroupAdministrators}}
	if _, err := sessions.Delete(ctx, admin, `\\10.0.0.7`, ""); err != nil {
		panic(err)
	}
	alice.Close() // a LOGOFF
	table.Close()
	// Output:
	// opened: bob
	// opened: alice
	// helpdesk sees bob from \\10.0.0.7: 3660s, idle 660s
	// helpdesk sees alice from \\10.0.0.5: 60s, idle 60s
	// helpdesk delete: access denied (ERROR_ACCESS_DENIED, 5)
	// sessions: 2 opens: 3
	// closed: bob - deleted
	// closed: alice - logoff
}
