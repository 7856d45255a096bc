package client_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/session"
)

// BenchmarkSamba200 measures NetrSessionEnum calls per second on one
// connection against Samba holding 200 sessions (201 with the caller's
// own over SMB), for our client over SMB and over ncacn_ip_tcp[sign], and
// in the same run for rpcclient and impacket. It starts Samba (with a
// standalone samba-dcerpcd, which needs 127.0.0.1:135) and holds 200
// sessions, so it runs only with NETSESS_PEER_BENCH=1:
//
//	NETSESS_PEER_BENCH=1 go test -run '^$' -bench Samba200 -benchtime 400x ./client
//
// rpcclient runs 200 netsessenum commands in one process (one bind); its
// per-call time is (t(200 commands) - t(1 command)) / 199, so that the
// process start, logon and bind drop out. impacket times its loop of 100
// calls only. Both measure once per run whatever b.N; ours makes b.N
// calls. Level 10 is Samba's error path (ERROR_INVALID_LEVEL, 32 bytes of
// stub): it measures the round trips rather than the enumeration.
func BenchmarkSamba200(b *testing.B) {
	if os.Getenv("NETSESS_PEER_BENCH") != "1" {
		b.Skip("set NETSESS_PEER_BENCH=1 to benchmark against Samba (starts smbd, holds 200 sessions)")
	}
	sambapeer.RequireImpacket(b)
	p := sambapeer.Start(b, sambapeer.Options{RPCOverTCP: true})
	p.HoldT(b, sambapeer.Session{User: sambapeer.User, Password: sambapeer.UserPassword, From: "127.0.0.2", Count: 200})
	ctx := context.Background()

	ours := func(server, transport string, level session.Level) func(b *testing.B) {
		return func(b *testing.B) {
			c, err := client.Dial(ctx, server, client.Options{Transport: transport, Credentials: adminCred, Timeout: 30 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			entries := 0
			b.ResetTimer()
			for b.Loop() {
				res, err := c.EnumAll(ctx, level, client.Filter{})
				if level == session.Level10 {
					if err == nil {
						b.Fatal("level 10 answered; Samba refuses it")
					}
				} else if err != nil {
					b.Fatal(err)
				} else {
					entries = len(res.Sessions)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			if level != session.Level10 {
				b.ReportMetric(float64(entries), "entries")
			}
		}
	}
	rpcclient := func(cmd func(ctx context.Context, user, password, cmds string) *exec.Cmd, command string) func(b *testing.B) {
		return func(b *testing.B) {
			run := func(n int) time.Duration {
				cmds := strings.Join(slices.Repeat([]string{command}, n), ";")
				start := time.Now()
				out, err := cmd(ctx, sambapeer.AdminUser, sambapeer.AdminPassword, cmds).CombinedOutput()
				d := time.Since(start)
				// rpcclient exits 1 when its last command got an error
				// status (level 10 does, on purpose).
				if err != nil && !strings.Contains(string(out), "WERR_INVALID_LEVEL") {
					b.Fatalf("rpcclient: %v: %.300s", err, out)
				}
				if got := strings.Count(string(out), "result was") + strings.Count(string(out), "Received "); got != n {
					b.Fatalf("rpcclient answered %d of %d commands: %.300s", got, n, out)
				}
				return d
			}
			// One measurement whatever b.N: rpcclient makes its own loop.
			run(1) // warm
			t1 := run(1)
			t200 := run(200)
			per := (t200 - t1) / 199
			b.ReportMetric(float64(time.Second)/float64(per), "calls/s")
			b.ReportMetric(0, "ns/op")
		}
	}
	impacket := func(level int) func(b *testing.B) {
		return func(b *testing.B) {
			// One measurement whatever b.N: the script makes its own loop.
			var rate float64
			{
				out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/samba_bench_impacket.py",
					sambapeer.Host, strconv.Itoa(p.Port), sambapeer.AdminUser, sambapeer.AdminPassword,
					strconv.Itoa(level), "100").CombinedOutput()
				if err != nil {
					b.Fatalf("impacket: %v: %.300s", err, out)
				}
				var entries int
				if _, err := fmt.Sscanf(string(out), "%g %d", &rate, &entries); err != nil {
					b.Fatalf("impacket said %q", out)
				}
			}
			b.ReportMetric(rate, "calls/s")
			b.ReportMetric(0, "ns/op")
		}
	}
	level10 := `netsessenum \\\\127.0.0.1 ` + sambapeer.AdminUser + ` 10`

	b.Run("level1/ours-smb", ours(p.Addr(), client.TransportSMB, session.Level1))
	b.Run("level1/rpcclient-smb", rpcclient(p.RPCClient, "netsessenum"))
	b.Run("level1/impacket-smb", impacket(1))
	b.Run("level1/ours-tcp-sign", ours(p.SrvsvcTCPAddr(), client.TransportTCP, session.Level1))
	b.Run("level1/rpcclient-tcp-sign", rpcclient(p.RPCClientTCP, "netsessenum"))
	b.Run("level10/ours-smb", ours(p.Addr(), client.TransportSMB, session.Level10))
	b.Run("level10/rpcclient-smb", rpcclient(p.RPCClient, level10))
	b.Run("level10/ours-tcp-sign", ours(p.SrvsvcTCPAddr(), client.TransportTCP, session.Level10))
	b.Run("level10/rpcclient-tcp-sign", rpcclient(p.RPCClientTCP, level10))
}
