package pipeclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/msgstream"
	"github.com/netsession/netsession/internal/smbtest"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/srvs"
)

// fixture is our own SMB server on loopback with alice (Administrators)
// and bob, serving srvsvc and two test pipes: "echo" answers each message
// with itself, "big" answers each message with 100,000 bytes of a pattern.
type fixture struct {
	table *session.Table
	srv   *smb2.Server
	addr  string
}

const bigAnswer = 100000

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func newFixture(t testing.TB, opts ...func(*smb2.Server)) *fixture {
	t.Helper()
	echo := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		buf := make([]byte, 1<<16)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return nil
			}
		}
	}
	big := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		buf := make([]byte, 1<<16)
		for {
			if _, err := conn.Read(buf); err != nil {
				return nil
			}
			if _, err := conn.Write(pattern(bigAnswer)); err != nil {
				return nil
			}
		}
	}
	slow := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		buf := make([]byte, 1<<16)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil
			}
			select {
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return nil
			}
		}
	}
	hang := func(ctx context.Context, conn net.Conn, _ session.Caller) error {
		// Takes a request, then works on it forever.
		if _, err := conn.Read(make([]byte, 1<<16)); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	}
	pipes := func(s *smb2.Server) {
		s.Pipes = map[string]smb2.PipeService{
			"srvsvc": smb2.RPCPipe(s.RPC, "srvsvc"),
			"echo":   smb2.PipeHandler(echo),
			"big":    smb2.PipeHandler(big),
			"slow":   smb2.PipeHandler(slow),
			"hang":   smb2.PipeHandler(hang),
		}
		s.Limits.MaxPipeBuffer = 1 << 20
	}
	s := smbtest.Start(t, nil, append([]func(*smb2.Server){pipes}, opts...)...)
	f := &fixture{table: s.Table, srv: s.SMB, addr: s.Addr}
	return f
}

func (f *fixture) dial(t testing.TB, opt pipeclient.Options) (*pipeclient.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	c, err := pipeclient.Dial(ctx, nc, opt)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// open dials f as alice and opens the pipe name, failing the test on any
// error.
func (f *fixture) open(t testing.TB, name string) (*pipeclient.Conn, *pipeclient.Pipe) {
	t.Helper()
	c, err := f.dial(t, pipeclient.Options{Auth: alice()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.OpenPipe(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

func alice() *ntlm.Client { return &ntlm.Client{User: "alice", Password: "AlicePass1"} }

// rpcStream turns a Pipe into the stream dcerpc.Client runs on, the way
// package client does: a written PDU goes out in the next transceive.
func rpcStream(p *pipeclient.Pipe) *msgstream.Stream {
	ctx := context.Background()
	return &msgstream.Stream{
		Send: func(b []byte) error { _, err := p.Write(ctx, b); return err },
		Recv: func(buf []byte) (int, error) { n, _, err := p.Read(ctx, buf); return n, err },
		Transact: func(b, buf []byte) (int, error) {
			n, _, err := p.Transceive(ctx, b, buf)
			return n, err
		},
	}
}

// bindSrvs opens the srvsvc pipe on c and binds a srvsvc client over it.
func bindSrvs(t testing.TB, ctx context.Context, c *pipeclient.Conn) (*pipeclient.Pipe, *srvs.Client) {
	t.Helper()
	p, err := c.OpenPipe(ctx, "srvsvc")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := srvs.Bind(ctx, dcerpc.NewClient(rpcStream(p), dcerpc.ClientConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	return p, cl
}

func enumOver(t testing.TB, c *pipeclient.Conn) *srvs.EnumResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, cl := bindSrvs(t, ctx, c)
	res, err := cl.EnumAll(ctx, 1, "", "", session.MaxPreferredLength)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDialects runs srvsvc over every dialect, signing algorithm and
// cipher our server offers.
func TestDialects(t *testing.T) {
	type tc struct {
		name     string
		dialects []uint16
		signAlgs []uint16
		ciphers  []uint16
		enc      smb2.EncryptionPolicy
		signing  smb2.SigningPolicy
		reqSign  bool
		wantSign bool
		wantAlg  uint16
		wantEnc  uint16
	}
	tests := []tc{
		{name: "2.0.2", dialects: []uint16{pipeclient.Dialect202}, wantSign: true, wantAlg: pipeclient.SigningHMACSHA256},
		{name: "2.1", dialects: []uint16{pipeclient.Dialect210}, wantSign: true, wantAlg: pipeclient.SigningHMACSHA256},
		{name: "3.0", dialects: []uint16{pipeclient.Dialect300}, wantSign: true, wantAlg: pipeclient.SigningAESCMAC},
		{name: "3.0.2", dialects: []uint16{pipeclient.Dialect302}, wantSign: true, wantAlg: pipeclient.SigningAESCMAC},
		{name: "3.1.1 GMAC", wantSign: true, wantAlg: pipeclient.SigningAESGMAC},
		{name: "3.1.1 CMAC", signAlgs: []uint16{pipeclient.SigningAESCMAC}, wantSign: true, wantAlg: pipeclient.SigningAESCMAC},
		{name: "3.1.1 signing enabled, not required", signing: smb2.SigningEnabled, wantSign: true, wantAlg: pipeclient.SigningAESGMAC},
		{name: "3.1.1 signing asked by client", signing: smb2.SigningEnabled, reqSign: true, wantSign: true, wantAlg: pipeclient.SigningAESGMAC},
		{name: "2.1 signing enabled, not required", dialects: []uint16{pipeclient.Dialect210}, signing: smb2.SigningEnabled, wantSign: true, wantAlg: pipeclient.SigningHMACSHA256},
		{name: "3.0 encrypted", dialects: []uint16{pipeclient.Dialect300}, enc: smb2.EncryptionRequired, wantSign: true, wantAlg: pipeclient.SigningAESCMAC, wantEnc: pipeclient.CipherAES128CCM},
		{name: "3.0.2 encrypted", dialects: []uint16{pipeclient.Dialect302}, enc: smb2.EncryptionDesired, wantSign: true, wantAlg: pipeclient.SigningAESCMAC, wantEnc: pipeclient.CipherAES128CCM},
	}
	for _, id := range []uint16{pipeclient.CipherAES128GCM, pipeclient.CipherAES128CCM, pipeclient.CipherAES256GCM, pipeclient.CipherAES256CCM} {
		tests = append(tests, tc{name: fmt.Sprintf("3.1.1 cipher %#x", id), ciphers: []uint16{id}, enc: smb2.EncryptionRequired,
			wantSign: true, wantAlg: pipeclient.SigningAESGMAC, wantEnc: id})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(s *smb2.Server) { s.Encryption = tt.enc; s.Signing = tt.signing })
			c, err := f.dial(t, pipeclient.Options{Auth: alice(), Dialects: tt.dialects, SigningAlgorithms: tt.signAlgs, Ciphers: tt.ciphers, RequireSigning: tt.reqSign})
			if err != nil {
				t.Fatal(err)
			}
			want := tt.dialects
			if want == nil {
				want = []uint16{pipeclient.Dialect311}
			}
			if c.Dialect() != want[0] {
				t.Errorf("dialect %#x, want %#x", c.Dialect(), want[0])
			}
			if on, alg := c.Signing(); on != tt.wantSign || alg != tt.wantAlg {
				t.Errorf("signing %v alg %d, want %v %d", on, alg, tt.wantSign, tt.wantAlg)
			}
			on, id := c.Encrypting()
			if on != (tt.wantEnc != 0) || (on && id != tt.wantEnc) {
				t.Errorf("encryption %v %#x, want %#x", on, id, tt.wantEnc)
			}
			res := enumOver(t, c)
			if len(res.Entries) != 1 || res.Entries[0].UserName != "alice" {
				t.Errorf("entries %+v, want alice's own session", res.Entries)
			}
			if err := c.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestTransceiveOverflow: an answer longer than the transceive's output
// comes back as STATUS_BUFFER_OVERFLOW, and READs fetch the rest.
func TestTransceiveOverflow(t *testing.T) {
	for _, enc := range []smb2.EncryptionPolicy{smb2.EncryptionOff, smb2.EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) {
			f := newFixture(t, func(s *smb2.Server) { s.Encryption = enc })
			c, p := f.open(t, `\PIPE\big`)
			ctx := context.Background()
			buf := make([]byte, 4096)
			var got []byte
			n, more, err := p.Transceive(ctx, []byte("go"), buf)
			if err != nil {
				t.Fatal(err)
			}
			if !more || n != len(buf) {
				t.Fatalf("transceive: %d bytes, more %v; want %d and more", n, more, len(buf))
			}
			got = append(got, buf[:n]...)
			for more {
				n, more, err = p.Read(ctx, buf)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, buf[:n]...)
			}
			if !bytes.Equal(got, pattern(bigAnswer)) {
				t.Errorf("got %d bytes, not the %d-byte pattern", len(got), bigAnswer)
			}
			// Echo: write then read, and transceive.
			e, err := c.OpenPipe(ctx, "echo")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Write(ctx, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if n, more, err := e.Read(ctx, buf); err != nil || more || string(buf[:n]) != "hello" {
				t.Fatalf("read %q more %v err %v", buf[:n], more, err)
			}
			msg := pattern(60000)
			big := make([]byte, 65536)
			if n, more, err := e.Transceive(ctx, msg, big); err != nil || more || !bytes.Equal(big[:n], msg) {
				t.Fatalf("transceive echo: %d bytes more %v err %v", n, more, err)
			}
			if err := e.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLogons: wrong password, unknown pipe, guest and anonymous logons.
func TestLogons(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.AllowAnonymous = true })
	_, err := f.dial(t, pipeclient.Options{Auth: &ntlm.Client{User: "alice", Password: "wrong"}})
	var pe *pipeclient.Error
	if !errors.As(err, &pe) || pe.Status != ntstatus.LogonFailure || pe.Op != "session setup" {
		t.Errorf("wrong password: %v, want STATUS_LOGON_FAILURE in session setup", err)
	}
	if !errors.Is(err, pipeclient.ErrStatus) {
		t.Errorf("wrong password: errors.Is(ErrStatus) false")
	}

	c, err := f.dial(t, pipeclient.Options{Auth: &ntlm.Client{}})
	if err != nil {
		t.Fatalf("anonymous: %v", err)
	}
	if !c.Guest() {
		t.Error("anonymous session not flagged")
	}
	if on, _ := c.Signing(); on {
		t.Error("anonymous session signs")
	}
	_, err = c.OpenPipe(context.Background(), "nosuchpipe")
	if !errors.As(err, &pe) || pe.Status != ntstatus.ObjectNameNotFound {
		t.Errorf("no such pipe: %v", err)
	}
	// The connection survives a failure status.
	if _, err := c.OpenPipe(context.Background(), "srvsvc"); err != nil {
		t.Errorf("open after a failure: %v", err)
	}

	if _, err := f.dial(t, pipeclient.Options{Auth: &ntlm.Client{}, RequireSigning: true}); !errors.Is(err, pipeclient.ErrNoKeys) {
		t.Errorf("anonymous with signing required: %v, want ErrNoKeys", err)
	}
	g := newFixture(t) // no anonymous logons
	if _, err := g.dial(t, pipeclient.Options{Auth: &ntlm.Client{}}); !errors.As(err, &pe) || pe.Status != ntstatus.LogonFailure {
		t.Errorf("anonymous refused: %v", err)
	}
	// Encryption required by the client, not offered by the server.
	if _, err := g.dial(t, pipeclient.Options{Auth: alice(), RequireEncryption: true}); !errors.Is(err, pipeclient.ErrNoKeys) {
		t.Errorf("encryption required, server without: %v, want ErrNoKeys", err)
	}
	// An unknown user mapped to guest: no keys, no signing.
	guests, err := ntlm.NewAccounts("NETSESS", true, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1")})
	if err != nil {
		t.Fatal(err)
	}
	gf := newFixture(t, func(s *smb2.Server) {
		s.AllowGuest = true
		s.Auth = &ntlm.Server{Accounts: guests, ComputerName: "NETSESS"}
	})
	c, err = gf.dial(t, pipeclient.Options{Auth: &ntlm.Client{User: "stranger", Password: "x"}})
	if err != nil {
		t.Fatalf("guest: %v", err)
	}
	if on, _ := c.Signing(); on || !c.Guest() {
		t.Errorf("guest session: signing %v, guest %v", on, c.Guest())
	}
	if _, err := c.OpenPipe(context.Background(), "srvsvc"); err != nil {
		t.Errorf("guest open: %v", err)
	}
	if _, err := gf.dial(t, pipeclient.Options{Auth: &ntlm.Client{User: "stranger", Password: "x"}, RequireSigning: true}); !errors.Is(err, pipeclient.ErrNoKeys) {
		t.Errorf("guest with signing required: %v, want ErrNoKeys", err)
	}
	// Encryption required by the client and offered: it is used.
	h := newFixture(t, func(s *smb2.Server) { s.Encryption = smb2.EncryptionDesired })
	c, err = h.dial(t, pipeclient.Options{Auth: alice(), RequireEncryption: true})
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := c.Encrypting(); !on {
		t.Error("not encrypting")
	}
	enumOver(t, c)
}

// TestPending: an answer that takes time comes after an interim
// STATUS_PENDING answer, in clear and encrypted.
func TestPending(t *testing.T) {
	for _, enc := range []smb2.EncryptionPolicy{smb2.EncryptionOff, smb2.EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) {
			f := newFixture(t, func(s *smb2.Server) { s.Encryption = enc })
			_, p := f.open(t, "slow")
			ctx := context.Background()
			buf := make([]byte, 100)
			if n, _, err := p.Transceive(ctx, []byte("ping"), buf); err != nil || string(buf[:n]) != "ping" {
				t.Fatalf("transceive: %q, %v", buf[:n], err)
			}
			if _, err := p.Write(ctx, []byte("pong")); err != nil {
				t.Fatal(err)
			}
			if n, _, err := p.Read(ctx, buf); err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("read: %q, %v", buf[:n], err)
			}
		})
	}
}

// TestContext: a cancelled context or an expired deadline ends a read
// that waits for data, and breaks the connection.
func TestContext(t *testing.T) {
	f := newFixture(t)
	_, p := f.open(t, "slow")
	if _, err := p.Write(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := p.Read(ctx, make([]byte, 100))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if _, err := p.Write(context.Background(), []byte("x")); !errors.Is(err, pipeclient.ErrClosed) {
		t.Errorf("write after a broken exchange: %v, want ErrClosed", err)
	}

	c2, p2 := f.open(t, "slow")
	if _, err := p2.Write(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	c2.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := p2.Read(context.Background(), make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := f.dial(t, pipeclient.Options{Auth: alice(), Host: "x"}); err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeclient.Dial(cctx, nc, pipeclient.Options{Host: "h", Auth: alice()}); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a cancelled context: %v", err)
	}
}

// TestCloseInterrupts: Close while another goroutine waits for an answer
// that never comes ends that wait at once.
func TestCloseInterrupts(t *testing.T) {
	f := newFixture(t)
	c, p := f.open(t, "hang")
	ctx := context.Background()
	if _, err := p.Write(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	smbtest.CloseInterruptsRead(t, func() error {
		_, _, err := p.Read(ctx, make([]byte, 10))
		return err
	}, func() error { return c.Close(ctx) })
	if _, err := c.OpenPipe(ctx, "echo"); !errors.Is(err, pipeclient.ErrClosed) {
		t.Errorf("open after Close: %v, want ErrClosed", err)
	}
}

// TestConcurrentPipes: several goroutines share one Conn, each on its own
// pipe; the exchanges are serialised and each gets its own answers.
func TestConcurrentPipes(t *testing.T) {
	f := newFixture(t)
	c, err := f.dial(t, pipeclient.Options{Auth: alice()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	errc := make(chan error, 4)
	for g := range 4 {
		go func() {
			p, err := c.OpenPipe(ctx, "echo")
			if err != nil {
				errc <- err
				return
			}
			buf := make([]byte, 100)
			for i := range 50 {
				msg := fmt.Sprintf("goroutine %d message %d", g, i)
				n, _, err := p.Transceive(ctx, []byte(msg), buf)
				if err != nil {
					errc <- err
					return
				}
				if string(buf[:n]) != msg {
					errc <- fmt.Errorf("got %q, want %q", buf[:n], msg)
					return
				}
			}
			errc <- p.Close(ctx)
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// TestBadHost: a host name that is empty, too long for the TREE_CONNECT
// path or able to reshape it is refused before anything is sent.
func TestBadHost(t *testing.T) {
	for _, host := range []string{"", `srv\C$`, "srv/x", "srv\x00", strings.Repeat("h", 256)} {
		a, b := net.Pipe()
		defer b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := pipeclient.Dial(ctx, a, pipeclient.Options{Host: host})
		cancel()
		var pe *pipeclient.Error
		// Nothing answers on b: an error of the deadline means the
		// client went ahead and sent its NEGOTIATE.
		if !errors.As(err, &pe) || pe.Op != "negotiate" || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("host %.20q: %v, want a negotiate *Error before any exchange", host, err)
		}
	}
}
