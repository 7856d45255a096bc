package smb2_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/srvs"
)

type row struct {
	user        string
	opens, idle uint32
}

func listRows(t *testing.T, c *srvs.Client) []row {
	t.Helper()
	res, err := c.EnumAll(context.Background(), 1, "", "", session.MaxPreferredLength)
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	for _, e := range res.Entries {
		if e.ClientName != `\\127.0.0.1` {
			t.Errorf("cname %q", e.ClientName)
		}
		rows = append(rows, row{e.UserName, e.NumOpens, e.IdleTime})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].user != rows[j].user {
			return rows[i].user < rows[j].user
		}
		if rows[i].opens != rows[j].opens {
			return rows[i].opens < rows[j].opens
		}
		return rows[i].idle < rows[j].idle
	})
	return rows
}

func eqRows(a, b []row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Several clients held at once, by different programs and dialects, are
// all listed with their users, their open pipe and a growing idle time.
func TestHeldClientsListed(t *testing.T) {
	py := python(t)
	f := newFixture(t)
	hold(t, py, f.port, "alice", "AlicePass1", "3.0", 2)
	hold(t, py, f.port, "bob", "BobPass1", "2.1", 1)
	bob := f.dial(t, "bob", "BobPass1", smb2.Dialect311) // no pipe open
	_ = bob
	f.clock.Advance(7 * time.Second)
	c := srvsvc(t, f.dial(t, "alice", "AlicePass1", 0))
	want := []row{{"alice", 1, 0}, {"alice", 1, 7}, {"alice", 1, 7}, {"bob", 0, 7}, {"bob", 1, 7}}
	if got := listRows(t, c); !eqRows(got, want) {
		t.Errorf("first listing %+v, want %+v", got, want)
	}
	f.clock.Advance(5 * time.Second)
	want = []row{{"alice", 1, 0}, {"alice", 1, 12}, {"alice", 1, 12}, {"bob", 0, 12}, {"bob", 1, 12}}
	if got := listRows(t, c); !eqRows(got, want) {
		t.Errorf("second listing %+v, want %+v", got, want)
	}
}

// NetSessionDel logs held clients off for real: impacket's and go-smb2's
// next requests fail, and the sessions are gone from the table.
func TestSessionDelLogsOff(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var h *holder
	if _, err := os.Stat("/usr/bin/python3"); err == nil || os.Getenv("CI") == "true" {
		h = hold(t, python(t), f.port, "bob", "BobPass1", "3.0", 1)
	}
	bob := f.dial(t, "bob", "BobPass1", smb2.Dialect311)
	if _, err := bob.Mount("IPC$"); err != nil {
		t.Fatal(err)
	}
	alice := srvsvc(t, f.dial(t, "alice", "AlicePass1", 0))
	if err := alice.Delete(ctx, `\\127.0.0.1`, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return f.table.Len() == 1 })
	if _, err := bob.Mount("IPC$"); err == nil {
		t.Error("bob's session still works after NetSessionDel")
	}
	if h != nil {
		lines := h.release()
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "gone") {
			t.Errorf("impacket holder after deletion: %q", lines)
		}
	}
	// Deleting the caller's own session: the answer arrives first, then
	// the session is gone.
	if err := alice.Delete(ctx, `\\127.0.0.1`, "alice"); err != nil {
		t.Fatalf("own deletion: %v", err)
	}
	waitFor(t, func() bool { return f.table.Len() == 0 })
	if _, err := alice.EnumAll(ctx, 0, "", "", session.MaxPreferredLength); err == nil {
		t.Error("deleted caller's session still answers")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A deletion made directly on the table (as NetrSessionDel over
// ncacn_ip_tcp does) logs off one of two sessions sharing a connection:
// its next request fails with STATUS_USER_SESSION_DELETED, the other
// session and the connection go on.
func TestDeleteOneOfTwoSessionsOnAConnection(t *testing.T) {
	f := newFixture(t)
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	aliceSID, aliceSigner := c.sid, c.signer
	c.sid, c.signer = 0, nil
	c.login2("bob", "BobPass1", smb2.Dialect300)
	bobSID, bobSigner := c.sid, c.signer
	if f.table.Len() != 2 {
		t.Fatalf("%d sessions", f.table.Len())
	}
	admin := session.Caller{User: "root", Groups: []string{session.GroupAdministrators}}
	if n, err := f.table.Delete(context.Background(), admin, `\\127.0.0.1`, "bob"); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	tc := func(sid uint64, signer *smbcrypto.Signer) smb2.Status {
		c.sid, c.signer = sid, signer
		st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true)
		if err != nil {
			t.Fatalf("session %#x: %v", sid, err)
		}
		return st
	}
	waitFor(t, func() bool { return tc(bobSID, bobSigner) == smb2.StatusUserSessionDeleted })
	if st := tc(aliceSID, aliceSigner); st != smb2.StatusSuccess {
		t.Errorf("alice after bob's deletion: %v", st)
	}
}
