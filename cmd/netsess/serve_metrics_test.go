package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/syncbuf"
)

// --metrics serves the counters over HTTP and names its address in the
// ready file; --smb-max-conns and --smb-idle-timeout parse.
func TestServeMetrics(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	codec := make(chan int, 1)
	go func() {
		codec <- runServe(ctx, []string{"--rpc", "127.0.0.1:0", "--smb", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
			"--smb-max-conns", "10", "--smb-idle-timeout", "1m", "--ready-file", ready}, &stdout, &stderr)
	}()
	var a map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &a) == nil {
			break
		}
		select {
		case code := <-codec:
			t.Fatalf("serve exited with %d:\n%s", code, &stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready file:\n%s", &stderr)
		}
	}
	resp, err := http.Get("http://" + a["metrics"] + "/metrics")
	if err != nil {
		t.Fatalf("ready %v: %v", a, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "netsess_smb_connections 0\n") {
		t.Errorf("/metrics:\n%s", b)
	}
	cancel()
	if code := <-codec; code != 0 {
		t.Errorf("exit %d:\n%s", code, &stderr)
	}
}
