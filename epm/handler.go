package epm

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/netsession/netsession/dcerpc"
)

// Endpoint is one ncacn_ip_tcp endpoint the mapper announces.
type Endpoint struct {
	// Interface is the interface served there (UUID and version).
	Interface dcerpc.SyntaxID
	// Port is the TCP port.
	Port uint16
	// Addr is the IPv4 address put in the tower's IP floor; the zero Addr
	// (and any IPv6 address) is sent as 0.0.0.0, which clients take as
	// "the address you reached the mapper on".
	Addr netip.Addr
	// Annotation is the text ept_lookup shows for the endpoint.
	Annotation string
}

// Handler answers ept_map (opnum 3) and ept_lookup (opnum 2) for a fixed
// list of endpoints. Other operations of the interface get
// nca_s_op_rng_error.
//
// A request matches an endpoint when the tower is an ncacn_ip_tcp tower
// (connection-oriented RPC over TCP over IP), its interface floor has the
// endpoint's UUID and major version and a minor version not above the
// endpoint's, and its transfer syntax floor names NDR 2.0. A match is
// answered with the endpoint's tower, the request's interface version
// kept; no match with EPT_S_NOT_REGISTERED and no towers.
type Handler struct {
	// Endpoints are read on every call and must not change while serving.
	Endpoints []Endpoint
	// Logger receives one debug record per call; nil discards.
	Logger *slog.Logger
}

// Interface returns the registration for a dcerpc.Server.
func (h *Handler) Interface() dcerpc.Interface {
	return dcerpc.Interface{Syntax: Syntax(), Handler: h, NumOpnums: NumOpnums}
}

// ServeRPC implements dcerpc.Handler.
func (h *Handler) ServeRPC(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	switch call.Opnum {
	case OpEptMap:
	case OpEptLookup:
		var q LookupRequest
		if err := q.UnmarshalNDR(call.Stub); err != nil {
			return nil, fmt.Errorf("%w: ept_lookup: %v", dcerpc.ErrBadStub, err)
		}
		resp := h.lookup(&q)
		if h.Logger != nil && h.Logger.Enabled(ctx, slog.LevelDebug) {
			h.Logger.LogAttrs(ctx, slog.LevelDebug, "ept_lookup", slog.Int("entries", len(resp.Entries)),
				slog.String("status", fmt.Sprintf("0x%08x", resp.Status)), slog.String("remote", call.RemoteAddr))
		}
		return resp.MarshalNDR(), nil
	default:
		return nil, dcerpc.ErrOpRange
	}
	var req MapRequest
	if err := req.UnmarshalNDR(call.Stub); err != nil {
		return nil, fmt.Errorf("%w: ept_map: %v", dcerpc.ErrBadStub, err)
	}
	resp := MapResponse{MaxTowers: req.MaxTowers, Status: StatusNotRegistered}
	want, ok := h.match(req.Tower)
	if ok && req.MaxTowers > 0 {
		resp.Towers = [][]byte{want.Marshal()}
		resp.Status = StatusOK
	}
	if h.Logger != nil && h.Logger.Enabled(ctx, slog.LevelDebug) {
		h.Logger.LogAttrs(ctx, slog.LevelDebug, "ept_map",
			slog.String("interface", want.Interface.String()),
			slog.Int("towers", len(resp.Towers)),
			slog.String("status", fmt.Sprintf("0x%08x", resp.Status)),
			slog.String("remote", call.RemoteAddr))
	}
	return resp.MarshalNDR(), nil
}

// match finds the endpoint for a requested tower and returns the tower to
// answer with.
func (h *Handler) match(tower []byte) (TCPTower, bool) {
	if tower == nil {
		return TCPTower{}, false
	}
	floors, err := DecodeFloors(tower)
	if err != nil || len(floors) < 3 {
		return TCPTower{}, false
	}
	iface, err := floors[0].Syntax()
	if err != nil {
		return TCPTower{}, false
	}
	t := TCPTower{Interface: iface}
	xfer, err := floors[1].Syntax()
	if err != nil || xfer.UUID != dcerpc.NDR20.UUID || xfer.Major != dcerpc.NDR20.Major {
		return t, false
	}
	t.Transfer = xfer
	if floors[2].Protocol != ProtocolRPCCO {
		return t, false
	}
	// The remaining floors name the transport: TCP, then IP (clients send
	// both with zero values; a tower without them is taken as asking for
	// TCP too).
	if len(floors) > 3 && floors[3].Protocol != ProtocolTCP {
		return t, false
	}
	if len(floors) > 4 && floors[4].Protocol != ProtocolIP {
		return t, false
	}
	for _, e := range h.Endpoints {
		if e.Interface.UUID == iface.UUID && e.Interface.Major == iface.Major && iface.Minor <= e.Interface.Minor {
			t.Port = e.Port
			t.Addr = e.Addr
			return t, true
		}
	}
	return t, false
}
