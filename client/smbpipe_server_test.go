package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/smbtest"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

// smbServer runs our own SMB server (package smb2) in-process on
// loopback, serving srvsvc over \PIPE\srvsvc with extra sessions of bob
// in its table besides the callers' own. alice is an administrator.
func smbServer(t testing.TB, extra int, opts ...func(*smb2.Server)) (*smb2.Server, string) {
	t.Helper()
	table := session.New(session.Options{})
	for i := range extra {
		if _, err := table.Open(session.Spec{Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), User: plainUser}); err != nil {
			t.Fatal(err)
		}
	}
	s := smbtest.Start(t, table, opts...)
	return s.SMB, s.Addr
}

// TestSMBPipeOwnServer runs the transport against our own SMB server:
// signing required (the server's default), encryption required, a guest
// refused where keys are needed, and one SMB2 exchange per call.
func TestSMBPipeOwnServer(t *testing.T) {
	adminC := client.Credentials{User: adminUser, Password: adminPass}
	for _, tc := range []struct {
		name string
		opt  func(*smb2.Server)
	}{
		{"signing required", func(*smb2.Server) {}},
		{"signing enabled", func(s *smb2.Server) { s.Signing = smb2.SigningEnabled }},
		{"encryption required", func(s *smb2.Server) { s.Encryption = smb2.EncryptionRequired }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := smbServer(t, 3, tc.opt)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, addr, client.Options{Transport: client.TransportSMB, Credentials: adminC})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.EnumAll(ctx, session.Level1, client.Filter{}); err != nil {
				t.Fatal(err)
			}
			before := srv.Stats().Commands
			const calls = 5
			for range calls {
				res, err := c.EnumAll(ctx, session.Level1, client.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Sessions) != 4 {
					t.Fatalf("%d sessions, want 4 (3 held and ours)", len(res.Sessions))
				}
			}
			after := srv.Stats().Commands
			for cmd, n := range after {
				if d := n - before[cmd]; d != 0 && (cmd != "ioctl" || d != calls) {
					t.Errorf("%d calls made %d %s requests; want one IOCTL per call and nothing else", calls, d, cmd)
				}
			}
		})
	}

	t.Run("guest where encryption is required", func(t *testing.T) {
		_, addr := smbServer(t, 0, func(s *smb2.Server) { s.Encryption = smb2.EncryptionRequired; s.AllowAnonymous = true })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.DialSMBPipe(ctx, addr, client.Credentials{Anonymous: true}, client.SMBPipeOptions{})
		if client.KindOf(err) != client.KindLogonFailure {
			t.Errorf("anonymous on an encrypting server: %v, want a logon failure", err)
		}
	})
	// Our server maps unknown users to guest under AllowGuest, unsigned:
	// refused unless the client accepts guests.
	t.Run("guest outcome", func(t *testing.T) {
		_, addr := smbServer(t, 0, func(s *smb2.Server) { s.AllowGuest = true; s.Auth.(*ntlm.Server).Accounts.Guest = true })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		visitor := client.Credentials{User: "visitor", Password: "anything"}
		_, err := client.DialSMBPipe(ctx, addr, visitor, client.SMBPipeOptions{})
		if client.KindOf(err) != client.KindLogonFailure || !errors.Is(err, client.ErrGuestLogon) {
			t.Errorf("guest outcome by default: %v, want a logon failure (ErrGuestLogon)", err)
		}
		c, err := client.Dial(ctx, addr, client.Options{Credentials: visitor, AllowGuest: true})
		if err != nil {
			t.Fatalf("guest outcome with AllowGuest: %v", err)
		}
		defer c.Close()
		if _, err := c.EnumAll(ctx, session.Level1, client.Filter{}); !errors.Is(err, client.ErrAccessDenied) {
			t.Errorf("guest enumerating: %v, want access denied", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, addr := smbServer(t, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.DialSMBPipe(ctx, addr, client.Credentials{User: adminUser, Password: "nope"}, client.SMBPipeOptions{})
		kind, se := smbKindOf(t, err)
		if kind != client.KindLogonFailure || se == nil || se.Status != ntstatus.LogonFailure || se.Op != "session setup" {
			t.Errorf("got %v %+v, want a logon failure with STATUS_LOGON_FAILURE", kind, se)
		}
	})
}

// BenchmarkPipeEnum measures NetrSessionEnum level 1 with 200 sessions
// held, over the SMB named pipe to our own server in-process (SMB 3.1.1,
// signed, and encrypted): one FSCTL_PIPE_TRANSCEIVE per call.
func BenchmarkPipeEnum(b *testing.B) {
	for _, tc := range []struct {
		name string
		enc  smb2.EncryptionPolicy
	}{{"level1/200/signed", smb2.EncryptionOff}, {"level1/200/encrypted", smb2.EncryptionRequired}} {
		b.Run(tc.name, func(b *testing.B) {
			_, addr := smbServer(b, 199, func(s *smb2.Server) { s.Encryption = tc.enc })
			benchEnumAll(b, addr, client.Options{Transport: client.TransportSMB,
				Credentials: client.Credentials{User: adminUser, Password: adminPass}}, 200)
		})
	}
}

// TestSMBPipeStream checks the stream SMBPipe makes of the pipe, on a
// pipe that answers like DCE/RPC (only once a request is complete): a
// written PDU is held and sent by the next Read's transceive; a second
// Write first sends the held one as a WRITE (the fragments of a long
// request); a Read with nothing held is a READ (the fragments of a long
// answer); Close sends a PDU still held.
func TestSMBPipeStream(t *testing.T) {
	// The pipe collects messages until one ends with '.', then answers
	// with what it collected, twice if that was "twice.".
	echo := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		buf := make([]byte, 1<<16)
		var req []byte
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil
			}
			req = append(req, buf[:n]...)
			if n == 0 || buf[n-1] != '.' {
				continue
			}
			for range 1 + strings.Count(string(req), "twice.") {
				if _, err := conn.Write(req); err != nil {
					return nil
				}
			}
			req = nil
		}
	}
	srv, addr := smbServer(t, 0, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"echo": smb2.PipeHandler(echo)}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pipe, err := client.DialSMBPipe(ctx, addr, client.Credentials{User: adminUser, Password: adminPass}, client.SMBPipeOptions{Pipe: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	count := func() map[string]int64 { return srv.Stats().Commands }
	delta := func(before map[string]int64) map[string]int64 {
		d := map[string]int64{}
		for k, v := range count() {
			if v != before[k] {
				d[k] = v - before[k]
			}
		}
		return d
	}
	read := func(n int) string {
		t.Helper()
		b := make([]byte, n)
		if _, err := io.ReadFull(pipe, b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write := func(s string) {
		t.Helper()
		if n, err := pipe.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}

	before := count()
	write("first.")
	if d := delta(before); len(d) != 0 {
		t.Errorf("Write sent %v; want it held", d)
	}
	if got := read(6); got != "first." {
		t.Errorf("read %q", got)
	}
	if d := delta(before); len(d) != 1 || d["ioctl"] != 1 {
		t.Errorf("one call made %v; want one ioctl", d)
	}

	before = count()
	write("one,")
	write("two.")
	if got := read(8); got != "one,two." {
		t.Errorf("read %q", got)
	}
	if d := delta(before); len(d) != 2 || d["write"] != 1 || d["ioctl"] != 1 {
		t.Errorf("a request in two writes made %v; want a write and an ioctl", d)
	}

	before = count()
	write("twice.")
	if got := read(12); got != "twice.twice." {
		t.Errorf("read %q", got)
	}
	if d := delta(before); len(d) != 2 || d["ioctl"] != 1 || d["read"] != 1 {
		t.Errorf("an answer in two messages made %v; want an ioctl and a read", d)
	}

	before = count()
	write("last.")
	if err := pipe.Close(); err != nil {
		t.Fatal(err)
	}
	if d := delta(before); d["write"] != 1 || d["ioctl"] != 0 {
		t.Errorf("Close made %v; want the held PDU written", d)
	}
	if _, err := pipe.Read(make([]byte, 4)); err == nil {
		t.Error("Read after Close succeeded")
	}
	if _, err := pipe.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// TestSMBPipeCloseDuringTransceive: Close while a Read waits in the
// transceive of a held PDU breaks that Read at once, touches none of the
// state the Read owns (run with -race), and reports no error: the
// connection is closed as Close promises.
func TestSMBPipeCloseDuringTransceive(t *testing.T) {
	// The pipe takes a request, then works on it forever.
	hang := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		if _, err := conn.Read(make([]byte, 1<<16)); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	}
	_, addr := smbServer(t, 0, func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{"hang": smb2.PipeHandler(hang)}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pipe, err := client.DialSMBPipe(ctx, addr, client.Credentials{User: adminUser, Password: adminPass}, client.SMBPipeOptions{Pipe: "hang"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipe.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	if err := closeInterruptsRead(t, pipe); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// closeInterruptsRead starts a Read of pipe that must wait for the
// server, closes the pipe and checks that the Read fails at once. It
// returns Close's error.
func closeInterruptsRead(t *testing.T, pipe *client.SMBPipe) error {
	t.Helper()
	return smbtest.CloseInterruptsRead(t, func() error {
		_, err := pipe.Read(make([]byte, 16))
		return err
	}, pipe.Close)
}
