package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/internal/tsharkcap"
)

// tsharkFields are the fields TestKerberosTshark reads from each SMB2
// SESSION_SETUP frame, in this order.
var tsharkFields = []string{
	"tcp.srcport", "tcp.dstport", "smb2.flags.response", "smb2.nt_status",
	"spnego.negTokenInit_element", "spnego.negTokenTarg_element", "spnego.MechType", "spnego.supportedMech",
	"spnego.negResult", "spnego.mechListMIC", "spnego.krb5.tok_id", "kerberos.msg_type", "kerberos.SNameString",
	"_ws.malformed", "_ws.expert.severity",
}

// tsharkSetup is one SESSION_SETUP frame as tsharkFields read it.
type tsharkSetup map[string]string

func parseTsharkSetups(t *testing.T, out string) []tsharkSetup {
	t.Helper()
	var frames []tsharkSetup
	for _, line := range strings.Split(out, "\n") {
		vals := strings.Split(line, "|")
		if len(vals) != len(tsharkFields) {
			continue // tshark's own notes
		}
		f := tsharkSetup{}
		for i, name := range tsharkFields {
			f[name] = vals[i]
		}
		frames = append(frames, f)
	}
	return frames
}

// TestKerberosTshark captures netsess list -k logging on with Kerberos to
// serve --keytab (the domain's keytab for the member server) and to the
// domain controller's own SMB, and smbclient -k logging on to serve
// --keytab, and reads it back with Wireshark's dissectors: each
// SESSION_SETUP carries SPNEGO with the Kerberos AP-REQ (msg-type 14, for
// the server's cifs SPN) in the client's negTokenInit and the AP-REP (15)
// in the server's accept-completed negTokenTarg naming the mechanism the
// client offered first, and nothing is malformed.
func TestKerberosTshark(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KRB5_CONFIG", dc.Krb5Conf)
	s, port, _ := serveDomain(t, dc, "--keytab", dc.Keytab, "--policy", "modern")
	stop := tsharkcap.Start(t, "(host "+dc.ServerAddr+" and tcp port "+port+") or (host "+dc.Addr+" and tcp port 445)", s.smb)

	admin := []string{"-k", "-U", addc.AdminUser + "@" + dc.Realm + "%" + addc.AdminPassword}
	env := clEnv(nil, nil)
	for _, target := range []string{net.JoinHostPort(dc.ServerHost, port), dc.Host} {
		code, _, errOut := runSMB(ctx, "list", env, append([]string{target, "--level", "1"}, admin...)...)
		if code != exitOK {
			t.Fatalf("list -k %s: exit %d: %s\n%s", target, code, errOut, s.stderr)
		}
	}
	// Samba's smbclient with an MIT credential cache, to our server.
	ccache := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, ccache); err != nil {
		t.Fatal(err)
	}
	sc := exec.CommandContext(ctx, "smbclient", "-s", dc.ClientConf, "--use-kerberos=required", "--use-krb5-ccache=FILE:"+ccache, "-p", port, "//"+dc.ServerHost+"/IPC$", "-c", "")
	sc.Env = dc.Env(ccache)
	if out, err := sc.CombinedOutput(); err != nil {
		t.Fatalf("smbclient -k: %v\n%s\n%s", err, out, s.stderr)
	}
	file := stop()

	decodeAs := []string{"-d", "tcp.port==" + port + ",nbss"}
	args := append([]string{"-Y", "smb2.cmd == 1", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}, decodeAs...)
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	fields := tsharkcap.Read(t, file, args...)
	t.Logf("SESSION_SETUP frames (%s):\n%s", strings.Join(tsharkFields, "|"), fields)
	frames := parseTsharkSetups(t, fields)
	// Per logon (a client port): the client's request, the server's answer.
	const krb5OID, msKrb5OID = "1.2.840.113554.1.2.2", "1.2.840.48018.1.2.2"
	for _, lg := range []struct {
		name, port, offer, selected, spn string
	}{
		{"netsess list -k to serve --keytab", port, krb5OID, krb5OID, "cifs," + dc.ServerHost},
		{"netsess list -k to the DC's smbd", "445", krb5OID, krb5OID, "cifs," + dc.Host},
		{"smbclient -k to serve --keytab", port, msKrb5OID + "," + krb5OID, msKrb5OID, "cifs," + dc.ServerHost},
	} {
		var req, resp tsharkSetup
		for _, f := range frames {
			if req == nil && f["smb2.flags.response"] == "0" && f["tcp.dstport"] == lg.port && f["spnego.MechType"] == lg.offer {
				req = f
			}
			if req != nil && resp == nil && f["smb2.flags.response"] == "1" && f["tcp.dstport"] == req["tcp.srcport"] {
				resp = f
			}
		}
		if req == nil || resp == nil {
			t.Errorf("%s: no SESSION_SETUP request and answer in the capture", lg.name)
			continue
		}
		for _, c := range []struct {
			what  string
			f     tsharkSetup
			field string
			want  string
		}{
			{"request", req, "spnego.negTokenInit_element", "1"},
			{"request", req, "spnego.krb5.tok_id", "0x0001"},
			{"request", req, "kerberos.msg_type", "14"},
			{"request", req, "kerberos.SNameString", lg.spn},
			{"answer", resp, "smb2.nt_status", "0x00000000"},
			{"answer", resp, "spnego.negTokenTarg_element", "1"},
			{"answer", resp, "spnego.negResult", "0"},
			{"answer", resp, "spnego.supportedMech", lg.selected},
			{"answer", resp, "spnego.krb5.tok_id", "0x0002"},
			{"answer", resp, "kerberos.msg_type", "15"},
		} {
			if got := c.f[c.field]; !strings.EqualFold(got, c.want) {
				t.Errorf("%s, %s: %s = %q, want %q", lg.name, c.what, c.field, got, c.want)
			}
		}
		for _, f := range []tsharkSetup{req, resp} {
			if f["_ws.malformed"] != "" || f["_ws.expert.severity"] != "" {
				t.Errorf("%s: expert notes on a SESSION_SETUP frame: malformed %q, severity %q", lg.name, f["_ws.malformed"], f["_ws.expert.severity"])
			}
		}
	}
	verbose := tsharkcap.Read(t, file, append([]string{"-V"}, decodeAs...)...)
	problems, _ := tsharkcap.Problems(verbose)
	for _, p := range problems {
		t.Errorf("decode: %s", p)
	}
}
