package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// With SMBAddr, Run serves SMB2/3: a client that logs on over SMB and
// enumerates through \PIPE\srvsvc sees its own session, with its address
// and user, and the pipe it holds; NetSessionDel over TCP logs it off.
func TestRunSMB(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	srv, err := New(Config{SMBAddr: "127.0.0.1:0", ReadyFile: ready})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, stop := runReady(t, ctx, srv)
	var fromFile Addrs
	if b, err := os.ReadFile(ready); err != nil || json.Unmarshal(b, &fromFile) != nil || fromFile != a || a.SMB == "" {
		t.Fatalf("ready file %s: %+v (%v), want %+v with smb", ready, fromFile, err, a)
	}

	alice := client.Credentials{User: "alice", Password: "AlicePass1"}
	c, err := client.Dial(ctx, a.SMB, client.Options{Transport: client.TransportSMB, Credentials: alice})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.EnumAll(ctx, session.Level502, client.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sessions) != 1 {
		t.Fatalf("sessions: %+v", res.Sessions)
	}
	s := res.Sessions[0]
	if s.ClientName != `\\127.0.0.1` || s.UserName != "alice" || s.NumOpens != 1 || s.Transport == "" {
		t.Errorf("own session: %+v", s.Info)
	}

	// An administrator on TCP closes alice's SMB session: it is logged off.
	admin, err := client.Dial(ctx, a.RPC, client.Options{Transport: client.TransportTCP, Credentials: alice})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Delete(ctx, `\\127.0.0.1`, "alice"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.EnumAll(ctx, session.Level10, client.Filter{}); err == nil {
		t.Error("the deleted SMB session still answers")
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Table().Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := srv.Table().Len(); n != 0 {
		t.Errorf("%d sessions left after the delete", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
