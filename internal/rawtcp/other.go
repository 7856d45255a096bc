//go:build !linux

package rawtcp

import "net"

// Wrap returns nc: raw socket calls are used on Linux only.
func Wrap(nc net.Conn) net.Conn { return nc }
