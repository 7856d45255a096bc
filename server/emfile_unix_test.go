//go:build unix

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/internal/childpipe"
	"github.com/netsession/netsession/srvs"
)

// envEMFILEChild makes TestAcceptEMFILEChild run: the server under a low
// descriptor limit, in a process of its own (the limit is process-wide).
const envEMFILEChild = "NETSESS_TEST_EMFILE_CHILD"

// childNoFile is the descriptor limit of the child: a few dozen
// connections exhaust it.
const childNoFile = 48

// TestAcceptEMFILE floods every listener of a server whose descriptor
// limit is 48 with 100 connections each, so that accept fails with
// EMFILE, then ends the flood: the server must still be running and serve
// a well-behaved client on each listener, and stop cleanly when asked.
func TestAcceptEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a child server")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptEMFILEChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envEMFILEChild+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, stdout := childpipe.Start(t, cmd)
	exited := make(chan error, 1)
	stopped := false // exited has been received from
	var out strings.Builder
	addrs := make(chan Addrs, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if a, ok := strings.CutPrefix(line, "ADDRS "); ok {
				var v Addrs
				if json.Unmarshal([]byte(a), &v) == nil {
					addrs <- v
				}
			}
		}
		exited <- cmd.Wait()
	}()
	defer func() {
		// The child is gone unless the test failed early; then stop it.
		stdin.Close()
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	var a Addrs
	t0 := time.Now()
	select {
	case a = <-addrs:
		t.Logf("child ready in %v", time.Since(t0).Round(time.Millisecond))
	case err := <-exited:
		stopped = true
		t.Fatalf("child ended before serving: %v\n%s%s", err, out.String(), stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready")
	}

	t0 = time.Now()
	var flood []net.Conn
	for _, addr := range []string{a.RPC, a.EPM, a.SMB, a.Metrics} {
		for range 100 {
			nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				break // the backlog is full: flooded enough
			}
			flood = append(flood, nc)
		}
	}
	// Let the accept loops meet EMFILE a few times.
	select {
	case err := <-exited:
		stopped = true
		t.Fatalf("server exited under the flood: %v\n%s", err, tail(stderr.String()))
	case <-time.After(1500 * time.Millisecond):
	}
	for _, nc := range flood {
		nc.Close()
	}
	t.Logf("flooded with %d connections in %v", len(flood), time.Since(t0).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	retry := func(what string, f func() error) {
		t.Helper()
		var err error
		t0 := time.Now()
		for ctx.Err() == nil {
			if err = f(); err == nil {
				t.Logf("%s served after %v", what, time.Since(t0).Round(time.Millisecond))
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("%s after the flood: %v", what, err)
	}
	call := func(transport, addr string) func() error {
		return func() error {
			c, err := client.Dial(ctx, addr, client.Options{Transport: transport,
				Credentials: client.Credentials{User: "alice", Password: "AlicePass1"}, Timeout: 5 * time.Second})
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.EnumAll(ctx, 1, client.Filter{})
			return err
		}
	}
	retry("srvsvc over ncacn_ip_tcp", call(client.TransportTCP, a.RPC))
	retry("ept_map", func() error {
		_, err := epm.MapAddr(ctx, a.EPM, srvs.Syntax())
		return err
	})
	retry("srvsvc over SMB", call(client.TransportSMB, a.SMB))
	retry("metrics", func() error {
		resp, err := http.Get("http://" + a.Metrics + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	})
	select {
	case err := <-exited:
		stopped = true
		t.Fatalf("server exited: %v\n%s", err, tail(stderr.String()))
	default:
	}
	stdin.Close()
	t0 = time.Now()
	select {
	case err := <-exited:
		stopped = true
		t.Logf("child stopped in %v", time.Since(t0).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("child: %v\n%s", err, tail(out.String()+stderr.String()))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child did not stop")
	}
	if !strings.Contains(stderr.String(), "too many open files") {
		t.Log("the flood did not make accept fail with EMFILE; the test proved less than it should")
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// TestAcceptEMFILEChild is the server of TestAcceptEMFILE; it runs only
// in the child process.
func TestAcceptEMFILEChild(t *testing.T) {
	if os.Getenv(envEMFILEChild) != "1" {
		t.Skip("run by TestAcceptEMFILE in a process of its own")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	srv, err := New(Config{
		EPMAddr: "127.0.0.1:0", SMBAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
		AllowAnonymous: true,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnReady: func(a Addrs) {
			b, _ := json.Marshal(a)
			os.Stdout.WriteString("ADDRS " + string(b) + "\n")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = childNoFile
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-stdinDone
}
