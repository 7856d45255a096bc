package smb2_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

// capturedStreams returns each capture's client messages as one NBSS
// byte stream.
func capturedStreams(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("internal", "wire", "testdata", "requests-*.hex"))
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	var out [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var stream []byte
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			m, err := hex.DecodeString(line)
			if err != nil {
				t.Fatal(err)
			}
			n := len(m)
			stream = append(stream, 0, byte(n>>16), byte(n>>8), byte(n))
			stream = append(stream, m...)
		}
		out = append(out, stream)
	}
	return out
}

// FuzzServe feeds arbitrary byte streams to a connection: the server
// answers or closes, never panics or hangs, and ends the connection when
// the peer goes away.
func FuzzServe(f *testing.F) {
	for _, s := range capturedStreams(f) {
		f.Add(s)
	}
	accounts, _ := ntlm.NewAccounts("NETSESS", true, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1")})
	table := session.New(session.Options{})
	rpc := &dcerpc.Server{}
	_ = rpc.Register((&srvs.Handler{Table: table}).Interface())
	srv := &smb2.Server{Table: table, Auth: &ntlm.Server{Accounts: accounts}, RPC: rpc, AllowGuest: true, AllowAnonymous: true}
	f.Cleanup(func() { srv.Close(); rpc.Close() })
	f.Fuzz(func(t *testing.T, stream []byte) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.ServeConn(context.Background(), a) }()
		drained := make(chan struct{})
		go func() { defer close(drained); _, _ = io.Copy(io.Discard, b) }()
		_, _ = b.Write(stream)
		b.Close()
		<-drained
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection not closed after the peer went away")
		}
	})
}
