//go:build linux && !race

package rawtcp

import (
	"io"
	"testing"
)

// A read and a write that succeed allocate nothing: the server makes
// several per SMB message.
func TestRawTCPNoAllocs(t *testing.T) {
	rc, peer := rawPair(t)
	b, pb := make([]byte, 100), make([]byte, 100)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := peer.Write(pb); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, b); err != nil {
			t.Fatal(err)
		}
		if _, err := rc.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peer, pb); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per read and write, want 0", allocs)
	}
}
