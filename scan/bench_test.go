//go:build unix

package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/scan"
)

// fleetBenchEnv turns on the large fleet benchmarks (1,000 and 10,000
// hosts); without it each benchmark runs on a small fleet, which is what
// CI's single pass over every benchmark needs.
const fleetBenchEnv = "NETSESS_FLEET_BENCH"

// BenchmarkScanFleet scans a fleet of normal hosts with the engine and,
// on the same fleet in the same run, with an impacket thread pool of the
// kind bloodhound.py runs (10 and 50 workers; one SMB logon, one bind and
// NetrSessionEnum at level 10 per host). Metrics: hosts/s, and peak
// memory: for the engine the Go heap and stacks above what they were
// before the scan (the fleet shares the process), for impacket the
// process's peak RSS; and the CPU per host of the scanner and the fleet
// together, which, unlike hosts/s, does not depend on what else the
// machine runs. The fleet's start is reported as fleet-start-s and what
// it holds (heap and stacks, sessions included) as fleet-MB. The
// large runs take minutes (impacket's): give go test a -timeout to match.
func BenchmarkScanFleet(b *testing.B) {
	sizes := []int{50}
	if os.Getenv(fleetBenchEnv) == "1" {
		sizes = []int{1000, 10000}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			runtime.GC()
			mem0 := inUse()
			start := time.Now()
			f := startFleet(b, fleet.Config{Hosts: n, Mix: fleet.Mix{{Behavior: fleet.Normal, Weight: 1}}, Base: base(100), Seed: 9, ExpectedConns: 4096})
			fleetStart := time.Since(start)
			runtime.GC()
			fleetMB := float64(inUse()-mem0) / (1 << 20)
			ts := targetsOf(b, f)
			for _, conc := range []int{scan.DefaultConcurrency, 256} {
				b.Run(fmt.Sprintf("netsess-c%d", conc), func(b *testing.B) {
					benchEngine(b, ts, conc)
					b.ReportMetric(fleetStart.Seconds(), "fleet-start-s")
					b.ReportMetric(fleetMB, "fleet-MB")
				})
			}
			for _, w := range []int{10, 50} {
				b.Run(fmt.Sprintf("impacket-w%d", w), func(b *testing.B) {
					benchImpacket(b, f, w)
				})
			}
		})
	}
}

func benchEngine(b *testing.B, ts []scan.Target, conc int) {
	s, err := scan.New(scan.Config{
		Client:      client.Options{Credentials: scanCred()},
		Level:       scan.AutoLevel,
		Concurrency: conc,
		HostTimeout: 30 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	var peak uint64
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		runtime.GC()
		base := inUse()
		stop := sampleMemory(&peak)
		t0 := time.Now()
		collected := 0
		sum, err := s.Run(context.Background(), scan.SliceSource(ts), func(r *scan.Result) {
			if r.Collected {
				collected++
			}
		})
		elapsed += time.Since(t0)
		stop()
		if err != nil || collected != len(ts) {
			b.Fatalf("%d of %d collected (%+v), %v", collected, len(ts), sum.ByReason, err)
		}
		if peak > base {
			peak -= base
		} else {
			peak = 0
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.ReportMetric(float64(len(ts)*b.N)/elapsed.Seconds(), "hosts/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
	// CPU of the whole process (scanner and fleet) per host.
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	sys := time.Duration(ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(ts)*b.N), "cpu-µs/host")
	b.ReportMetric(float64(sys.Microseconds())/float64(len(ts)*b.N), "sys-µs/host")
}

// inUse reads the heap's live objects and the goroutine stacks, without
// stopping the world (runtime.ReadMemStats would, every sample).
func inUse() uint64 {
	ss := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(ss)
	return ss[0].Value.Uint64() + ss[1].Value.Uint64()
}

// sampleMemory records the peak of inUse every 20 ms until stopped.
func sampleMemory(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v := inUse(); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

const python = "/usr/bin/python3"

func benchImpacket(b *testing.B, f *fleet.Fleet, workers int) {
	if err := exec.Command(python, "-c", "import impacket.smbconnection").Run(); err != nil {
		sambapeer.Unavailable(b, "impacket", err)
	}
	list := filepath.Join(b.TempDir(), "targets")
	if err := os.WriteFile(list, []byte(strings.Join(f.Targets(), "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	var secs float64
	var rss int64
	var cpu time.Duration
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		cmd := exec.Command(python, "testdata/fleet_impacket.py", list, strconv.Itoa(workers), fleet.ScanUser, fleet.ScanPassword, fleet.Domain, "10")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("impacket: %v: %s", err, out)
		}
		var r struct {
			Hosts, OK, Failed, Sessions int
			Seconds                     float64
		}
		if err := json.Unmarshal(out, &r); err != nil {
			b.Fatalf("impacket output %q: %v", out, err)
		}
		if r.OK != len(f.Hosts) {
			b.Fatalf("impacket: %s", out)
		}
		secs += r.Seconds
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss) // KiB on Linux
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	// CPU per host: the Python process's (interpreter start included)
	// and this process's, which serves the fleet meanwhile.
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu += time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(len(f.Hosts)*b.N)/secs, "hosts/s")
	b.ReportMetric(float64(rss)/1024, "peak-MB")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(f.Hosts)*b.N), "cpu-µs/host")
}
