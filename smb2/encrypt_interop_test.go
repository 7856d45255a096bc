package smb2_test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/syncbuf"
	"github.com/netsession/netsession/smb2"
)

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runFails runs a peer that is expected to fail and returns its output.
func runFails(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("%s %q succeeded:\n%s", name, args, out)
	}
	return string(out)
}

// smbclient forced to encrypt lists IPC$ from a server that requires
// encryption with each dialect and, at 3.1.1, each cipher; what it
// exchanged after the logon was encrypted.
func TestSmbclientEncryptRequired(t *testing.T) {
	smbclient := peer(t, "smbclient")
	for _, tc := range []struct{ proto, cipher string }{
		{"SMB3_00", "AES-128-CCM"}, {"SMB3_02", "AES-128-CCM"},
		{"SMB3_11", "AES-128-GCM"}, {"SMB3_11", "AES-128-CCM"}, {"SMB3_11", "AES-256-GCM"}, {"SMB3_11", "AES-256-CCM"},
	} {
		t.Run(tc.proto+"/"+tc.cipher, func(t *testing.T) {
			var logs syncbuf.Buffer
			f := newFixture(t, withEncryption(smb2.EncryptionRequired), withLog(&logs))
			sn := newSniffer(t, f.addr)
			out := run(t, smbclient, "-s", clientConf(t), "-L", "//127.0.0.1", "-p", port(t, sn.addr),
				"-U", "alice%AlicePass1", "--client-protection=encrypt", "-m", tc.proto,
				"--option=client smb3 encryption algorithms="+tc.cipher)
			if !strings.Contains(out, "IPC$") {
				t.Fatalf("IPC$ not listed:\n%s", out)
			}
			clear, enc := sn.frames()
			if enc[0] < 3 || enc[1] < 3 || clear[0] > 4 || clear[1] > 4 {
				t.Errorf("clear %v, encrypted %v", clear, enc)
			}
			if !strings.Contains(logs.String(), "encryption="+tc.cipher) {
				t.Errorf("server did not log encryption=%s:\n%s", tc.cipher, logs.String())
			}
		})
	}
}

// A client that cannot encrypt (SMB 2.1 at most) is refused at session
// setup under "required"; the same client is served under "desired".
func TestSmbclientClearRefusedUnderRequired(t *testing.T) {
	smbclient := peer(t, "smbclient")
	f := newFixture(t, withEncryption(smb2.EncryptionRequired))
	out := runFails(t, smbclient, "-s", clientConf(t), "-L", "//127.0.0.1", "-p", f.port,
		"-U", "alice%AlicePass1", "-m", "SMB2_10")
	if !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("want NT_STATUS_ACCESS_DENIED:\n%s", out)
	}
	if n := f.table.Len(); n != 0 {
		t.Errorf("%d sessions in the table", n)
	}
	g := newFixture(t, withEncryption(smb2.EncryptionDesired))
	out = run(t, smbclient, "-s", clientConf(t), "-L", "//127.0.0.1", "-p", g.port,
		"-U", "alice%AlicePass1", "-m", "SMB2_10")
	if !strings.Contains(out, "IPC$") {
		t.Errorf("desired, 2.1: IPC$ not listed:\n%s", out)
	}
}

// impacket at 3.0 (AES-128-CCM) enumerates at every level from a server
// that requires encryption, encrypted; at 2.1 it is refused.
func TestImpacketEncrypted30(t *testing.T) {
	py := python(t)
	f := newFixture(t, withEncryption(smb2.EncryptionRequired))
	sn := newSniffer(t, f.addr)
	out := run(t, py, "testdata/impacket_client.py", "enum", port(t, sn.addr), "alice", "AlicePass1", "3.0")
	if n := strings.Count(out, `"level"`); n != 5 || !strings.Contains(out, `"alice"`) {
		t.Fatalf("%d levels:\n%s", n, out)
	}
	clear, enc := sn.frames()
	if enc[0] < 5 || enc[1] < 5 || clear[0] > 4 || clear[1] > 4 {
		t.Errorf("clear %v, encrypted %v", clear, enc)
	}
	out = runFails(t, py, "testdata/impacket_client.py", "enum", f.port, "alice", "AlicePass1", "2.1")
	if !strings.Contains(out, "ACCESS_DENIED") {
		t.Errorf("2.1 under required:\n%s", out)
	}
}
