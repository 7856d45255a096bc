package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// impacketRecord is one line of testdata/impacket_srvs.py's output.
type impacketRecord struct {
	Op      string           `json:"op"`
	Status  int64            `json:"status"`
	Total   uint32           `json:"total"`
	Entries []map[string]any `json:"entries"`
	Error   string           `json:"error"`
	Class   string           `json:"class"`
}

func runImpacket(t testing.TB, py, port, user, pass, level string, ops ...string) []impacketRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"testdata/impacket_srvs.py", port, user, pass, level}, ops...)
	cmd := exec.CommandContext(ctx, py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("impacket %s: %v\n%s%s", level, err, out, stderr.String())
	}
	var recs []impacketRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r impacketRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("impacket output %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != len(ops) {
		t.Fatalf("impacket answered %d of %d operations:\n%s\n%s", len(recs), len(ops), out, stderr.String())
	}
	return recs
}

// impacket's srvs client over ncacn_ip_tcp with NTLMSSP at integrity and
// privacy: all five levels, field by field, then NetrSessionDel.
func TestImpacket(t *testing.T) {
	py := python(t)
	for _, level := range []string{"integrity", "privacy"} {
		t.Run(level, func(t *testing.T) {
			r := start(t, Config{Seeds: rpcSeeds()})
			_, port, _ := net.SplitHostPort(r.addrs.RPC)
			recs := runImpacket(t, py, port, "alice", "AlicePass1", level,
				"enum:0", "enum:1", "enum:2", "enum:10", "enum:502", `del:\\10.0.0.5:carol`, "enum:10", "del:\\\\10.0.0.5:carol")
			carol := map[string]any{"cname": `\\10.0.0.5`, "username": "carol", "num_opens": 1.0, "user_flags": 0.0, "cltype_name": "", "transport": `\Device\NetbiosSmb`}
			fields := map[int][]string{0: {"cname"}, 1: {"cname", "username", "num_opens", "user_flags"}, 2: {"cname", "username", "num_opens", "user_flags", "cltype_name"},
				10: {"cname", "username"}, 502: {"cname", "username", "num_opens", "user_flags", "cltype_name", "transport"}}
			for i, lv := range []int{0, 1, 2, 10, 502} {
				rec := recs[i]
				if rec.Status != 0 || rec.Total != 2 || len(rec.Entries) != 2 {
					t.Fatalf("level %d: %+v", lv, rec)
				}
				got := rec.Entries[0]
				want := map[string]any{}
				for _, f := range fields[lv] {
					want[f] = carol[f]
				}
				times := got["time"]
				delete(got, "time")
				delete(got, "idle_time")
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("level %d entry (-want +got):\n%s", lv, diff)
				}
				if lv != 0 {
					if tm, ok := times.(float64); !ok || tm < 600 || tm > 700 {
						t.Errorf("level %d: time %v, want about 600", lv, times)
					}
				}
			}
			if recs[5].Status != 0 {
				t.Errorf("NetrSessionDel: %+v", recs[5])
			}
			if recs[6].Status != 0 || len(recs[6].Entries) != 1 || recs[6].Entries[0]["username"] != "dave" {
				t.Errorf("after the delete: %+v", recs[6])
			}
			if recs[7].Status != 0x908 {
				t.Errorf("second delete: %+v, want NERR_ClientNameNotFound", recs[7])
			}
		})
	}
	t.Run("bob and anonymous", func(t *testing.T) {
		r := start(t, Config{Seeds: rpcSeeds()})
		_, port, _ := net.SplitHostPort(r.addrs.RPC)
		for _, who := range [][2]string{{"bob", "integrity"}, {"", "none"}} {
			recs := runImpacket(t, py, port, who[0], "BobPass1", who[1], "enum:10", `del:\\10.0.0.5:carol`)
			for _, rec := range recs {
				if rec.Status != 5 || !strings.Contains(rec.Error, "0x5") {
					t.Errorf("%s: %+v, want status 5", who[0], rec)
				}
			}
		}
		recs := runImpacket(t, py, port, "alice", "AlicePass1", "connect", "enum:1")
		if recs[0].Status != -1 || !strings.Contains(recs[0].Error, "rpc_s_access_denied") {
			t.Errorf("connect level: %+v, want the fault rpc_s_access_denied", recs[0])
		}
	})
}
