package client_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/srvs"
)

// smbClosedPort returns a loopback port nothing listens on.
func smbClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// smbKindOf returns the Kind of a client error and the SMB layer's error
// it wraps, if any, checking that the NTSTATUS is reported once and the
// same at both layers.
func smbKindOf(t *testing.T, err error) (client.Kind, *pipeclient.Error) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *client.Error", err, err)
	}
	var pe *pipeclient.Error
	if errors.As(err, &pe) && pe.Status != ce.NTStatus {
		t.Fatalf("NTSTATUS %v in the client error, %v in the SMB error", ce.NTStatus, pe.Status)
	}
	if pe != nil && strings.Count(err.Error(), pe.Status.String()) > 1 {
		t.Errorf("%q repeats the status", err)
	}
	return ce.Kind, pe
}

// TestSMBPipeDialFailures covers the failures that need no SMB server:
// nothing listening, a server that never answers, a cancelled context,
// credentials that cannot be sent, a bad address.
func TestSMBPipeDialFailures(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c // never answers; closed at the end
		}
	}()
	defer func() {
		silent.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	alice := client.Credentials{User: "alice", Password: "pw"}
	tests := []struct {
		name    string
		addr    string
		cred    client.Credentials
		timeout time.Duration
		cancel  bool
		want    client.Kind
		is      error
	}{
		{name: "refused", addr: smbClosedPort(t), cred: alice, want: client.KindUnreachable, is: client.ErrUnreachable},
		{name: "silent server", addr: silent.Addr().String(), cred: alice, timeout: 200 * time.Millisecond,
			want: client.KindTimeout, is: context.DeadlineExceeded},
		{name: "cancelled", addr: silent.Addr().String(), cred: alice, cancel: true,
			want: client.KindCanceled, is: context.Canceled},
		{name: "anonymous with a password", addr: silent.Addr().String(),
			cred: client.Credentials{Anonymous: true, Password: "x"}, want: client.KindLogonFailure},
		{name: "short hash", addr: silent.Addr().String(),
			cred: client.Credentials{User: "a", NTHash: []byte{1, 2}}, want: client.KindLogonFailure},
		{name: "bad address", addr: "127.0.0.1:99999", cred: alice, want: client.KindProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var cancel context.CancelFunc = func() {}
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
			}
			if tt.cancel {
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			defer cancel()
			start := time.Now()
			p, err := client.DialSMBPipe(ctx, tt.addr, tt.cred, client.SMBPipeOptions{})
			if err == nil {
				p.Close()
				t.Fatal("DialSMBPipe succeeded")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			kind, _ := smbKindOf(t, err)
			if kind != tt.want {
				t.Errorf("kind %v, want %v (%v)", kind, tt.want, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// startPeer starts a private Samba for the test.
func startPeer(t *testing.T) *sambapeer.Peer {
	t.Helper()
	sambapeer.RequireImpacket(t)
	return sambapeer.Start(t, sambapeer.Options{})
}

func dialPipe(t *testing.T, p *sambapeer.Peer, cred client.Credentials, opt client.SMBPipeOptions) (*client.SMBPipe, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt.Port = p.Port
	return client.DialSMBPipe(ctx, sambapeer.Host, cred, opt)
}

// srvsvcSyntax is srvsvc v3.0, built from the interface's string form: the
// transport tests bind with it so that they depend on nothing but the
// dcerpc package.
var srvsvcSyntax = dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID(srvs.InterfaceUUID), Major: 3}

var adminCred = client.Credentials{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword}

// TestSMBPipeSamba runs srvsvc over the pipe against a real Samba: the
// logon forms, multi-fragment responses, the failures the server decides,
// and a clean close.
func TestSMBPipeSamba(t *testing.T) {
	p := startPeer(t)
	// 40 sessions make a level-1 answer of about 3,700 bytes: two
	// fragments at the 2,048-byte fragment size asked for below.
	p.HoldT(t, sambapeer.Session{User: sambapeer.User, Password: sambapeer.UserPassword, From: "127.0.0.2", Count: 40})

	enum := func(t *testing.T, pipe *client.SMBPipe, level session.Level, cfg dcerpc.ClientConfig) (*srvs.EnumResult, *dcerpc.Client, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rpc := dcerpc.NewClient(pipe, cfg)
		if err := rpc.Bind(ctx, srvsvcSyntax); err != nil {
			t.Fatalf("bind: %v", err)
		}
		stub := srvs.NewClient(rpc)
		res, err := stub.EnumAll(ctx, level, "", "", session.MaxPreferredLength)
		return res, rpc, err
	}

	t.Run("fragments", func(t *testing.T) {
		pipe, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer pipe.Close()
		res, rpc, err := enum(t, pipe, 1, dcerpc.ClientConfig{MaxXmitFrag: 2048, MaxRecvFrag: 2048})
		if err != nil {
			t.Fatal(err)
		}
		if n := rpc.Negotiated().MaxRecvFrag; n > 2048 {
			t.Errorf("negotiated fragment %d, want <= 2048 (the test needs several fragments)", n)
		}
		if len(res.Entries) != 41 {
			t.Errorf("%d entries, want 41 (40 held + ours)", len(res.Entries))
		}
		bobs := 0
		for _, e := range res.Entries {
			if e.UserName == sambapeer.User && e.ClientName == "127.0.0.2" {
				bobs++
			}
		}
		if bobs != 40 {
			t.Errorf("%d sessions of %s from 127.0.0.2, want 40", bobs, sambapeer.User)
		}
		// The same association goes on working after a multi-fragment
		// answer: the stream is at a PDU boundary.
		stub := srvs.NewClient(rpc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := stub.EnumAll(ctx, 0, "", "", session.MaxPreferredLength); err != nil {
			t.Fatalf("second call: %v", err)
		}
	})

	logons := []struct {
		name string
		cred client.Credentials
		opt  client.SMBPipeOptions
		// enum is the status of NetrSessionEnum level 1 for that logon.
		enum session.Status
	}{
		{name: "password", cred: adminCred},
		{name: "NT hash", cred: client.Credentials{User: sambapeer.AdminUser, NTHash: hashOf(sambapeer.AdminPassword)}},
		{name: "domain", cred: client.Credentials{User: `NSPTEST\` + sambapeer.AdminUser, Password: sambapeer.AdminPassword}},
		{name: "plain user", cred: client.Credentials{User: sambapeer.User, Password: sambapeer.UserPassword}, enum: session.StatusAccessDenied},
		{name: "anonymous", cred: client.Credentials{Anonymous: true}, enum: session.StatusAccessDenied},
		{name: "guest (unknown user) when allowed", cred: client.Credentials{User: "nsp_mistyped", Password: "x"}, opt: client.SMBPipeOptions{AllowGuest: true}, enum: session.StatusAccessDenied},
	}
	for _, tt := range logons {
		t.Run(tt.name, func(t *testing.T) {
			pipe, err := dialPipe(t, p, tt.cred, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer pipe.Close()
			_, _, err = enum(t, pipe, 1, dcerpc.ClientConfig{})
			if tt.enum == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.enum) {
				t.Fatalf("enum: %v, want %v", err, tt.enum)
			}
		})
	}

	t.Run("guest (unknown user) refused by default", func(t *testing.T) {
		_, err := dialPipe(t, p, client.Credentials{User: "nsp_mistyped", Password: "x"}, client.SMBPipeOptions{})
		if kind, _ := smbKindOf(t, err); kind != client.KindLogonFailure || !errors.Is(err, client.ErrGuestLogon) {
			t.Errorf("kind %v (%v), want a logon failure for the guest outcome", kind, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := dialPipe(t, p, client.Credentials{User: sambapeer.AdminUser, Password: "wrong"}, client.SMBPipeOptions{})
		kind, se := smbKindOf(t, err)
		if kind != client.KindLogonFailure || !errors.Is(err, client.ErrLogonFailure) {
			t.Errorf("kind %v, want logon failure (%v)", kind, err)
		}
		if se == nil || se.Status != ntstatus.LogonFailure || se.Op != "session setup" {
			t.Errorf("want STATUS_LOGON_FAILURE in a session setup *pipeclient.Error, got %v", err)
		}
	})
	t.Run("no such pipe", func(t *testing.T) {
		_, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{Pipe: "nsp_nosuchpipe"})
		kind, se := smbKindOf(t, err)
		if kind != client.KindProtocol || se == nil || se.Status != ntstatus.ObjectNameNotFound || se.Op != "create" {
			t.Errorf("got kind %v, %#v (%v); want protocol error, open, STATUS_OBJECT_NAME_NOT_FOUND", kind, se, err)
		}
	})
	t.Run("clean close", func(t *testing.T) {
		count := func() int {
			pipe, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer pipe.Close()
			res, _, err := enum(t, pipe, 0, dcerpc.ClientConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return len(res.Entries)
		}
		before := count()
		// Each count's own session is gone once its pipe is closed: the
		// next count sees the same number.
		deadline := time.Now().Add(5 * time.Second)
		for {
			after := count()
			if after == before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sessions %d after a closed pipe, want %d", after, before)
			}
			time.Sleep(50 * time.Millisecond)
		}
		pipe, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := pipe.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := pipe.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := pipe.Write([]byte{5, 0}); err == nil {
			t.Error("Write after Close succeeded")
		}
	})
	t.Run("close interrupts a read", func(t *testing.T) {
		pipe, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Nothing was written: the read waits for the server.
		if err := closeInterruptsRead(t, pipe); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Run("deadline breaks the pipe", func(t *testing.T) {
		pipe, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer pipe.Close()
		// Nothing was written: a read waits for the server until the
		// deadline.
		pipe.SetDeadline(time.Now().Add(200 * time.Millisecond))
		start := time.Now()
		_, err = pipe.Read(make([]byte, 16))
		if err == nil {
			t.Fatal("read without a request returned data")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("read returned after %v", d)
		}
		kind, _ := smbKindOf(t, err)
		if kind != client.KindTimeout || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("kind %v (%v), want a timeout", kind, err)
		}
	})
}

func hashOf(pw string) []byte {
	h := ntlm.NTHash(pw)
	return h[:]
}

// TestSMBPipeSambaSealed: a server that requires signing and encryption.
// The client follows what the server asks for; guest and anonymous
// sessions, which have no keys, are refused.
func TestSMBPipeSambaSealed(t *testing.T) {
	sambapeer.Require(t)
	p := sambapeer.Start(t, sambapeer.Options{ServerSigning: "mandatory", ServerEncrypt: "required", NoWarm: true})
	pipe, err := dialPipe(t, p, adminCred, client.SMBPipeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rpc := dcerpc.NewClient(pipe, dcerpc.ClientConfig{})
	if err := rpc.Bind(ctx, srvsvcSyntax); err != nil {
		t.Fatal(err)
	}
	res, err := srvs.NewClient(rpc).EnumAll(ctx, 1, "", "", session.MaxPreferredLength)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].UserName != sambapeer.AdminUser {
		t.Errorf("want our own session only: %+v", res.Entries)
	}
	for _, cred := range []client.Credentials{{Anonymous: true}, {User: "nsp_mistyped", Password: "x"}} {
		_, err := dialPipe(t, p, cred, client.SMBPipeOptions{})
		if err == nil {
			t.Errorf("%+v: logon without keys accepted by a server requiring signing", cred)
			continue
		}
		if kind, _ := smbKindOf(t, err); kind != client.KindLogonFailure {
			t.Errorf("%+v: %v, want a logon failure", cred, err)
		}
	}
}

// TestSMBPipeSambaIPv6: an IPv6 literal in brackets, with a port.
func TestSMBPipeSambaIPv6(t *testing.T) {
	sambapeer.Require(t)
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	p := sambapeer.Start(t, sambapeer.Options{IPv6: true, NoWarm: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, net.JoinHostPort("::1", strconv.Itoa(p.Port)), client.Options{Transport: client.TransportSMB, Credentials: adminCred})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.EnumAll(ctx, session.Level1, client.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sessions) != 1 || res.Sessions[0].ClientName != "::1" {
		t.Errorf("want our own session from ::1: %+v", res.Sessions)
	}
}
