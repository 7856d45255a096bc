package krb5

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/internal/smbtest"
	"github.com/netsession/netsession/internal/toymech"
	"github.com/netsession/netsession/internal/tsharkcap"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/spnego"
)

// TestDCMechListMICPeers: the mechListMIC with Kerberos against Samba
// over SMB2, where Kerberos is not the initiator's first mechanism, so
// that the MIC is required (RFC 4178 5) and each side fails the logon
// without a good one (TestMechListMICKerberosNotFirst):
//
//   - smbclient -k (Samba's SPNEGO over MIT GSS) to our SMB server whose
//     acceptor has the standard Kerberos OID alone: smbclient offers the
//     Microsoft OID first, we select the second, smbclient restarts with
//     it; our AP-REP leg carries our MIC, smbclient answers with its own.
//   - our SMB client to the DC's smbd, offering a mechanism the DC does
//     not know first and Kerberos second: the DC selects Kerberos, we
//     restart with it, and the MICs are exchanged.
func TestDCMechListMICPeers(t *testing.T) {
	dc, ctx, cc, _ := mitSetup(t)

	acc := dcAcceptor(t, dc)
	srv := smbtest.Start(t, nil, func(s *smb2.Server) {
		s.Auth = spnego.MustAcceptor(acc.AuthAcceptors()[1]) // 1.2.840.113554.1.2.2 alone
	})
	stop := tsharkcap.Start(t, "(host 127.0.0.1 and tcp port "+srv.Port+") or (host "+dc.Addr+" and tcp port 445)", srv.Addr)

	t.Run("smbclient to our server", func(t *testing.T) {
		if _, err := exec.LookPath("smbclient"); err != nil {
			sambapeer.Unavailable(t, "smbclient", err)
		}
		cmd := exec.CommandContext(ctx, "smbclient", "-s", dc.ClientConf, "--use-kerberos=required",
			"--use-krb5-ccache=FILE:"+cc, "-I", "127.0.0.1", "-p", srv.Port, "//"+dc.ServerHost+"/IPC$", "-c", "")
		cmd.Env = dc.Env(cc)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("smbclient -k: %v\n%s", err, out)
		}
		if st := srv.SMB.Stats(); st.LogonsFailed != 0 {
			t.Errorf("stats %+v", st)
		}
	})

	t.Run("our client to the DC", func(t *testing.T) {
		cl := dcClient(t, ctx, dc, CCache(cc))
		ini := spnego.MustInitiator(&toymech.Initiator{User: "nobody", Secret: "x"},
			&Mechanism{Tickets: cl, SPN: DefaultSPN(dc.Host)})
		nc, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(dc.Addr, "445"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := pipeclient.Dial(ctx, nc, pipeclient.Options{Host: dc.Host, Auth: ini})
		if err != nil {
			t.Fatalf("logon to the DC with Kerberos second: %v", err)
		}
		defer c.Close(ctx)
		if signing, _ := c.Signing(); !signing {
			t.Error("the session does not sign")
		}
		p, err := c.OpenPipe(ctx, "srvsvc")
		if err != nil {
			t.Fatalf("srvsvc after the logon: %v", err)
		}
		p.Close(ctx)
	})
	// Wireshark's reading of the four logons' SESSION_SETUPs.
	file := stop()
	// The toy mechanism's optimistic token, in the first request to the
	// DC, is no Kerberos: Wireshark, which does not know the toy's OID,
	// reads it as Kerberos and finds it malformed. That frame aside,
	// nothing may be.
	const notToy = "not spnego.MechType == " + string(toymech.Mechanism)
	fields := []string{"tcp.srcport", "tcp.dstport", "smb2.flags.response", "smb2.nt_status", "spnego.negResult",
		"spnego.supportedMech", "spnego.krb5.tok_id", "kerberos.msg_type", "spnego.mechListMIC", "_ws.malformed", "_ws.expert.severity",
		"spnego.MechType"}
	args := []string{"-d", "tcp.port==" + srv.Port + ",nbss", "-Y", "smb2.cmd == 1", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out := tsharkcap.Read(t, file, args...)
	t.Logf("SESSION_SETUP frames (%s):\n%s", strings.Join(fields, "|"), out)
	for _, port := range []string{srv.Port, "445"} {
		var micLegs, mics int
		for _, line := range strings.Split(out, "\n") {
			v := strings.Split(line, "|")
			if len(v) != len(fields) || (v[0] != port && v[1] != port) {
				continue
			}
			if (v[9] != "" || v[10] != "") && !strings.Contains(v[11], string(toymech.Mechanism)) {
				t.Errorf("port %s: expert notes: %s", port, line)
			}
			if v[8] == "" {
				continue
			}
			mics++
			// The acceptor's MIC rides with the AP-REP (accept-incomplete).
			if v[2] == "1" && v[4] == "1" && strings.Contains(v[7], "15") {
				micLegs++
			}
		}
		if mics != 2 || micLegs != 1 {
			t.Errorf("port %s: %d mechListMICs, %d of them with the AP-REP; want 2 and 1", port, mics, micLegs)
		}
	}
	problems, _ := tsharkcap.Problems(tsharkcap.Read(t, file, "-V", "-d", "tcp.port=="+srv.Port+",nbss", "-Y", notToy))
	for _, p := range problems {
		t.Errorf("decode: %s", p)
	}
}
