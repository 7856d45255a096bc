package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/srvs"
)

// Transport names.
const (
	// TransportTCP is ncacn_ip_tcp: DCE/RPC straight on a TCP connection,
	// authenticated by DCE/RPC itself (NTLMSSP or SPNEGO).
	TransportTCP = "tcp"
	// TransportSMB is ncacn_np: DCE/RPC in the \PIPE\srvsvc named pipe of
	// an SMB2/3 session (port 445), authenticated by the SMB logon.
	TransportSMB = "smb"
)

// DefaultTransport is what an empty Options.Transport selects: the named
// pipe, since that is where Windows and Samba serve srvsvc.
const DefaultTransport = TransportSMB

// DefaultMapperPort is the endpoint mapper's well-known TCP port.
const DefaultMapperPort = 135

// endpoint is where to connect: a host and a port (0: the transport's
// default or, for TCP, ask the endpoint mapper).
type endpoint struct {
	host string
	port int
}

func (ep endpoint) addr() string { return net.JoinHostPort(ep.host, strconv.Itoa(ep.port)) }

// transport opens a byte stream carrying DCE/RPC PDUs to a server. Adding
// a transport is one type implementing this and one case in transportFor.
type transport interface {
	// open connects to ep. The stream should implement SetDeadline
	// (net.Conn does) or at least io.Closer, so that a call's deadline can
	// interrupt it.
	open(ctx context.Context, ep endpoint, o *Options) (io.ReadWriteCloser, error)
	// rpcAuth reports whether DCE/RPC authentication applies. It does not
	// over a named pipe: the SMB logon is the caller's identity there.
	rpcAuth() bool
}

func transportFor(name string) (transport, error) {
	if name == "" {
		name = DefaultTransport
	}
	switch name {
	case TransportTCP:
		return tcpTransport{}, nil
	case TransportSMB:
		return smbTransport{}, nil
	}
	return nil, fmt.Errorf("client: unknown transport %q (want %q or %q)", name, TransportTCP, TransportSMB)
}

// tcpTransport is ncacn_ip_tcp.
type tcpTransport struct{}

func (tcpTransport) rpcAuth() bool { return true }

func (tcpTransport) open(ctx context.Context, ep endpoint, o *Options) (io.ReadWriteCloser, error) {
	if ep.port == 0 {
		maddr := o.MapperAddr
		if maddr == "" {
			maddr = net.JoinHostPort(ep.host, strconv.Itoa(DefaultMapperPort))
		}
		mapper := o.Mapper
		if mapper == nil {
			mapper = o.epmMap
		}
		port, err := mapper(ctx, maddr)
		if err != nil {
			return nil, fmt.Errorf("client: endpoint mapper %s: %w", maddr, err)
		}
		ep.port = port
	}
	return o.dial(ctx, "tcp", ep.addr())
}

// splitServer parses HOST, HOST:PORT, [V6] and [V6]:PORT; a bare IPv6
// address without brackets is a host without port.
func splitServer(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, fmt.Errorf("client: no server given")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return endpoint{host: s}, nil // an IP address (IPv6 with zone too)
	}
	if s[0] == '[' && s[len(s)-1] == ']' {
		return endpoint{host: s[1 : len(s)-1]}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port.
		if ae, ok := err.(*net.AddrError); ok && ae.Err == "missing port in address" {
			return endpoint{host: s}, nil
		}
		return endpoint{}, fmt.Errorf("client: server %q: %w", s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return endpoint{}, fmt.Errorf("client: server %q: bad port %q", s, port)
	}
	if host == "" {
		return endpoint{}, fmt.Errorf("client: server %q: no host", s)
	}
	return endpoint{host: host, port: int(p)}, nil
}

// epmMap is the default MapperFunc: ept_map over a connection of its own
// (package epm).
func (o *Options) epmMap(ctx context.Context, addr string) (int, error) {
	conn, err := o.dial(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	port, err := epm.Map(ctx, conn, srvs.Syntax())
	return int(port), err
}
