package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
)

// With MetricsAddr, Run serves the counters: an SMB logon, an
// enumeration and a refused enumeration show up in /metrics and
// /debug/vars.
func TestRunMetrics(t *testing.T) {
	srv, err := New(Config{SMBAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, stop := runReady(t, ctx, srv)
	if a.Metrics == "" {
		t.Fatalf("addrs %+v without metrics", a)
	}
	c, err := client.Dial(ctx, a.SMB, client.Options{Transport: client.TransportSMB, Credentials: client.Credentials{User: "alice", Password: "AlicePass1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.EnumAll(ctx, session.Level1, client.Filter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnumAll(ctx, 7, client.Filter{}); err == nil {
		t.Fatal("level 7 answered")
	}

	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + a.Metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return string(b)
	}
	prom := get("/metrics")
	for _, want := range []string{
		"netsess_sessions 1\n",
		"netsess_smb_connections 1\n",
		"netsess_smb_sessions_established_total 1\n",
		"netsess_smb_logons_failed_total 0\n",
		`netsess_smb_requests_total{command="create"} 1` + "\n",
		`netsess_rpc_calls_total{opnum="12",status="0x00000000"} 1` + "\n",
		`netsess_rpc_calls_total{opnum="12",status="0x0000007c"} 1` + "\n", // ERROR_INVALID_LEVEL
		"# TYPE netsess_smb_received_bytes_total counter\n",
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, prom)
		}
	}
	var vars struct {
		Metrics
		Goroutines int `json:"goroutines"`
	}
	if err := json.Unmarshal([]byte(get("/debug/vars")), &vars); err != nil {
		t.Fatal(err)
	}
	if vars.Sessions != 1 || vars.SMB.SessionsOpen != 1 || len(vars.RPCCalls) != 2 || vars.Goroutines == 0 {
		t.Errorf("/debug/vars: %+v", vars)
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
