package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/syncbuf"
)

// "netsess serve --smb-encrypt required": smbclient forced to encrypt
// lists IPC$; smbclient limited to SMB 2.1 (which cannot encrypt) is
// refused with NT_STATUS_ACCESS_DENIED.
func TestServeSMBEncryptRequired(t *testing.T) {
	smbclient, err := exec.LookPath("smbclient")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("peer smbclient missing under CI: %v", err)
		}
		t.Skip("peer smbclient not installed")
	}
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	codec := make(chan int, 1)
	var stdout, stderr syncbuf.Buffer
	go func() {
		codec <- runServe(ctx, []string{"--smb", "127.0.0.1:0", "--smb-encrypt", "required", "--ready-file", ready}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-codec; code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, stderr.String())
		}
	})
	var addrs map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &addrs) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready file:\n%s", stderr.String())
		}
	}
	_, port, err := net.SplitHostPort(addrs["smb"])
	if err != nil {
		t.Fatalf("ready file %v: %v", addrs, err)
	}
	conf := filepath.Join(dir, "smb.conf")
	var b strings.Builder
	b.WriteString("[global]\n")
	for _, k := range []string{"lock directory", "state directory", "cache directory", "private dir"} {
		d := filepath.Join(dir, strings.ReplaceAll(k, " ", "_"))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		b.WriteString(k + " = " + d + "\n")
	}
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	smb := func(args ...string) (string, error) {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		out, err := exec.CommandContext(cctx, smbclient, append([]string{"-s", conf, "-L", "//127.0.0.1", "-p", port, "-U", "alice%AlicePass1"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := smb("--client-protection=encrypt"); err != nil || !strings.Contains(out, "IPC$") {
		t.Errorf("encrypting smbclient: %v\n%s", err, out)
	}
	if out, err := smb("-m", "SMB2_10"); err == nil || !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("SMB 2.1 smbclient: %v\n%s", err, out)
	}
}
