package directory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file asks a client address for its NetBIOS name with a node status
// query (NBSTAT, RFC 1002 sections 4.2.17 and 4.2.18) on UDP port 137: the
// resolution path for clients without a reverse DNS name.

// NetBIOSFunc asks an address for the NetBIOS name of its computer.
type NetBIOSFunc func(ctx context.Context, addr netip.Addr) (string, error)

// NetBIOSPort is the NetBIOS name service port.
const NetBIOSPort = 137

// DefaultNodeStatusTimeout bounds a node status query when none is given:
// a host that answers does so within milliseconds, and most hosts do not
// answer at all.
const DefaultNodeStatusTimeout = time.Second

// ErrNodeStatus is a node status answer that does not decode or names no
// computer.
var ErrNodeStatus = errors.New("directory: NetBIOS node status")

// NodeStatusName is one name of a node status answer.
type NodeStatusName struct {
	Name   string // the name without its padding
	Suffix byte   // the 16th byte: 0x00 workstation, 0x20 server, ...
	Group  bool   // a group name, not the computer's own
	Active bool   // registered and active
}

// NodeStatus returns a NetBIOSFunc that sends a node status query to UDP
// port (NetBIOSPort when 0) of the address and takes the computer's name
// from the answer (ComputerName). timeout bounds the wait (0:
// DefaultNodeStatusTimeout); a host that does not answer within it is
// ErrNotFound, so that the Resolver remembers it.
func NodeStatus(port int, timeout time.Duration) NetBIOSFunc {
	if port == 0 {
		port = NetBIOSPort
	}
	if timeout <= 0 {
		timeout = DefaultNodeStatusTimeout
	}
	return func(ctx context.Context, addr netip.Addr) (string, error) {
		names, err := queryNodeStatus(ctx, netip.AddrPortFrom(addr.Unmap(), uint16(port)), timeout)
		if err != nil {
			return "", err
		}
		return ComputerName(names)
	}
}

// ComputerName picks the computer's own name from a node status answer:
// the active unique name of suffix 0x00 (workstation service), else of
// suffix 0x20 (server service), in upper case.
func ComputerName(names []NodeStatusName) (string, error) {
	for _, suffix := range []byte{0x00, 0x20} {
		for _, n := range names {
			if n.Suffix == suffix && !n.Group && n.Active && n.Name != "" {
				return strings.ToUpper(n.Name), nil
			}
		}
	}
	return "", fmt.Errorf("%w: no unique workstation or server name among %d names", ErrNodeStatus, len(names))
}

func queryNodeStatus(ctx context.Context, ap netip.AddrPort, timeout time.Duration) ([]NodeStatusName, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("NetBIOS node status of %s: %w", ap.Addr(), err)
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	id := uint16(time.Now().UnixNano()>>10) | 1
	if _, err := conn.Write(nodeStatusQuery(id)); err != nil {
		return nil, fmt.Errorf("NetBIOS node status of %s: %w", ap.Addr(), err)
	}
	buf := make([]byte, 2048)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.ECONNREFUSED) {
				// No answer, or the port is closed (ICMP).
				return nil, fmt.Errorf("%w: %s: no NetBIOS node status answer", ErrNotFound, ap.Addr())
			}
			return nil, fmt.Errorf("NetBIOS node status of %s: %w", ap.Addr(), err)
		}
		names, err := parseNodeStatus(buf[:n], id)
		if errors.Is(err, errOtherID) {
			continue
		}
		return names, err
	}
}

// encodedWildcard is the name "*" padded with zeros, first-level encoded
// (each byte as two letters from 'A', RFC 1001 section 14.1), with its
// length byte and the empty scope.
var encodedWildcard = func() []byte {
	b := []byte{32}
	for i := range 16 {
		c := byte(0)
		if i == 0 {
			c = '*'
		}
		b = append(b, 'A'+c>>4, 'A'+c&0x0f)
	}
	return append(b, 0)
}()

const (
	typeNBSTAT  = 0x0021
	classIN     = 0x0001
	flagReply   = 0x8000
	opcodeMask  = 0x7800
	rcodeMask   = 0x000f
	nameGroup   = 0x8000
	nameActive  = 0x0400
	nameEntry   = 18
	maxNBStatus = 2048
)

// nodeStatusQuery is the request: one question for "*" of type NBSTAT.
func nodeStatusQuery(id uint16) []byte {
	b := make([]byte, 12, 12+len(encodedWildcard)+4)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	b = append(b, encodedWildcard...)
	b = binary.BigEndian.AppendUint16(b, typeNBSTAT)
	return binary.BigEndian.AppendUint16(b, classIN)
}

var errOtherID = errors.New("answer to another query")

// parseNodeStatus decodes a node status response to the query id: the
// header, the answer record's name (in full or as a pointer), type, class,
// TTL and length, then the name count and the 18-byte entries (15 name
// bytes, the suffix, the flags). The statistics after them are ignored.
func parseNodeStatus(b []byte, id uint16) ([]NodeStatusName, error) {
	if len(b) < 12 || len(b) > maxNBStatus {
		return nil, fmt.Errorf("%w: answer of %d bytes", ErrNodeStatus, len(b))
	}
	if binary.BigEndian.Uint16(b) != id {
		return nil, errOtherID
	}
	flags := binary.BigEndian.Uint16(b[2:])
	if flags&flagReply == 0 || flags&opcodeMask != 0 {
		return nil, fmt.Errorf("%w: not an answer to a query (flags %#04x)", ErrNodeStatus, flags)
	}
	if rc := flags & rcodeMask; rc != 0 {
		return nil, fmt.Errorf("%w: error %d", ErrNodeStatus, rc)
	}
	if an := binary.BigEndian.Uint16(b[6:]); an < 1 {
		return nil, fmt.Errorf("%w: no answer record", ErrNodeStatus)
	}
	p := 12
	// A question may be echoed before the answer.
	for range binary.BigEndian.Uint16(b[4:]) {
		q, err := skipName(b, p)
		if err != nil {
			return nil, err
		}
		p = q + 4
	}
	p, err := skipName(b, p)
	if err != nil {
		return nil, err
	}
	if len(b) < p+10 {
		return nil, fmt.Errorf("%w: truncated answer record", ErrNodeStatus)
	}
	if t, c := binary.BigEndian.Uint16(b[p:]), binary.BigEndian.Uint16(b[p+2:]); t != typeNBSTAT || c != classIN {
		return nil, fmt.Errorf("%w: record of type %#x class %#x", ErrNodeStatus, t, c)
	}
	rdlen := int(binary.BigEndian.Uint16(b[p+8:]))
	rdata := b[p+10:]
	if rdlen > len(rdata) || rdlen < 1 {
		return nil, fmt.Errorf("%w: record data of %d bytes, %d present", ErrNodeStatus, rdlen, len(rdata))
	}
	rdata = rdata[:rdlen]
	n := int(rdata[0])
	if 1+n*nameEntry > len(rdata) {
		return nil, fmt.Errorf("%w: %d names in %d bytes", ErrNodeStatus, n, len(rdata))
	}
	names := make([]NodeStatusName, 0, n)
	for i := range n {
		e := rdata[1+i*nameEntry : 1+(i+1)*nameEntry]
		name := strings.TrimRight(string(e[:15]), " \x00")
		for _, c := range []byte(name) {
			if c < 0x20 || c > 0x7e {
				return nil, fmt.Errorf("%w: name %s is not printable", ErrNodeStatus, strconv.Quote(name))
			}
		}
		fl := binary.BigEndian.Uint16(e[16:])
		names = append(names, NodeStatusName{Name: name, Suffix: e[15], Group: fl&nameGroup != 0, Active: fl&nameActive != 0})
	}
	return names, nil
}

// skipName returns the offset after the encoded name at p: labels up to
// the empty one, or a two-byte pointer.
func skipName(b []byte, p int) (int, error) {
	for hops := 0; hops < 64; hops++ {
		if p >= len(b) {
			return 0, fmt.Errorf("%w: truncated name", ErrNodeStatus)
		}
		l := int(b[p])
		switch {
		case l == 0:
			return p + 1, nil
		case l&0xc0 == 0xc0:
			if p+2 > len(b) {
				return 0, fmt.Errorf("%w: truncated name pointer", ErrNodeStatus)
			}
			return p + 2, nil
		case l&0xc0 != 0:
			return 0, fmt.Errorf("%w: bad label length %#x", ErrNodeStatus, l)
		}
		p += 1 + l
	}
	return 0, fmt.Errorf("%w: name of too many labels", ErrNodeStatus)
}
