package dcerpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/ntlm"
)

// peerUnavailable skips a test whose external client is missing, except
// under CI=true where that is a failure.
func peerUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop peer unavailable under CI: %s", why)
	}
	t.Skipf("interop peer unavailable: %s", why)
}

// interopServer serves srvsvc (answering NetrSessionEnum with the stub
// Samba sent for 70 sessions) and the echo test interface on loopback TCP.
func interopServer(t *testing.T) (*Server, string) {
	frag1, frag2 := readHex(t, "samba-response-frag1.hex"), readHex(t, "samba-response-frag2.hex")
	stub := append(append([]byte(nil), frag1[24:]...), frag2[24:]...)
	// The echo interface takes large anonymous requests.
	s := &Server{Limits: Limits{MaxUnauthReassembledSize: DefaultMaxReassembledSize}}
	s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(echoHandler), NumOpnums: 6})
	s.Register(Interface{Syntax: srvsvcSyntax, Handler: HandlerFunc(func(ctx context.Context, c *Call) ([]byte, error) {
		if c.Opnum != 12 {
			return nil, ErrOpRange
		}
		return stub, nil
	})})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	s.SecondaryAddr = port // the port, as ncacn_ip_tcp servers announce it
	serveOn(t, s, l)
	return s, port
}

// TestImpacketClient runs impacket's DCE/RPC client against the server.
func TestImpacketClient(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		peerUnavailable(t, err.Error())
	}
	if out, err := exec.Command(py, "-c", "import impacket.dcerpc.v5.srvs").CombinedOutput(); err != nil {
		peerUnavailable(t, fmt.Sprintf("%v: %s", err, out))
	}
	_, port := interopServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/impacket_client.py", port).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("impacket client: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	type rpcErr struct {
		Code *int64
		Text string
	}
	var got struct {
		Enum struct {
			Entries, Total int
			Users          []string
		}
		NDR64     *rpcErr `json:"ndr64"`
		UnknownIf *rpcErr `json:"unknown_if"`
		Opnum     *rpcErr
		BadStub   *rpcErr `json:"bad_stub"`
		BigEcho   struct {
			Sent  int
			Equal bool
		} `json:"big_echo"`
		Alter string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Enum.Entries != 70 || len(got.Enum.Users) != 70 || got.Enum.Total != 70 {
		t.Errorf("NetrSessionEnum through impacket: %+v", got.Enum)
	}
	if got.NDR64 == nil || !strings.Contains(got.NDR64.Text, "proposed_transfer_syntaxes_not_supported") {
		t.Errorf("NDR64 bind: %+v", got.NDR64)
	}
	if got.UnknownIf == nil || !strings.Contains(got.UnknownIf.Text, "abstract_syntax_not_supported") {
		t.Errorf("unknown interface bind: %+v", got.UnknownIf)
	}
	// impacket names the fault status it decoded.
	if got.Opnum == nil || got.Opnum.Text != "nca_s_op_rng_error" {
		t.Errorf("opnum 99: %+v", got.Opnum)
	}
	if got.BadStub == nil || got.BadStub.Text != "rpc_x_bad_stub_data" {
		t.Errorf("bad stub: %+v", got.BadStub)
	}
	if got.BigEcho.Sent != 50000 || !got.BigEcho.Equal {
		t.Errorf("fragmented echo: %+v", got.BigEcho)
	}
	if got.Alter != "altered" {
		t.Errorf("alter_context: %q", got.Alter)
	}
}

// TestImpacketNTLMClient runs impacket's NTLMSSP-authenticated client at
// each level against the server with the ntlm package's acceptor: the
// signatures and sealing of a third-party implementation verify here, and
// ours there.
func TestImpacketNTLMClient(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		peerUnavailable(t, err.Error())
	}
	if out, err := exec.Command(py, "-c", "import impacket.dcerpc.v5.rpcrt, Cryptodome.Cipher.ARC4").CombinedOutput(); err != nil {
		peerUnavailable(t, fmt.Sprintf("%v: %s", err, out))
	}
	accounts, err := ntlm.NewAccounts("WG", false, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1")})
	if err != nil {
		t.Fatal(err)
	}
	mech := &ntlm.Server{Accounts: accounts}
	s := &Server{Auth: map[AuthType]AuthAcceptor{AuthTypeNTLM: acceptorFor(mech)}}
	s.Register(Interface{Syntax: testSyntax, Handler: HandlerFunc(func(ctx context.Context, c *Call) ([]byte, error) {
		if c.Caller.User != "alice" {
			return nil, &Fault{Status: StatusAccessDenied}
		}
		return echoHandler(ctx, c)
	})})
	_, port, _ := net.SplitHostPort(tcpServer(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/impacket_client.py", port, "auth", "alice", "AlicePass1", "WG").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("impacket client: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got map[string][]bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, level := range []string{"connect", "integrity", "privacy"} {
		r := got[level]
		if len(r) != 4 || slices.Contains(r, false) {
			t.Errorf("%s: %v", level, r)
		}
	}
}
