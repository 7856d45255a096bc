package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
)

// peer returns the path of an installed peer tool, or skips the test; under
// CI=true a missing peer fails it instead.
func peer(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		sambapeer.Unavailable(t, "peer "+name, err)
	}
	return p
}

// python returns /usr/bin/python3 if it can import impacket.
func python(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import impacket.dcerpc.v5.srvs").Run(); err != nil {
		sambapeer.Unavailable(t, "impacket (under "+py+")", err)
	}
	return py
}

// clientConf writes a Samba client configuration that keeps rpcclient's
// state inside a temporary directory.
func clientConf(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	conf := filepath.Join(d, "client.conf")
	var b strings.Builder
	b.WriteString("[global]\n  workgroup = WKS\n  netbios name = NETSESSTEST\n  disable netbios = yes\n")
	for _, kv := range [][2]string{{"lock directory", "lock"}, {"state directory", "state"}, {"cache directory", "cache"},
		{"private dir", "private"}, {"pid directory", "pid"}, {"ncalrpc dir", "ncalrpc"}} {
		fmt.Fprintf(&b, "  %s = %s\n", kv[0], filepath.Join(d, kv[1]))
	}
	fmt.Fprintf(&b, "  log file = %s\n", filepath.Join(d, "log.%m"))
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// lock135 takes, for the rest of the test, the file lock that serialises
// everything on this machine that needs 127.0.0.1:135 (our mapper here,
// Samba's samba-dcerpcd in the Samba peer tests).
func lock135(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	f, err := sambapeer.LockPort135(ctx)
	if err != nil {
		t.Fatalf("port 135 lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}

// rpcclientRig is a server for rpcclient: it requires rpcclient, writes
// its client configuration, takes lock135 and starts cfg with the endpoint
// mapper on 127.0.0.1:135. It returns the running server, the client
// configuration and the server's RPC port.
func rpcclientRig(t testing.TB, cfg Config) (r *running, conf, port string) {
	t.Helper()
	peer(t, "rpcclient")
	conf = clientConf(t)
	lock135(t)
	r = startMapped(t, cfg)
	_, port, _ = net.SplitHostPort(r.addrs.RPC)
	return r, conf, port
}

// startMapped starts cfg with the endpoint mapper on 127.0.0.1:135, which
// rpcclient always asks (Samba 4.17's rpcclient ignores the port in an
// ncacn_ip_tcp binding). The caller holds lock135.
func startMapped(t testing.TB, cfg Config) *running {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:135")
	if err != nil {
		sambapeer.Unavailable(t, "127.0.0.1:135 for the endpoint mapper (busy, or no privilege to bind it)", err)
	}
	l.Close()
	cfg.EPMAddr = "127.0.0.1:135"
	return start(t, cfg)
}

// rpcclient runs Samba's rpcclient with the given binding and commands.
func rpcclient(t testing.TB, conf, binding, creds, cmds string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-s", conf}
	if creds == "" {
		args = append(args, "-N")
	} else {
		args = append(args, "-U", creds)
	}
	args = append(args, binding, "-c", cmds)
	out, _ := exec.CommandContext(ctx, peer(t, "rpcclient"), args...).CombinedOutput()
	return string(out)
}
