package server

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/promtext"
	"github.com/netsession/netsession/internal/promtext/promtexttest"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
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

// The Prometheus families of a Metrics value, read back by the reference
// parser: every name, type and value of serve's exposition, none in
// watch's netsess_watch_ namespace.
func TestPromFamilies(t *testing.T) {
	m := Metrics{Sessions: 3, SMB: smb2.Stats{ConnsAccepted: 5, ConnsRejected: 1, ConnsOpen: 2, SessionsOpened: 4, SessionsOpen: 3,
		LogonsFailed: 6, Timeouts: 7, ProtocolErrors: 8, BytesIn: 123456789, BytesOut: 1 << 40,
		Commands: map[string]int64{"create": 4, "negotiate": 5, `odd"name`: 1}},
		RPCCalls: []RPCCall{{12, "0x00000000", 3}, {12, "0x0000007c", 1}, {13, "fault", 2}}}
	text, err := promtext.Append(nil, promFamilies(m))
	if err != nil {
		t.Fatal(err)
	}
	got := promtexttest.Series(t, text)
	for line := range strings.Lines(string(text)) {
		if typ, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(typ)
			if strings.HasSuffix(f[0], "_total") != (f[1] == "counter") || f[1] != "counter" && f[1] != "gauge" {
				t.Errorf("%s: type %s", f[0], f[1])
			}
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "netsess_watch_") {
			t.Errorf("%s is in watch's namespace", name)
		}
	}
	if got["go_goroutines"] < 1 {
		t.Errorf("go_goroutines %v", got["go_goroutines"])
	}
	delete(got, "go_goroutines")
	want := map[string]float64{
		"netsess_sessions": 3, "netsess_smb_connections_accepted_total": 5, "netsess_smb_connections_rejected_total": 1,
		"netsess_smb_connections": 2, "netsess_smb_sessions_established_total": 4, "netsess_smb_sessions": 3,
		"netsess_smb_logons_failed_total": 6, "netsess_smb_timeouts_total": 7, "netsess_smb_protocol_errors_total": 8,
		"netsess_smb_received_bytes_total": 123456789, "netsess_smb_sent_bytes_total": 1 << 40,
		"netsess_smb_requests_total{command=create}": 4, "netsess_smb_requests_total{command=negotiate}": 5,
		`netsess_smb_requests_total{command=odd"name}`:        1,
		"netsess_rpc_calls_total{opnum=12,status=0x00000000}": 3, "netsess_rpc_calls_total{opnum=12,status=0x0000007c}": 1,
		"netsess_rpc_calls_total{opnum=13,status=fault}": 2,
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
