package smb2_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// A session deleted while its pipe is still busy (the handler has not
// come back for more input) may collect what is in flight, but a new
// WRITE is refused with STATUS_USER_SESSION_DELETED at once, not served
// until the pipe goes quiet.
func TestDeletedSessionStartsNothing(t *testing.T) {
	busy := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		var b [1]byte
		if _, err := conn.Read(b[:]); err != nil {
			return err
		}
		if _, err := conn.Write([]byte("pong")); err != nil {
			return err
		}
		<-ctx.Done() // never reads again: the pipe never goes idle
		return nil
	}
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"busy": smb2.PipeHandler(busy)}
		s.Timeouts.LogoffGrace = time.Minute
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "busy")
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte{1}, 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	if st, _, err := c.do(c.build(wire.CmdRead, readBody(fid, 64)), true); err != nil || st != 0 {
		t.Fatalf("read: %v %v", st, err)
	}
	admin := session.Caller{User: "root", Groups: []string{session.GroupAdministrators}}
	if n, err := f.table.Delete(context.Background(), admin, `\\127.0.0.1`, "bob"); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	waitFor(t, func() bool {
		st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte{2}, 0)), true)
		if err != nil {
			t.Fatal(err)
		}
		return st == smb2.StatusUserSessionDeleted
	})
	// Closing is still allowed; then nothing holds the session.
	if st, _, err := c.do(c.build(wire.CmdClose, append(le.AppendUint16(nil, 24), append(make([]byte, 6), fid...)...)), true); err != nil || st != 0 {
		t.Fatalf("close: %v %v", st, err)
	}
}

// A session deleted while its pipe's handler is at work is logged off as
// soon as the handler comes back for input, with no request from the
// client to notice it and long before LogoffGrace: the connection, left
// without sessions, closes.
func TestDeletedSessionEndsWhenPipeGoesQuiet(t *testing.T) {
	release := make(chan struct{})
	working := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		var b [1]byte
		if _, err := conn.Read(b[:]); err != nil {
			return err
		}
		<-release // at work on the call, no answer yet
		_, err := conn.Read(b[:])
		return err
	}
	f := newFixture(t, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"working": smb2.PipeHandler(working)}
		s.Timeouts.LogoffGrace = time.Minute
	})
	c, fid := openPipe(t, f, "bob", "BobPass1", "working")
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte{1}, 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	admin := session.Caller{User: "root", Groups: []string{session.GroupAdministrators}}
	if n, err := f.table.Delete(context.Background(), admin, `\\127.0.0.1`, "bob"); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	time.Sleep(50 * time.Millisecond) // the deletion reaches the connection
	close(release)
	closedWithin(t, c, 0)
}
