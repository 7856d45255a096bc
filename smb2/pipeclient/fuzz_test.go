package pipeclient_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/smb2/pipeclient"
)

// FuzzNegotiateAnswer feeds Dial an arbitrary answer to its NEGOTIATE
// (and the same bytes to whatever it sends next): it must fail with an
// *Error, never succeed, panic or hang. Seeds are Samba's captured answers and
// our server's.
func FuzzNegotiateAnswer(f *testing.F) {
	for _, msg := range sambaAnswers(f) {
		f.Add(msg)
	}
	nr := wire.NegotiateResponse{SecurityMode: 3, Dialect: 0x0311, MaxTransactSize: 65536, MaxReadSize: 65536, MaxWriteSize: 65536,
		Contexts: []wire.NegotiateContext{
			{Type: wire.CtxPreauthIntegrity, Data: []byte{1, 0, 4, 0, 1, 0, 1, 2, 3, 4}},
			{Type: wire.CtxEncryption, Data: []byte{1, 0, 2, 0}},
			{Type: wire.CtxSigning, Data: []byte{1, 0, 2, 0}},
		}}
	h := wire.Header{Command: wire.CmdNegotiate, Flags: wire.FlagServerToRedir, Credit: 1}
	f.Add(nr.Append(h.Append(nil)))
	f.Fuzz(func(t *testing.T, answer []byte) {
		cli, srv := net.Pipe()
		defer cli.Close()
		go func() {
			defer srv.Close()
			br := bufio.NewReader(srv)
			for {
				var hdr [4]byte
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					return
				}
				if _, err := br.Discard(int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])); err != nil {
					return
				}
				n := len(answer)
				if _, err := srv.Write(append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, answer...)); err != nil {
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pipeclient.Dial(ctx, cli, pipeclient.Options{Host: "h", Auth: alice()})
		if err == nil {
			// One answer repeated cannot carry a whole logon: its
			// MessageId fits at most one request.
			c.Abort()
			t.Fatal("Dial succeeded on one answer repeated")
		}
		var pe *pipeclient.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%T is not a *pipeclient.Error: %v", err, err)
		}
	})
}

// sambaAnswers reads the SMB answers captured from Samba that package
// wire keeps.
func sambaAnswers(tb testing.TB) [][]byte {
	data, err := os.ReadFile(filepath.Join("..", "internal", "wire", "testdata", "responses-samba.hex"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
