package smb2_test

import (
	"context"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// The project's own client (what `netsess list` and `netsess del` use)
// against the project's own SMB server: it sees its own session and
// another user's, and logs the other off.
func TestOwnClientOverSMB(t *testing.T) {
	f := newFixture(t)
	bob := f.dial(t, "bob", "BobPass1", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, f.addr, client.Options{Credentials: client.Credentials{User: "alice", Password: "AlicePass1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.EnumAll(ctx, session.Level1, client.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]int{}
	for _, s := range res.Sessions {
		users[s.UserName]++
	}
	if users["alice"] != 1 || users["bob"] != 1 || len(res.Sessions) != 2 {
		t.Fatalf("sessions %+v", res.Sessions)
	}
	if err := c.Delete(ctx, `\\127.0.0.1`, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return f.table.Len() == 1 })
	if _, err := bob.Mount("IPC$"); err == nil {
		t.Error("bob still logged on")
	}
}
