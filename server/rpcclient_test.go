package server

import (
	"strings"
	"testing"

	"github.com/netsession/netsession/session"
)

func rpcSeeds() []Seed {
	return []Seed{
		{Client: "10.0.0.5", User: "carol", Opens: 1, Time: 600, Idle: 60, Transport: `\Device\NetbiosSmb`},
		{Client: "10.0.0.7", User: "dave", Time: 30},
	}
}

// Every level works for an administrator over NTLMSSP at integrity and
// privacy and over SPNEGO at integrity. rpcclient can only send a level
// other than 1 with client and user filters, so those match carol.
func TestRPCClientAuthenticated(t *testing.T) {
	r, conf, port := rpcclientRig(t, Config{Seeds: rpcSeeds()})
	cmds := `netsessenum; netsessenum \\\\10.0.0.5 carol 0; netsessenum \\\\10.0.0.5 carol 1; netsessenum \\\\10.0.0.5 carol 2; netsessenum \\\\10.0.0.5 carol 10; netsessenum \\\\10.0.0.5 carol 502; netsessenum \\\\10.0.0.7 carol 10`
	for _, opt := range []string{"sign", "seal", "sign,spnego", "seal,spnego"} {
		out := rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+","+opt+"]", "alice%AlicePass1", cmds)
		if got := strings.Count(out, "Received 2 entries."); got != 1 {
			t.Errorf("[%s]: %d unfiltered answers with 2 entries, want 1\n%s", opt, got, out)
		}
		if got := strings.Count(out, "Received 1 entries."); got != 5 {
			t.Errorf("[%s]: %d filtered answers with 1 entry, want 5 (levels 0, 1, 2, 10, 502)\n%s", opt, got, out)
		}
		// The last command's filters match nobody: a status, not a fault
		// (NERR_ClientNameNotFound, as a client qualifier was given).
		if !strings.Contains(out, "WERR_NERR_CLIENTNAMENOTFOUND") {
			t.Errorf("[%s]: no NERR_ClientNameNotFound for filters that match nothing\n%s", opt, out)
		}
	}
	// epmlookup lists srvsvc at our port (ept_lookup on the mapper).
	out := rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1[135]", "", "epmlookup")
	if !strings.Contains(out, "ncacn_ip_tcp:127.0.0.1["+port+",abstract_syntax=4b324fc8-1670-01d3-1278-5a47bf6ee188") {
		t.Errorf("epmlookup: %s", out)
	}
	// bob authenticates but is no administrator.
	out = rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+",sign]", "bob%BobPass1", "netsessenum")
	if !strings.Contains(out, "WERR_ACCESS_DENIED") {
		t.Errorf("bob: %s", out)
	}
	// A wrong password fails.
	out = rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+",sign]", "alice%nope", "netsessenum")
	if strings.Contains(out, "Received") {
		t.Errorf("wrong password enumerated: %s", out)
	}
	// Level connect: the bind works, the call is refused.
	out = rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+",connect]", "alice%AlicePass1", "netsessenum")
	if !strings.Contains(out, "WERR_ACCESS_DENIED") || strings.Contains(out, "Received") {
		t.Errorf("connect level: %s", out)
	}
	// Without [sign] or [seal] rpcclient binds without authentication:
	// the anonymous caller, refused under modern.
	out = rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+"]", "alice%AlicePass1", "netsessenum")
	if !strings.Contains(out, "WERR_ACCESS_DENIED") {
		t.Errorf("anonymous under modern: %s", out)
	}
	// NetrSessionDel, then the session is gone.
	out = rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+",seal]", "alice%AlicePass1", `netsessdel \\\\10.0.0.5 carol; netsessenum`)
	if strings.Contains(out, "result was") || !strings.Contains(out, "Received 1 entries.") {
		t.Errorf("netsessdel: %s", out)
	}
	if r.srv.Table().Len() != 1 {
		t.Errorf("%d sessions after the delete, want 1", r.srv.Table().Len())
	}
}

func TestRPCClientConnectLevelAllowed(t *testing.T) {
	_, conf, port := rpcclientRig(t, Config{Seeds: rpcSeeds(), AllowConnectLevel: true})
	out := rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+",connect]", "alice%AlicePass1", "netsessenum")
	if !strings.Contains(out, "Received 2 entries.") {
		t.Errorf("connect level allowed: %s", out)
	}
}

// The plain binding does no DCE/RPC authentication; under the open policy
// the anonymous caller may enumerate.
func TestRPCClientPlainOpen(t *testing.T) {
	_, conf, port := rpcclientRig(t, Config{Seeds: rpcSeeds(), Policy: session.PolicyOpen()})
	for _, creds := range []string{"alice%AlicePass1", ""} {
		out := rpcclient(t, conf, "ncacn_ip_tcp:127.0.0.1["+port+"]", creds, `netsessenum; netsessenum \\\\10.0.0.7 dave 10`)
		if strings.Count(out, "Received 2 entries.") != 1 || strings.Count(out, "Received 1 entries.") != 1 {
			t.Errorf("plain binding (creds %q) under open: %s", creds, out)
		}
	}
}
