package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/internal/tsharkcap"
)

// impacketSessEnum lists sessions at level 10 over ncacn_ip_tcp with
// impacket's DCE/RPC client, logged on with Kerberos (SPNEGO, auth type 9)
// from the credential cache in KRB5CCNAME, at the auth level given
// (5 integrity, 6 privacy). It prints one user name per line.
const impacketSessEnum = `
import sys
from impacket.dcerpc.v5 import transport, srvs, rpcrt
from impacket.dcerpc.v5.dtypes import NULL
host, port, realm, user, kdc, level = sys.argv[1:7]
t = transport.DCERPCTransportFactory('ncacn_ip_tcp:%s[%s]' % (host, port))
t.set_credentials(user, '', realm, '', '', None)
t.set_kerberos(True, kdcHost=kdc)
dce = t.get_dce_rpc()
dce.set_auth_type(rpcrt.RPC_C_AUTHN_GSS_NEGOTIATE)
dce.set_auth_level(int(level))
dce.connect()
dce.bind(srvs.MSRPC_UUID_SRVS)
r = srvs.hNetrSessionEnum(dce, NULL, NULL, 10)
for s in r['InfoStruct']['SessionInfo']['Level10']['Buffer']:
    print(s['sesi10_username'][:-1])
dce.disconnect()
`

// TestKerberosTCP: DCE-style Kerberos over ncacn_ip_tcp against netsess
// serve --keytab (host/ tickets, as DCE/RPC clients ask), from three
// clients: ours (auth type 16 and SPNEGO, at integrity and privacy),
// impacket (SPNEGO, privacy) and Samba's rpcclient (Heimdal's GSS-API,
// sign and seal, auth types 16 and 9, with header signing). Each lists
// the sessions as a Domain Admin; a plain domain user is denied under the
// modern policy; a ticket for another service is refused.
func TestKerberosTCP(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	// rpcclient finds the port through the endpoint mapper, on port 135 of
	// the member server's own address.
	s := serveBG(t, "--rpc", dc.ServerAddr+":0", "--epm", dc.ServerAddr+":135", "--keytab", dc.Keytab, "--policy", "modern", "--demo-sessions")
	_, port, err := net.SplitHostPort(s.rpc)
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(dc.ServerHost, port)
	env := clEnv(nil, nil)
	admin := addc.AdminUser + "@" + dc.Realm + "%" + addc.AdminPassword
	stop := tsharkcap.Start(t, "tcp port "+port, s.rpc)

	t.Run("netsess", func(t *testing.T) {
		for _, extra := range [][]string{
			{"--auth", "integrity"},
			{"--auth", "privacy"},
			{"--auth", "privacy", "--spnego"},
			{"--auth", "integrity", "--spnego"},
			{},
		} {
			args := append([]string{"--transport", "tcp", target, "--level", "10", "--json", "-k", "-U", admin, "--debug"}, extra...)
			code, out, errOut := runSMB(ctx, "list", env, args...)
			if code != exitOK || !strings.Contains(out, `"user":"alice"`) {
				t.Fatalf("list -k %v: exit %d: %s\n%s\nserver:\n%s", extra, code, out, errOut, s.stderr)
			}
			if !strings.Contains(errOut, "auth=kerberos") {
				t.Errorf("list -k %v: the debug record does not name Kerberos: %s", extra, errOut)
			}
		}
		// The default policy refuses level connect's calls.
		code, _, errOut := runSMB(ctx, "list", env, "--transport", "tcp", target, "-k", "-U", admin, "--auth", "connect")
		if code == exitOK {
			t.Errorf("level connect: exit %d: %s", code, errOut)
		}
		code, _, errOut = runSMB(ctx, "list", env, "--transport", "tcp", target, "--level", "10", "-k", "-U", addc.User+"@"+dc.Realm+"%"+addc.UserPassword)
		if code != exitDenied {
			t.Errorf("plain domain user: exit %d, want %d (access denied): %s", code, exitDenied, errOut)
		}
		code, _, errOut = runSMB(ctx, "list", env, "--transport", "tcp", target, "-k", "--spn", "host/"+dc.Host, "-U", admin)
		if code != exitLogon {
			t.Errorf("ticket for the DC's SPN: exit %d, want %d: %s", code, exitLogon, errOut)
		}
	})

	ccache := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, ccache); err != nil {
		t.Fatal(err)
	}
	// The service ticket too, with MIT kvno: impacket takes it from the
	// cache as it is.
	kvno := exec.CommandContext(ctx, "kvno", "host/"+dc.ServerHost)
	kvno.Env = dc.Env(ccache)
	if out, err := kvno.CombinedOutput(); err != nil {
		t.Fatalf("kvno: %v: %s", err, out)
	}

	t.Run("impacket", func(t *testing.T) {
		if err := exec.Command("/usr/bin/python3", "-c", "import impacket.dcerpc.v5.srvs").Run(); err != nil {
			sambapeer.Unavailable(t, "impacket", err)
		}
		// impacket's Kerberos integrity cannot run on Python 3 (its
		// GSS_GetMIC adds str padding to bytes): privacy only.
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", impacketSessEnum, dc.ServerHost, port, dc.Realm, addc.AdminUser, dc.Addr, "6")
		cmd.Env = append(os.Environ(), "KRB5_CONFIG="+dc.Krb5Conf, "KRB5CCNAME="+ccache)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "alice") {
			t.Fatalf("impacket at privacy: %v\n%s\nserver:\n%s", err, out, s.stderr)
		}
	})

	t.Run("rpcclient", func(t *testing.T) {
		if _, err := exec.LookPath("rpcclient"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("rpcclient missing under CI: %v", err)
			}
			t.Skip("rpcclient not installed")
		}
		for _, opts := range []string{"sign", "seal", "krb5,sign", "krb5,seal", "spnego,seal"} {
			binding := "ncacn_ip_tcp:" + dc.ServerHost + "[" + port + "," + opts + "]"
			cmd := exec.CommandContext(ctx, "rpcclient", "-s", dc.ClientConf, "--use-kerberos=required",
				"--use-krb5-ccache=FILE:"+ccache, binding, "-c", "netsessenum")
			cmd.Env = dc.Env(ccache)
			out, err := cmd.CombinedOutput()
			// rpcclient prints the count: the demo sessions.
			if err != nil || !strings.Contains(string(out), "Received") || strings.Contains(string(out), "Received 0 entries") {
				t.Errorf("rpcclient [%s]: %v\n%s\nserver:\n%s", opts, err, out, s.stderr)
			}
		}
	})

	// Wireshark's dissectors find nothing wrong in the whole exchange:
	// binds with AP-REQs, bare AP-REPs, auth3 and alter_context legs, and
	// the MIC and wrap tokens of every request and response.
	file := stop()
	summary := tsharkcap.Read(t, file, "-d", "tcp.port=="+port+",dcerpc")
	for _, want := range []string{"Bind: call_id", "Bind_ack", "AUTH3", "Alter_context", "NetSessEnum request", "NetSessEnum response"} {
		if !strings.Contains(summary, want) {
			t.Errorf("capture lacks %q", want)
		}
	}
	verbose := tsharkcap.Read(t, file, "-d", "tcp.port=="+port+",dcerpc", "-V")
	problems, _ := tsharkcap.Problems(verbose)
	for _, p := range problems {
		t.Errorf("decode: %s", p)
	}
	if t.Failed() {
		t.Logf("summary:\n%s", summary)
	}
	// The verifiers were decoded as Kerberos tokens, not skipped.
	for _, want := range []string{"KRB_TOKEN_CFX_WRAP", "KRB_TOKEN_CFX_GetMic", "krb-ap-rep", "krb-ap-req"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("the decode shows no %s", want)
		}
	}
}
