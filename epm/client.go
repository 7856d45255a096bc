package epm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/netsession/netsession/dcerpc"
)

// DefaultPort is the endpoint mapper's well-known TCP port.
const DefaultPort = 135

// ErrNotRegistered: the mapper does not know the interface
// (EPT_S_NOT_REGISTERED, or an answer without a usable tower).
var ErrNotRegistered = errors.New("epm: interface not registered with the endpoint mapper")

// StatusError is an ept_map status other than success and
// EPT_S_NOT_REGISTERED.
type StatusError struct{ Status uint32 }

func (e *StatusError) Error() string { return fmt.Sprintf("epm: ept_map status 0x%08x", e.Status) }

// Map asks the endpoint mapper on rw (an unauthenticated byte stream to
// it, normally a TCP connection to port 135) for the ncacn_ip_tcp port of
// iface. It binds the ept interface, sends one ept_map and returns the port
// of the first TCP tower in the answer. It does not close rw.
func Map(ctx context.Context, rw io.ReadWriter, iface dcerpc.SyntaxID) (uint16, error) {
	c := dcerpc.NewClient(rw, dcerpc.ClientConfig{})
	if err := c.Bind(ctx, Syntax()); err != nil {
		return 0, fmt.Errorf("epm: bind: %w", err)
	}
	req := MapRequest{
		Object:    &dcerpc.UUID{},
		Tower:     TCPTower{Interface: iface, Transfer: dcerpc.NDR20}.Marshal(),
		MaxTowers: 4,
	}
	out, err := c.Call(ctx, OpEptMap, req.MarshalNDR())
	if err != nil {
		return 0, fmt.Errorf("epm: ept_map: %w", err)
	}
	var resp MapResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		return 0, fmt.Errorf("epm: ept_map answer: %w", err)
	}
	switch resp.Status {
	case StatusOK:
	case StatusNotRegistered:
		return 0, fmt.Errorf("%w: %s", ErrNotRegistered, iface)
	default:
		return 0, &StatusError{Status: resp.Status}
	}
	for _, tb := range resp.Towers {
		t, err := ParseTCPTower(tb)
		if err != nil || t.Port == 0 {
			continue
		}
		return t.Port, nil
	}
	return 0, fmt.Errorf("%w: %s (no TCP tower in the answer)", ErrNotRegistered, iface)
}

// MapAddr dials the endpoint mapper at addr ("host:port"; a missing port
// means DefaultPort) over TCP and calls Map. The connection is closed
// afterwards; ctx bounds the whole exchange.
func MapAddr(ctx context.Context, addr string, iface dcerpc.SyntaxID) (uint16, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"), strconv.Itoa(DefaultPort))
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("epm: %w", err)
	}
	defer conn.Close()
	return Map(ctx, conn, iface)
}
