//go:build !linux

package smb2

import "net"

// newRawIO returns nc: raw socket calls are used on Linux only.
func newRawIO(nc net.Conn) net.Conn { return nc }
