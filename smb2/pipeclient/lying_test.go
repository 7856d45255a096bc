package pipeclient_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/pipeclient"
)

var le = binary.LittleEndian

// SMB2 commands the lies target.
const (
	cmdNegotiate    = 0x00
	cmdSessionSetup = 0x01
	cmdTreeConnect  = 0x03
	cmdCreate       = 0x05
	cmdRead         = 0x08
	cmdWrite        = 0x09
	cmdIoctl        = 0x0B
)

// lie rewrites one answer of the real server on its way to the client.
// msg is the SMB2 message (no framing); the result is what the client
// receives, framing included (frame builds it), or nil to swallow the
// answer.
type lie struct {
	name string
	cmd  uint16 // command whose answer is rewritten
	// status selects the answer by status (e.g. the final SESSION_SETUP);
	// -1 takes any.
	status int64
	// mutate rewrites it; sealed answers are passed whole (transform
	// header included).
	mutate func(msg []byte) []byte
	// hangUp closes the connection after the rewritten answer.
	hangUp bool
}

func frame(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = append(out, 0, byte(len(m)>>16), byte(len(m)>>8), byte(len(m)))
		out = append(out, m...)
	}
	return out
}

// liar relays between a client on a net.Pipe and the real server,
// applying l to the first matching answer.
func liar(t *testing.T, addr string, l lie) net.Conn {
	t.Helper()
	srv, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cli, proxy := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client to server, as is
		defer wg.Done()
		io.Copy(srv, proxy)
		srv.Close()
	}()
	go func() { // server to client, one lie
		defer wg.Done()
		defer proxy.Close()
		done := false
		for {
			var hdr [4]byte
			if _, err := io.ReadFull(srv, hdr[:]); err != nil {
				return
			}
			msg := make([]byte, int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
			if _, err := io.ReadFull(srv, msg); err != nil {
				return
			}
			out := frame(msg)
			// An interim STATUS_PENDING answer (the server went
			// asynchronous, as it does when the machine is slow) is
			// passed on as is: the lie is told in the final answer.
			interim := len(msg) >= 64 && string(msg[:4]) == "\xfeSMB" && le.Uint32(msg[8:]) == 0x103 && le.Uint32(msg[16:])&2 != 0
			match := len(msg) >= 64 && !interim && (string(msg[:4]) == "\xfdSMB" && l.cmd == 0xFFFF ||
				string(msg[:4]) == "\xfeSMB" && le.Uint16(msg[12:]) == l.cmd && (l.status < 0 || int64(le.Uint32(msg[8:])) == l.status))
			if match && !done {
				done = true
				out = l.mutate(msg)
				if out == nil {
					continue // swallowed
				}
			}
			if _, err := proxy.Write(out); err != nil {
				return
			}
			if match && l.hangUp {
				return
			}
		}
	}()
	t.Cleanup(func() { cli.Close(); srv.Close(); wg.Wait() })
	return cli
}

// edit returns a mutation changing msg in place with f and framing it.
func edit(f func(m []byte) []byte) func([]byte) []byte {
	return func(m []byte) []byte { return frame(f(bytes.Clone(m))) }
}

func body(m []byte) []byte { return m[64:] }

// TestLyingServer: a server that breaks the protocol in any of many ways
// yields an error (ErrProtocol where it is a violation), never a panic
// nor a hang.
func TestLyingServer(t *testing.T) {
	const anyStatus = -1
	const encrypted = 0xFFFF
	type tc struct {
		lie
		auth    *ntlm.Client // no user: anonymous
		enc     bool
		step    string // "dial" or the pipe call that must fail
		want    error
		dialect []uint16
	}
	anon := &ntlm.Client{}
	tests := []tc{
		{lie: lie{name: "dialect not offered", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(body(m)[4:], 0x0210); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol, dialect: []uint16{pipeclient.Dialect311}},
		{lie: lie{name: "no preauth context", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(body(m)[6:], 0); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "security buffer beyond the message", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(body(m)[58:], 0xFFFF); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "context count beyond the message", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(body(m)[6:], 30); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "cipher not offered", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte {
			i := bytes.Index(m, []byte{2, 0, 4, 0, 0, 0, 0, 0, 1, 0})
			if i < 0 {
				return m
			}
			le.PutUint16(m[i+10:], 0x0009)
			return m
		})}, auth: alice(), enc: true, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "huge frame", cmd: cmdNegotiate, status: anyStatus, mutate: func([]byte) []byte { return []byte{0, 0xFF, 0xFF, 0xFF, 0xFE, 'S', 'M', 'B'} }},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "frame type", cmd: cmdNegotiate, status: anyStatus, mutate: func(m []byte) []byte { f := frame(m); f[0] = 0x83; return f }},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "tiny frame", cmd: cmdNegotiate, status: anyStatus, mutate: func(m []byte) []byte { return frame(m[:10]) }},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "SMB1 answer", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { m[0] = 0xFF; return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "truncated then closed", cmd: cmdNegotiate, status: anyStatus, mutate: func(m []byte) []byte { return frame(m)[:40] }, hangUp: true},
			auth: alice(), step: "dial", want: io.ErrUnexpectedEOF},
		{lie: lie{name: "no response flag", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { m[16] &^= 1; return m })},
			auth: anon, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "other message id", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { m[24] = 9; return m })},
			auth: anon, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "compounded", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint32(m[20:], 64); return m })},
			auth: anon, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "no credits", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(m[14:], 0); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrCredits},
		{lie: lie{name: "absurd credits", cmd: cmdTreeConnect, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(m[14:], 0xFFFF); return m })},
			auth: anon, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "generous credits", cmd: cmdTreeConnect, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(m[14:], 1000); return m })},
			auth: anon, step: "dial"},
		// The negotiation is sealed by the pre-authentication hash in
		// 3.1.1: a changed answer fails the signature of the logon.
		{lie: lie{name: "negotiate answer altered", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(m[14:], le.Uint16(m[14:])+1); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		// 3.0.2 has no such hash: the validation of the negotiation
		// catches a downgrade of the server's signing demand.
		{lie: lie{name: "3.0.2 signing demand dropped", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { body(m)[2] &^= 2; return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol, dialect: []uint16{pipeclient.Dialect300, pipeclient.Dialect302}},
		{lie: lie{name: "3.0.2 capabilities altered", cmd: cmdNegotiate, status: anyStatus, mutate: edit(func(m []byte) []byte { body(m)[24] ^= 1; return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol, dialect: []uint16{pipeclient.Dialect300, pipeclient.Dialect302}},
		{lie: lie{name: "swallowed answer", cmd: cmdNegotiate, status: anyStatus, mutate: func([]byte) []byte { return nil }},
			auth: alice(), step: "dial", want: context.DeadlineExceeded},
		{lie: lie{name: "final logon answer badly signed", cmd: cmdSessionSetup, status: 0, mutate: edit(func(m []byte) []byte { m[50] ^= 1; return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "final logon answer unsigned", cmd: cmdSessionSetup, status: 0, mutate: edit(func(m []byte) []byte { m[16] &^= 8; clear(m[48:64]); return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "session id changes", cmd: cmdSessionSetup, status: 0, mutate: edit(func(m []byte) []byte { m[40] ^= 1; return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "tree connect badly signed", cmd: cmdTreeConnect, status: anyStatus, mutate: edit(func(m []byte) []byte { m[63] ^= 0x80; return m })},
			auth: alice(), step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "tree connect to a disk share", cmd: cmdTreeConnect, status: anyStatus, mutate: edit(func(m []byte) []byte { body(m)[2] = 1; return m })},
			auth: anon, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "create answer unsigned", cmd: cmdCreate, status: anyStatus, mutate: edit(func(m []byte) []byte { m[16] &^= 8; return m })},
			auth: alice(), step: "open", want: pipeclient.ErrProtocol},
		// A failure is no exception: an unsigned one on a signed session
		// is a forgery (here of a refusal), not a status to report.
		{lie: lie{name: "create answer turned into an unsigned refusal", cmd: cmdCreate, status: anyStatus, mutate: edit(func(m []byte) []byte {
			m[16] &^= 8
			clear(m[48:64])
			le.PutUint32(m[8:], 0xC0000022)
			return append(m[:64], 9, 0, 0, 0, 0, 0, 0, 0, 0)
		})}, auth: alice(), step: "open", want: pipeclient.ErrProtocol},
		{lie: lie{name: "create answer for another session", cmd: cmdCreate, status: anyStatus, mutate: edit(func(m []byte) []byte { m[41] ^= 1; return m })},
			auth: anon, step: "open", want: pipeclient.ErrProtocol},
		{lie: lie{name: "create structure size", cmd: cmdCreate, status: anyStatus, mutate: edit(func(m []byte) []byte { body(m)[0] = 88; return m })},
			auth: anon, step: "open", want: pipeclient.ErrProtocol},
		{lie: lie{name: "transceive output beyond the message", cmd: cmdIoctl, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint32(body(m)[36:], 1<<30); return m })},
			auth: anon, step: "transceive", want: pipeclient.ErrProtocol},
		{lie: lie{name: "transceive output longer than asked", cmd: cmdIoctl, status: anyStatus, mutate: edit(func(m []byte) []byte {
			le.PutUint32(body(m)[36:], le.Uint32(body(m)[36:])+100)
			return append(m, make([]byte, 100)...)
		})}, auth: anon, step: "transceive", want: pipeclient.ErrProtocol},
		{lie: lie{name: "transceive answer for another file", cmd: cmdIoctl, status: anyStatus, mutate: edit(func(m []byte) []byte { body(m)[8] ^= 1; return m })},
			auth: anon, step: "transceive", want: pipeclient.ErrProtocol},
		{lie: lie{name: "transceive answer badly signed", cmd: cmdIoctl, status: anyStatus, mutate: edit(func(m []byte) []byte { m[len(m)-1] ^= 1; return m })},
			auth: alice(), step: "transceive", want: pipeclient.ErrProtocol},
		{lie: lie{name: "endless interim answers", cmd: cmdIoctl, status: anyStatus, mutate: func(m []byte) []byte {
			in := bytes.Clone(m[:64])
			le.PutUint32(in[8:], 0x103)
			le.PutUint32(in[16:], le.Uint32(in[16:])|2)
			in = append(in, 9, 0, 0, 0, 0, 0, 0, 0, 0)
			var out []byte
			for range 40 {
				out = append(out, frame(in)...)
			}
			return out
		}}, auth: anon, step: "transceive", want: pipeclient.ErrProtocol},
		{lie: lie{name: "synchronous STATUS_PENDING", cmd: cmdIoctl, status: anyStatus, mutate: func(m []byte) []byte {
			in := bytes.Clone(m[:64])
			le.PutUint32(in[8:], 0x103)
			in = append(in, 9, 0, 0, 0, 0, 0, 0, 0, 0)
			return append(frame(in), frame(m)...)
		}}, auth: anon, step: "transceive", want: pipeclient.ErrProtocol},
		{lie: lie{name: "stray oplock break first", cmd: cmdIoctl, status: anyStatus, mutate: func(m []byte) []byte {
			ob := bytes.Clone(m[:64])
			le.PutUint16(ob[12:], 0x12)
			le.PutUint64(ob[24:], ^uint64(0))
			ob = append(ob, make([]byte, 24)...)
			le.PutUint16(ob[64:], 24)
			return append(frame(ob), frame(m)...)
		}}, auth: anon, step: "transceive"},
		{lie: lie{name: "answer to another command", cmd: cmdCreate, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint16(m[12:], 6); return m })},
			auth: anon, step: "open", want: pipeclient.ErrProtocol},
		{lie: lie{name: "read answer longer than asked", cmd: cmdRead, status: anyStatus, mutate: edit(func(m []byte) []byte {
			le.PutUint32(body(m)[4:], 1001)
			return append(m[:64+16], make([]byte, 1001)...)
		})}, auth: anon, step: "read", want: pipeclient.ErrProtocol},
		{lie: lie{name: "write count short", cmd: cmdWrite, status: anyStatus, mutate: edit(func(m []byte) []byte { le.PutUint32(body(m)[4:], 3); return m })},
			auth: anon, step: "read", want: pipeclient.ErrProtocol},
		{lie: lie{name: "read data offset in the header", cmd: cmdRead, status: anyStatus, mutate: edit(func(m []byte) []byte { body(m)[2] = 10; return m })},
			auth: anon, step: "read", want: pipeclient.ErrProtocol},
		{lie: lie{name: "sealed answer tampered", cmd: encrypted, status: anyStatus, mutate: edit(func(m []byte) []byte { m[len(m)-1] ^= 1; return m })},
			auth: alice(), enc: true, step: "dial", want: pipeclient.ErrProtocol},
		// The first sealed answer (the TREE_CONNECT, message 3 after a
		// two-leg logon) replaced by a well-formed clear one. The check
		// of encryption refuses it; the one of signatures would too.
		{lie: lie{name: "clear answer on an encrypted session", cmd: encrypted, status: anyStatus, mutate: func(m []byte) []byte {
			h := make([]byte, 64, 80)
			copy(h, "\xfeSMB")
			h[4] = 64
			le.PutUint16(h[12:], cmdTreeConnect)
			le.PutUint16(h[14:], 1)
			h[16] = 1 // response
			le.PutUint64(h[24:], 3)
			le.PutUint32(h[36:], 7)
			copy(h[40:48], m[44:52]) // the session, from the transform header
			b := make([]byte, 16)
			b[0], b[2] = 16, 2 // structure size, pipe share
			return frame(append(h, b...))
		}}, auth: alice(), enc: true, step: "dial", want: pipeclient.ErrProtocol},
		{lie: lie{name: "sealed answer for another session", cmd: encrypted, status: anyStatus, mutate: edit(func(m []byte) []byte { m[44] ^= 1; return m })},
			auth: alice(), enc: true, step: "dial", want: pipeclient.ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(s *smb2.Server) {
				s.AllowAnonymous = true
				if tt.enc {
					s.Encryption = smb2.EncryptionRequired
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			c, err := pipeclient.Dial(ctx, liar(t, f.addr, tt.lie), pipeclient.Options{Host: "127.0.0.1", Auth: tt.auth, Dialects: tt.dialect})
			if err == nil {
				defer c.Close(context.Background())
				err = runStep(ctx, c, tt.step)
			} else if tt.step != "dial" {
				t.Fatalf("dial: %v", err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %v", d)
			}
			t.Logf("%s: %v", tt.step, err)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("%s: %v, want success", tt.step, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("%s: %v, want %v", tt.step, err, tt.want)
			}
			var pe *pipeclient.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not a *pipeclient.Error", err)
			}
		})
	}
}

// runStep runs the pipe calls up to step on c.
func runStep(ctx context.Context, c *pipeclient.Conn, step string) error {
	if step == "dial" {
		p, err := c.OpenPipe(ctx, "echo")
		if err != nil {
			return err
		}
		_, _, err = p.Transceive(ctx, []byte("x"), make([]byte, 16))
		return err
	}
	p, err := c.OpenPipe(ctx, "echo")
	if err != nil || step == "open" {
		return err
	}
	switch step {
	case "transceive":
		n, _, err := p.Transceive(ctx, []byte("hello"), make([]byte, 5))
		if err == nil && n != 5 {
			return errors.New("short echo")
		}
		return err
	case "read":
		if _, err := p.Write(ctx, []byte("hello")); err != nil {
			return err
		}
		_, _, err := p.Read(ctx, make([]byte, 1000))
		return err
	}
	return errors.New("unknown step " + step)
}
