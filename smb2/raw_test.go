package smb2_test

import (
	"context"
	"encoding/binary"

	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/spnego"
)

var le = binary.LittleEndian

// rawClient speaks SMB2 byte by byte, to send what well-behaved clients
// never send.
type rawClient struct {
	t      *testing.T
	nc     net.Conn
	mid    uint64
	sid    uint64
	tree   uint32
	signer *smbcrypto.Signer
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc}
}

func (c *rawClient) sendFrame(msg []byte) error {
	b := make([]byte, 4, 4+len(msg))
	n := len(msg)
	b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n)
	_, err := c.nc.Write(append(b, msg...))
	return err
}

// recv returns the next message, or an error when the server closed the
// connection.
func (c *rawClient) recv() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [4]byte
	if _, err := io.ReadFull(c.nc, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	b := make([]byte, n)
	_, err := io.ReadFull(c.nc, b)
	return b, err
}

// build makes a request message with the next message ID.
func (c *rawClient) build(cmd uint16, body []byte) []byte {
	h := wire.Header{Command: cmd, Credit: 8, MessageID: c.mid, TreeID: c.tree, SessionID: c.sid}
	c.mid++
	return append(h.Append(nil), body...)
}

// do sends msg (signed when the client has a key and sign is set) and
// returns the answer's status and body.
func (c *rawClient) do(msg []byte, sign bool) (smb2.Status, []byte, error) {
	if sign && c.signer != nil {
		if err := c.signer.Sign(msg); err != nil {
			return 0, nil, err
		}
	}
	if err := c.sendFrame(msg); err != nil {
		return 0, nil, err
	}
	resp, err := c.recv()
	if err != nil {
		return 0, nil, err
	}
	h, err := wire.ParseHeader(resp)
	if err != nil {
		return 0, nil, err
	}
	if c.sid == 0 && h.SessionID != 0 && h.Command == wire.CmdSessionSetup {
		c.sid = h.SessionID
	}
	if h.Command == wire.CmdTreeConnect && h.Status == 0 {
		c.tree = h.TreeID
	}
	if c.signer != nil && h.Flags&wire.FlagSigned != 0 {
		if err := c.signer.Verify(resp); err != nil {
			return 0, nil, fmt.Errorf("response signature: %w", err)
		}
	}
	return smb2.Status(h.Status), resp[wire.HeaderSize:], nil
}

func negotiateBody(dialects ...uint16) []byte {
	b := le.AppendUint16(nil, 36)
	b = le.AppendUint16(b, uint16(len(dialects)))
	b = le.AppendUint16(b, 1) // signing enabled
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, 0)
	b = append(b, "0123456789abcdef"...)
	b = append(b, make([]byte, 8)...)
	for _, d := range dialects {
		b = le.AppendUint16(b, d)
	}
	return b
}

func sessionSetupBody(token []byte) []byte {
	b := le.AppendUint16(nil, 25)
	b = append(b, 0, 1)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, wire.HeaderSize+24)
	b = le.AppendUint16(b, uint16(len(token)))
	b = le.AppendUint64(b, 0)
	return append(b, token...)
}

func treeConnectBody(path string) []byte {
	p := wire.AppendUTF16(nil, path)
	b := le.AppendUint16(nil, 9)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, wire.HeaderSize+8)
	b = le.AppendUint16(b, uint16(len(p)))
	return append(b, p...)
}

func createBody(name string) []byte {
	n := wire.AppendUTF16(nil, name)
	b := le.AppendUint16(nil, 57)
	b = append(b, 0, 0)
	b = le.AppendUint32(b, 2)                  // impersonation
	b = append(b, make([]byte, 16)...)         // create flags, reserved
	b = le.AppendUint32(b, 0x0012019f)         // desired access
	b = le.AppendUint32(b, 0)                  // attributes
	b = le.AppendUint32(b, 3)                  // share access
	b = le.AppendUint32(b, 1)                  // FILE_OPEN
	b = le.AppendUint32(b, 0)                  // options
	b = le.AppendUint16(b, wire.HeaderSize+56) // name offset
	b = le.AppendUint16(b, uint16(len(n)))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	return append(b, n...)
}

// login negotiates 3.0 and logs in with signing.
func (c *rawClient) login(user, pass string) {
	c.t.Helper()
	st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect300)), false)
	if err != nil || st != smb2.StatusSuccess {
		c.t.Fatalf("negotiate: %v %v", st, err)
	}
	c.login2(user, pass, smb2.Dialect300)
}

// login2 logs in on a negotiated connection.
func (c *rawClient) login2(user, pass string, dialect uint16) {
	t := c.t
	t.Helper()
	sp := spnego.MustInitiator(&ntlm.Client{User: user, Password: pass}).NewContext()
	ctx := context.Background()
	tok, _, err := sp.Step(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg := c.build(wire.CmdSessionSetup, sessionSetupBody(tok))
		st, body, err := c.do(msg, false)
		if err != nil {
			t.Fatal(err)
		}
		if st != smb2.StatusMoreProcessingRequired && st != smb2.StatusSuccess {
			t.Fatalf("session setup: %v", st)
		}
		off := le.Uint16(body[4:])
		n := le.Uint16(body[6:])
		in := body[int(off)-wire.HeaderSize : int(off)-wire.HeaderSize+int(n)]
		out, _, err := sp.Step(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if st == smb2.StatusSuccess {
			keys := smbcrypto.DeriveKeys(dialect, sp.SessionKey(), nil)
			alg := smbcrypto.AlgAESCMAC
			if dialect < smb2.Dialect300 {
				alg = smbcrypto.AlgHMACSHA256
			}
			c.signer, _ = smbcrypto.NewSigner(alg, keys.Signing)
			return
		}
		tok = out
	}
}

// openPipe logs a raw client in with signing, connects to IPC$ and opens
// the named pipe; it returns the client and the pipe's FileId.
func openPipe(t *testing.T, f *fixture, user, pass, name string) (*rawClient, []byte) {
	t.Helper()
	c := dialRaw(t, f.addr)
	c.login(user, pass)
	if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true); err != nil || st != 0 {
		t.Fatalf("tree connect: %v %v", st, err)
	}
	st, body, err := c.do(c.build(wire.CmdCreate, createBody(name)), true)
	if err != nil || st != 0 {
		t.Fatalf("create %s: %v %v", name, st, err)
	}
	return c, body[64:80]
}
