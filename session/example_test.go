package session_test

import (
	"context"
	"fmt"
	"time"

	"github.com/netsession/netsession/session"
)

// An SMB server feeds the table as sessions come and go.
func Example_feeding() {
	clock := session.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	table := session.New(session.Options{Clock: clock})

	// Session setup completed for alice from 10.0.0.5.
	s, err := table.Open(session.Spec{
		Client:    "10.0.0.5",
		User:      "alice",
		Transport: `\Device\NetbiosSmb`,
		OnClose:   func() { fmt.Println("administrator closed alice's session") },
	})
	if err != nil {
		panic(err)
	}
	s.AddOpen() // CREATE of a file
	clock.Advance(2 * time.Minute)
	s.Touch() // a READ
	clock.Advance(30 * time.Second)

	info := s.Info()
	fmt.Println(info.ClientName, info.UserName, info.NumOpens, info.Time, info.IdleTime)

	s.RemoveOpen() // CLOSE
	s.Close()      // LOGOFF
	fmt.Println("sessions left:", table.Len())
	// Output:
	// \\10.0.0.5 alice 1 150 30
	// sessions left: 0
}

// The RPC layer queries the table on behalf of a caller, page by page.
func ExampleTable_Enum() {
	clock := session.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	table := session.New(session.Options{Clock: clock, Policy: session.PolicyModern()})
	for _, c := range []string{"10.0.0.5", "10.0.0.7", "fe80::1%eth0"} {
		if _, err := table.Open(session.Spec{Client: c, User: "bob"}); err != nil {
			panic(err)
		}
	}
	clock.Advance(time.Hour)

	admin := session.Caller{User: "alice", Groups: []string{session.GroupAdministrators}}
	// Without a Size the budget counts entries: one per page here. An RPC
	// server passes srvs.EntrySize to spend it in NDR bytes instead.
	q := session.EnumQuery{Level: session.Level10, PrefMaxLen: 1}
	for {
		res, err := table.Enum(context.Background(), admin, q)
		if err != nil {
			panic(err)
		}
		for _, e := range res.Entries {
			fmt.Printf("%-14s %s %ds (%v, total %d)\n", e.ClientName, e.UserName, e.Time, res.Status().Name(), res.TotalEntries)
		}
		if !res.More {
			break
		}
		q.Resume = res.Resume
	}

	_, err := table.Enum(context.Background(), session.Caller{User: "bob"}, session.EnumQuery{Level: session.Level10})
	fmt.Println(err)
	// Output:
	// \\10.0.0.5     bob 3600s (ERROR_MORE_DATA, total 3)
	// \\10.0.0.7     bob 3600s (ERROR_MORE_DATA, total 2)
	// \\[fe80::1]    bob 3600s (NERR_Success, total 1)
	// access denied (ERROR_ACCESS_DENIED, 5)
}
