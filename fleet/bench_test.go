package fleet_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/netsession/netsession/fleet"
)

// BenchmarkFleetStart starts and stops a fleet of the default mix:
// start-s, and what the running fleet holds (heap and goroutine stacks,
// fleet-MB; descriptors, fds). 10,000 hosts with NETSESS_FLEET_BENCH=1,
// 100 otherwise.
func BenchmarkFleetStart(b *testing.B) {
	n := 100
	if os.Getenv("NETSESS_FLEET_BENCH") == "1" {
		n = 10000
	}
	b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
		var start time.Duration
		var mb float64
		fds := 0
		for b.Loop() {
			runtime.GC()
			m0 := inUse()
			fd0 := openFiles()
			t0 := time.Now()
			f, err := fleet.Start(context.Background(), fleet.Config{Hosts: n, Base: base(120), Seed: 5})
			if err != nil {
				b.Fatal(err)
			}
			start += time.Since(t0)
			runtime.GC()
			mb = float64(inUse()-m0) / (1 << 20)
			fds = openFiles() - fd0
			f.Close()
		}
		b.ReportMetric(start.Seconds()/float64(b.N), "start-s")
		b.ReportMetric(mb, "fleet-MB")
		b.ReportMetric(float64(fds), "fds")
	})
}

func inUse() uint64 {
	ss := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(ss)
	return ss[0].Value.Uint64() + ss[1].Value.Uint64()
}

func openFiles() int {
	es, _ := os.ReadDir("/proc/self/fd")
	return len(es)
}
