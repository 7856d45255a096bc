package smb2_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

// slowConn delays every answer of a pipe handler, so that every pipe
// read goes asynchronous.
type slowConn struct {
	net.Conn
	d time.Duration
}

func (c slowConn) Write(b []byte) (int, error) {
	time.Sleep(c.d)
	return c.Conn.Write(b)
}

// withSlowSrvsvc serves srvsvc with answers 20 ms late.
func withSlowSrvsvc(s *smb2.Server) {
	h := smb2.RPCPipe(s.RPC, "srvsvc")
	s.Pipes = map[string]smb2.PipeService{"srvsvc": smb2.PipeHandler(func(ctx context.Context, conn net.Conn, c session.Caller) error {
		return h(ctx, slowConn{Conn: conn, d: 20 * time.Millisecond}, c)
	})}
}

// Real clients follow interim STATUS_PENDING answers: with every RPC
// answer late, go-smb2, rpcclient (in clear and forced to encrypt under
// EncryptionRequired, where the interim answers are encrypted too) and
// impacket still enumerate, and the server sent more frames than it
// received (the interim answers).
func TestRealClientsFollowAsyncAnswers(t *testing.T) {
	check := func(t *testing.T, sn *sniffer) {
		t.Helper()
		clear, enc := sn.frames()
		in, out := clear[0]+enc[0], clear[1]+enc[1]
		if out <= in {
			t.Errorf("server sent %d frames for %d: no interim answer", out, in)
		}
	}
	t.Run("go-smb2", func(t *testing.T) {
		f := newFixture(t, withSlowSrvsvc)
		sn := newSniffer(t, f.addr)
		s, err := dialVia(sn.addr, "alice", "AlicePass1", smb2.Dialect311)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Logoff() })
		res, err := srvsvc(t, s).EnumAll(context.Background(), 1, "", "", session.MaxPreferredLength)
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("enum: %+v %v", res, err)
		}
		check(t, sn)
	})
	t.Run("rpcclient", func(t *testing.T) {
		rpcclient := peer(t, "rpcclient")
		f := newFixture(t, withSlowSrvsvc, withEncryption(smb2.EncryptionDesired))
		sn := newSniffer(t, f.addr)
		_, port, _ := net.SplitHostPort(sn.addr)
		out := run(t, rpcclient, "-s", clientConf(t), "-p", port, "-U", "alice%AlicePass1", "127.0.0.1",
			"-c", `netsessenum; netsessenum \\\\127.0.0.1 alice 10`)
		if strings.Count(out, "Received 1 entries.") != 2 {
			t.Fatalf("netsessenum output:\n%s", out)
		}
		check(t, sn)
	})
	t.Run("rpcclient encrypted", func(t *testing.T) {
		rpcclient := peer(t, "rpcclient")
		f := newFixture(t, withSlowSrvsvc, withEncryption(smb2.EncryptionRequired))
		sn := newSniffer(t, f.addr)
		_, port, _ := net.SplitHostPort(sn.addr)
		out := run(t, rpcclient, "-s", clientConf(t), "-p", port, "-U", "alice%AlicePass1", "--option=clientsmbencrypt=required", "127.0.0.1",
			"-c", `netsessenum; netsessenum \\\\127.0.0.1 alice 10`)
		if strings.Count(out, "Received 1 entries.") != 2 {
			t.Fatalf("netsessenum output:\n%s", out)
		}
		check(t, sn)
		if clear, enc := sn.frames(); enc[1] <= enc[0] || clear[1] > 3 {
			t.Errorf("clear %v encrypted %v: want the interim answers encrypted", clear, enc)
		}
	})
	t.Run("impacket", func(t *testing.T) {
		py := python(t)
		f := newFixture(t, withSlowSrvsvc)
		sn := newSniffer(t, f.addr)
		_, port, _ := net.SplitHostPort(sn.addr)
		out := run(t, py, "testdata/impacket_client.py", "enum", port, "alice", "AlicePass1", "3.0")
		if strings.Count(out, `"total": 1`) != 5 {
			t.Fatalf("impacket output:\n%s", out)
		}
		check(t, sn)
	})
}
