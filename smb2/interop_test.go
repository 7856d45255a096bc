package smb2_test

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/netsession/netsession/internal/syncbuf"
	"github.com/netsession/netsession/session"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/smb2"
)

// peer returns the path of an interop tool; without it the test is
// skipped, except under CI=true where a missing peer is a failure.
func peer(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("peer %s missing under CI: %v", name, err)
		}
		t.Skipf("peer %s not installed", name)
	}
	return p
}

func python(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = peer(t, "python3")
	}
	if err := exec.Command(py, "-c", "import impacket.smbconnection").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("impacket missing under CI: %v", err)
		}
		t.Skip("impacket not installed")
	}
	return py
}

// clientConf writes a Samba client configuration with private state
// directories, so smbclient and rpcclient write nothing outside the test.
func clientConf(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[global]\n")
	for _, k := range []string{"lock directory", "state directory", "cache directory", "private dir"} {
		d := filepath.Join(dir, strings.ReplaceAll(k, " ", "_"))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		b.WriteString(k + " = " + d + "\n")
	}
	b.WriteString("client smb encrypt = off\n")
	p := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func withLog(l *syncbuf.Buffer) option {
	return func(s *smb2.Server) {
		s.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func TestSmbclientListsIPC(t *testing.T) {
	smbclient := peer(t, "smbclient")
	f := newFixture(t)
	out := run(t, smbclient, "-s", clientConf(t), "-L", "//127.0.0.1", "-p", f.port, "-U", "alice%AlicePass1")
	if !strings.Contains(out, "IPC$") || !strings.Contains(out, "Remote IPC") {
		t.Fatalf("IPC$ not listed:\n%s", out)
	}
}

func TestRpcclientSeesOwnSession(t *testing.T) {
	rpcclient := peer(t, "rpcclient")
	var logs syncbuf.Buffer
	f := newFixture(t, withLog(&logs))
	out := run(t, rpcclient, "-s", clientConf(t), "-p", f.port, "-U", "alice%AlicePass1", "127.0.0.1",
		"-c", `netsessenum; netsessenum \\\\127.0.0.1 alice 10; srvinfo`)
	// Only rpcclient's own session exists while it asks.
	if strings.Count(out, "Received 1 entries.") != 2 {
		t.Errorf("netsessenum output:\n%s", out)
	}
	if !strings.Contains(out, "platform_id     :\t500") {
		t.Errorf("srvinfo output:\n%s", out)
	}
	l := logs.String()
	if !strings.Contains(l, "dialect=0311") || !strings.Contains(l, "signing=AES-GMAC") || !strings.Contains(l, "required=true") || !strings.Contains(l, "user=alice") {
		t.Errorf("rpcclient's session was not SMB 3.1.1 with AES-GMAC signing required:\n%s", l)
	}
	// The session leaves the table once the server sees the connection end.
	waitFor(t, func() bool { return f.table.Len() == 0 })
}

type enumLine struct {
	Level   int `json:"level"`
	Dialect int `json:"dialect"`
	Total   int `json:"total"`
	Entries []struct {
		Cname     string `json:"cname"`
		Username  string `json:"username"`
		NumOpens  int    `json:"num_opens"`
		Transport string `json:"transport"`
	} `json:"entries"`
}

func TestImpacketAllLevelsPerDialect(t *testing.T) {
	py := python(t)
	f := newFixture(t)
	for _, d := range []struct {
		name string
		code int
	}{{"2.0.2", 0x0202}, {"2.1", 0x0210}, {"3.0", 0x0300}, {"auto", 0x0300}} { // auto: SMB1 upgrade
		out := run(t, py, "testdata/impacket_client.py", "enum", f.port, "alice", "AlicePass1", d.name)
		var levels []int
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var l enumLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: %v in %q", d.name, err, sc.Text())
			}
			levels = append(levels, l.Level)
			if l.Dialect != d.code || l.Total != 1 || len(l.Entries) != 1 {
				t.Errorf("%s level %d: %+v", d.name, l.Level, l)
				continue
			}
			e := l.Entries[0]
			if e.Cname != `\\127.0.0.1` || (l.Level != 0 && e.Username != "alice") {
				t.Errorf("%s level %d: %+v", d.name, l.Level, e)
			}
			if (l.Level == 1 || l.Level == 2 || l.Level == 502) && e.NumOpens != 1 {
				t.Errorf("%s level %d: num_opens %d, want 1 (the srvsvc pipe)", d.name, l.Level, e.NumOpens)
			}
			if l.Level == 502 && e.Transport != smb2.DefaultTransport {
				t.Errorf("%s: transport %q", d.name, e.Transport)
			}
		}
		if len(levels) != 5 {
			t.Errorf("%s: levels %v\n%s", d.name, levels, out)
		}
	}
}

// holder runs impacket holding n sessions of user until release.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func hold(t *testing.T, py, port, user, pass, dialect string, n int) *holder {
	t.Helper()
	cmd := exec.Command(py, "testdata/impacket_client.py", "hold", port, user, pass, dialect, string(rune('0'+n)))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() { h.release(); _ = cmd.Wait() })
	if !h.out.Scan() || h.out.Text() != "ready" {
		t.Fatalf("holder %s: %q %v", user, h.out.Text(), h.out.Err())
	}
	return h
}

// release lets the holder probe its sessions and returns what it printed.
func (h *holder) release() []string {
	if h.stdin == nil {
		return nil
	}
	h.stdin.Close()
	h.stdin = nil
	var lines []string
	for h.out.Scan() {
		lines = append(lines, h.out.Text())
	}
	return lines
}

// rpcclient's null session (it drops extended session security from the
// AUTHENTICATE and cannot sign): admitted unsigned with AllowAnonymous,
// where it enumerates under an open policy and lists itself with no user.
func TestRpcclientAnonymous(t *testing.T) {
	rpcclient := peer(t, "rpcclient")
	f := newFixture(t, func(s *smb2.Server) { s.AllowAnonymous = true })
	f.table.SetPolicy(session.PolicyOpen())
	out := run(t, rpcclient, "-s", clientConf(t), "-p", f.port, "-U%", "-N", "--option=clientipcsigning=auto", "127.0.0.1",
		"-c", `netsessenum`)
	if !strings.Contains(out, "Received 1 entries.") {
		t.Errorf("anonymous netsessenum at level 1:\n%s", out)
	}
	waitFor(t, func() bool { return f.table.Len() == 0 })
}
