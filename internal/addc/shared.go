package addc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
)

// shared is the test binary's DC, provisioned by the first Shared call
// and stopped by Main. A test binary is one process whose tests share
// this machine-wide resource (an address slot, /etc/hosts lines): the one
// piece of package state, and only for tests.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	dc      *DC
	err     error
	started bool
}

// Main runs the tests of a package that uses Shared and stops the shared
// DC afterwards. Call it from TestMain: os.Exit(addc.Main(m)).
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	dc := shared.dc
	shared.dc = nil
	shared.mu.Unlock()
	if dc != nil {
		if err := stopAndCheck(dc); err != nil {
			fmt.Fprintf(os.Stderr, "samba AD DC: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the test binary's DC, provisioning it on the first call.
// It skips or fails tb as Require does, and fails tb when the package's
// TestMain does not call Main (nothing would stop the DC). A failed
// provisioning fails every later caller with the same error.
func Shared(tb testing.TB) *DC {
	tb.Helper()
	Require(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatal("addc.Shared needs the package's TestMain to call addc.Main")
	}
	if !shared.started {
		shared.started = true
		// Other test binaries may hold the one DC slot for their
		// whole run (see Slots): wait for it, within go test's own
		// ten-minute default.
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		shared.dc, shared.err = New(ctx)
		cancel()
		if shared.err == nil {
			tb.Logf("samba AD DC %s (%s) provisioned in %v", shared.dc.Realm, shared.dc.Addr,
				shared.dc.Provisioning.Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		tb.Fatalf("samba AD DC: %v", shared.err)
	}
	dc := shared.dc
	tb.Cleanup(func() {
		if tb.Failed() {
			dc.dumpLogs(tb)
		}
	})
	return dc
}

// stopAndCheck stops dc and checks that it left nothing behind: no
// process of its own, none naming its configuration, no /etc/hosts line,
// no directory.
func stopAndCheck(dc *DC) error {
	pids := dc.Pids()
	conf, dir, tag := dc.Conf, dc.Dir, hostsTag(dc.Slot)
	if err := dc.Stop(); err != nil {
		return err
	}
	var errs []error
	for _, pid := range pids {
		if sambapeer.Alive(pid) {
			errs = append(errs, fmt.Errorf("pid %d alive after Stop", pid))
		}
	}
	if left := sambapeer.ConfPids(conf); len(left) != 0 {
		errs = append(errs, fmt.Errorf("processes naming %s after Stop: %v", conf, left))
	}
	if b, err := os.ReadFile(hostsFile); err == nil && strings.Contains(string(b), tag) {
		errs = append(errs, fmt.Errorf("%s keeps the lines tagged %q", hostsFile, tag))
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		errs = append(errs, fmt.Errorf("instance directory %s left (%v)", dir, err))
	}
	return errors.Join(errs...)
}
