package server

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/tsharkcap"
	"github.com/netsession/netsession/session"
)

// capture runs tshark on the loopback interface for one TCP port of
// 127.0.0.1 until the returned stop function is called; stop returns the
// capture file.
func capture(t *testing.T, port string) func() string {
	t.Helper()
	return tsharkcap.Start(t, "tcp port "+port, "127.0.0.1:"+port)
}

// Wireshark's dcerpc and srvsvc dissectors find nothing wrong in our
// unsealed traffic: NTLMSSP at integrity and no DCE/RPC authentication,
// all five levels, errors and NetrSessionDel.
func TestTsharkDecode(t *testing.T) {
	py := python(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	stop := capture(t, port)

	// rpcclient joins in when the mapper can have 127.0.0.1:135.
	var epmL net.Listener
	_, rpcclientErr := exec.LookPath("rpcclient")
	if rpcclientErr == nil {
		lock135(t)
		epmL, _ = net.Listen("tcp", "127.0.0.1:135")
	}
	srv, err := New(Config{Seeds: rpcSeeds(), Policy: session.PolicyLegacy(), Listeners: Listeners{RPC: l, EPM: epmL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	responses := 12
	if epmL != nil {
		conf := clientConf(t)
		out := rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+",sign]", "alice%AlicePass1", `netsessenum; netsessenum \\\\10.0.0.5 carol 502; netsessenum \\\\10.0.0.5 carol 3`)
		if strings.Count(out, "Received") != 2 {
			t.Errorf("rpcclient: %s", out)
		}
		responses += 3
	} else {
		t.Log("rpcclient not in this capture (no rpcclient, or 127.0.0.1:135 unavailable)")
	}
	ops := []string{"enum:0", "enum:1", "enum:2", "enum:10", "enum:502", `del:\\10.0.0.9:nobody`, `del:\\10.0.0.5:carol`, "enum:1"}
	runImpacket(t, py, port, "alice", "AlicePass1", "integrity", ops...)
	// Anonymous: legacy refuses everything (status 5 in full layouts).
	runImpacket(t, py, port, "", "", "none", "enum:0", "enum:10", "enum:502", `del:\\10.0.0.7:dave`)
	// bob at integrity: levels 0 and 10 allowed under legacy, 1 refused.
	runImpacket(t, py, port, "bob", "BobPass1", "integrity", "enum:0", "enum:10", "enum:1")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	file := stop()

	tshark := peer(t, "tshark")
	summary, err := exec.Command(tshark, "-r", file, "-d", "tcp.port=="+port+",dcerpc").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, summary)
	}
	for _, want := range []string{"NetSessEnum request", "NetSessEnum response", "NetSessDel request", "NetSessDel response", "Bind_ack", "AUTH3"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("capture lacks %q:\n%s", want, summary)
		}
	}
	if n := strings.Count(string(summary), "NetSessEnum response"); n != responses {
		t.Errorf("%d NetSessEnum responses in the capture, want %d:\n%s", n, responses, summary)
	}
	verbose, err := exec.Command(tshark, "-r", file, "-d", "tcp.port=="+port+",dcerpc", "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -V: %v", err)
	}
	problems, _ := tsharkcap.Problems(string(verbose))
	for _, p := range problems {
		t.Errorf("decode: %s", p)
	}
	if t.Failed() {
		t.Logf("summary:\n%s", summary)
	}
}

// Wireshark's SMB2, DCE/RPC and srvsvc dissectors find nothing wrong in an
// SMB 3.1.1 exchange between this module's client and server, signed with
// AES-GMAC: negotiate with its contexts, session setup, IPC$, the pipe,
// one FSCTL_PIPE_TRANSCEIVE per call carrying NetrSessionEnum at every
// level and NetrSessionDel, close and logoff.
func TestTsharkDecodeSMB(t *testing.T) {
	r := start(t, Config{SMBAddr: "127.0.0.1:0", Seeds: rpcSeeds(), Policy: session.PolicyLegacy()})
	_, port, _ := net.SplitHostPort(r.addrs.SMB)
	stop := capture(t, port)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, r.addrs.SMB, client.Options{Transport: client.TransportSMB,
		Credentials: client.Credentials{User: "alice", Password: "AlicePass1"}})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, level := range []session.Level{session.Level0, session.Level1, session.Level2, session.Level10, session.Level502} {
		if _, err := c.EnumAll(ctx, level, client.Filter{}); err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		calls++
	}
	if err := c.Delete(ctx, `\\10.0.0.5`, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	file := stop()

	tshark := peer(t, "tshark")
	decodeAs := []string{"-d", "tcp.port==" + port + ",nbss"}
	summary, err := exec.Command(tshark, append([]string{"-r", file}, decodeAs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, summary)
	}
	for _, want := range []string{"Negotiate Protocol Request", "Session Setup Request", "Tree Connect Request Tree: \\\\127.0.0.1\\IPC$",
		"Create Request File: srvsvc", "Bind_ack", "NetSessEnum response", "NetSessDel response",
		"Close Request", "Session Logoff Request"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("capture lacks %q", want)
		}
	}
	if n := strings.Count(string(summary), "NetSessEnum response"); n != calls {
		t.Errorf("%d NetSessEnum responses in the capture, want %d", n, calls)
	}
	verbose, err := exec.Command(tshark, append([]string{"-r", file, "-V"}, decodeAs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -V: %v", err)
	}
	// Wireshark reads the negHints of the NEGOTIATE answer's SPNEGO
	// NegTokenInit2 as an RFC 4178 mechListMIC and flags it (see
	// tsharkcap.Problems): one report, in that one answer, is expected.
	problems, hintReports := tsharkcap.Problems(string(verbose))
	for _, p := range problems {
		t.Errorf("decode: %s", p)
	}
	if hintReports != 1 {
		t.Errorf("%d reports of the negHints, want 1 (the NEGOTIATE answer)", hintReports)
	}
	if !strings.Contains(string(verbose), "FSCTL_PIPE_TRANSCEIVE") {
		t.Error("decode lacks FSCTL_PIPE_TRANSCEIVE")
	}
	for _, want := range []string{"AES-GMAC", "SMB2_PREAUTH_INTEGRITY_CAPABILITIES", "SMB2_SIGNING_CAPABILITIES"} {
		if !strings.Contains(string(verbose), want) {
			t.Errorf("decode lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("summary:\n%s", summary)
	}
}
