package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
)

func seeds200() []Seed {
	s := make([]Seed, 200)
	for i := range s {
		s[i] = Seed{Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), User: fmt.Sprintf("user%03d", i), Opens: uint32(i % 3), Time: uint32(3600 + i), Idle: uint32(i)}
	}
	return s
}

// BenchmarkRPCClientLevel1 measures Samba's rpcclient against this server:
// NetrSessionEnum level 1 with 200 sessions over ncacn_ip_tcp[PORT,sign].
// One rpcclient process runs 1 command, another 200; the cost of a call is
// (t(200) - t(1)) / 199, which leaves process start, connect and bind out.
func BenchmarkRPCClientLevel1(b *testing.B) {
	_, conf, port := rpcclientRig(b, Config{Seeds: seeds200()})
	binding := "ncacn_ip_tcp:127.0.0.1[" + port + ",sign]"
	many := strings.TrimSuffix(strings.Repeat("netsessenum; ", 200), "; ")
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		out1 := rpcclient(b, conf, binding, "alice%AlicePass1", "netsessenum")
		t1 := time.Since(t0)
		t0 = time.Now()
		out200 := rpcclient(b, conf, binding, "alice%AlicePass1", many)
		t200 := time.Since(t0)
		if strings.Count(out1, "Received 200 entries.") != 1 || strings.Count(out200, "Received 200 entries.") != 200 {
			b.Fatalf("rpcclient output:\n%s", out1)
		}
		total += (t200 - t1) / 199
	}
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/call")
	b.ReportMetric(float64(time.Second)/float64(per), "calls/s")
}

// BenchmarkGoClientLevel1 is the same workload with this module's client
// (srvs over dcerpc, NTLMSSP at integrity) on one association.
func BenchmarkGoClientLevel1(b *testing.B) {
	r := start(b, Config{Seeds: seeds200()})
	c, err := dial(b, r.addrs.RPC, "alice", "AlicePass1", dcerpc.AuthTypeNTLM, dcerpc.AuthLevelIntegrity)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		res, err := enum(c, 1)
		if err != nil || len(res.Entries) != 200 {
			b.Fatalf("%v", err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
