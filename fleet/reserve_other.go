//go:build !linux

package fleet

import (
	"io"
	"net/netip"
)

// reserve does nothing here: the address is simply left without a
// listener.
func reserve(addr netip.Addr, port int) (io.Closer, error) { return nil, nil }
