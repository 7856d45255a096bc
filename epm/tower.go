package epm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/netsession/netsession/dcerpc"
)

// Protocol identifiers of tower floors (C706 appendix I, MS-RPCE 2.2.1.2).
const (
	ProtocolUUID        byte = 0x0d // lhs: UUID + major version; rhs: minor version
	ProtocolRPCCO       byte = 0x0b // connection-oriented RPC; rhs: minor version
	ProtocolTCP         byte = 0x07 // rhs: port, big-endian
	ProtocolIP          byte = 0x09 // rhs: IPv4 address, network order
	ProtocolNamedPipe   byte = 0x0f // rhs: pipe name (ncacn_np)
	ProtocolNetBIOSName byte = 0x11 // rhs: host name (ncacn_np)
)

// MaxFloors bounds the floors a tower may have. Real towers have three to
// five; the bound keeps a lying floor count from costing anything.
const MaxFloors = 16

// ErrTower wraps every tower decoding failure.
var ErrTower = errors.New("epm: malformed tower")

// Floor is one protocol floor of a tower: the protocol identifier, the rest
// of the left-hand side (the UUID and major version of a UUID floor, empty
// otherwise) and the right-hand side (address data: a minor version, a port,
// an address). Decoded floors alias the input.
type Floor struct {
	Protocol byte
	LHS      []byte
	RHS      []byte
}

func towerErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrTower, fmt.Sprintf(format, a...))
}

// DecodeFloors decodes a tower_octet_string: a little-endian floor count,
// then per floor a little-endian lhs length, the lhs (protocol identifier
// first), a little-endian rhs length and the rhs. Every length is checked
// against the octets present and the tower must end with its last floor.
func DecodeFloors(b []byte) ([]Floor, error) {
	if len(b) < 2 {
		return nil, towerErr("%d octets, no floor count", len(b))
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if n > MaxFloors {
		return nil, towerErr("%d floors (at most %d)", n, MaxFloors)
	}
	// Each floor takes at least 5 octets (two lengths and a protocol id).
	if n*5 > len(b) {
		return nil, towerErr("%d floors cannot fit in %d octets", n, len(b))
	}
	floors := make([]Floor, 0, n)
	for i := range n {
		if len(b) < 2 {
			return nil, towerErr("floor %d: no lhs length", i)
		}
		ll := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if ll < 1 || ll > len(b) {
			return nil, towerErr("floor %d: lhs length %d with %d octets left", i, ll, len(b))
		}
		f := Floor{Protocol: b[0], LHS: b[1:ll:ll]}
		b = b[ll:]
		if len(b) < 2 {
			return nil, towerErr("floor %d: no rhs length", i)
		}
		rl := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if rl > len(b) {
			return nil, towerErr("floor %d: rhs length %d with %d octets left", i, rl, len(b))
		}
		f.RHS = b[:rl:rl]
		b = b[rl:]
		floors = append(floors, f)
	}
	if len(b) != 0 {
		return nil, towerErr("%d octets after the last floor", len(b))
	}
	return floors, nil
}

// AppendFloors appends the tower_octet_string of floors to dst.
func AppendFloors(dst []byte, floors []Floor) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(floors)))
	for _, f := range floors {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(1+len(f.LHS)))
		dst = append(dst, f.Protocol)
		dst = append(dst, f.LHS...)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(f.RHS)))
		dst = append(dst, f.RHS...)
	}
	return dst
}

// uuidWire writes u in its NDR little-endian form.
func uuidWire(dst []byte, u dcerpc.UUID) []byte {
	return append(dst,
		u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6],
		u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15])
}

func uuidFromWire(b []byte) dcerpc.UUID {
	return dcerpc.UUID{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
		b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]}
}

// SyntaxFloor returns the UUID floor naming an interface or transfer
// syntax: lhs = 0x0d, the UUID in little-endian wire form, the major version
// (little-endian); rhs = the minor version (little-endian).
func SyntaxFloor(s dcerpc.SyntaxID) Floor {
	lhs := uuidWire(make([]byte, 0, 18), s.UUID)
	lhs = binary.LittleEndian.AppendUint16(lhs, s.Major)
	return Floor{Protocol: ProtocolUUID, LHS: lhs, RHS: binary.LittleEndian.AppendUint16(nil, s.Minor)}
}

// Syntax decodes a UUID floor.
func (f Floor) Syntax() (dcerpc.SyntaxID, error) {
	if f.Protocol != ProtocolUUID {
		return dcerpc.SyntaxID{}, towerErr("protocol 0x%02x is not a UUID floor", f.Protocol)
	}
	if len(f.LHS) != 18 || len(f.RHS) != 2 {
		return dcerpc.SyntaxID{}, towerErr("UUID floor with lhs %d and rhs %d octets (want 18 and 2)", len(f.LHS), len(f.RHS))
	}
	return dcerpc.SyntaxID{
		UUID:  uuidFromWire(f.LHS),
		Major: binary.LittleEndian.Uint16(f.LHS[16:]),
		Minor: binary.LittleEndian.Uint16(f.RHS),
	}, nil
}

// TCPTower is the tower of an ncacn_ip_tcp endpoint: five floors, the
// interface, the transfer syntax, connection-oriented RPC (minor version 0),
// the TCP port and the IPv4 address.
type TCPTower struct {
	Interface dcerpc.SyntaxID
	Transfer  dcerpc.SyntaxID
	Port      uint16
	// Addr is the IPv4 address; the zero Addr is sent as 0.0.0.0.
	Addr netip.Addr
}

// Floors returns the tower's floors.
func (t TCPTower) Floors() []Floor {
	ip := [4]byte{}
	if t.Addr.Is4() || t.Addr.Is4In6() {
		ip = t.Addr.Unmap().As4()
	}
	return []Floor{
		SyntaxFloor(t.Interface),
		SyntaxFloor(t.Transfer),
		{Protocol: ProtocolRPCCO, RHS: []byte{0, 0}},
		{Protocol: ProtocolTCP, RHS: binary.BigEndian.AppendUint16(nil, t.Port)},
		{Protocol: ProtocolIP, RHS: ip[:]},
	}
}

// Marshal returns the tower_octet_string.
func (t TCPTower) Marshal() []byte { return AppendFloors(make([]byte, 0, 75), t.Floors()) }

// ParseTCPTower decodes the tower of an ncacn_ip_tcp endpoint. It needs the
// five floors in their usual order; a tower for another protocol sequence
// is an error wrapping ErrTower.
func ParseTCPTower(b []byte) (TCPTower, error) {
	floors, err := DecodeFloors(b)
	if err != nil {
		return TCPTower{}, err
	}
	return tcpTowerFromFloors(floors)
}

func tcpTowerFromFloors(floors []Floor) (TCPTower, error) {
	var t TCPTower
	if len(floors) != 5 {
		return t, towerErr("%d floors, an ncacn_ip_tcp tower has 5", len(floors))
	}
	var err error
	if t.Interface, err = floors[0].Syntax(); err != nil {
		return t, fmt.Errorf("interface floor: %w", err)
	}
	if t.Transfer, err = floors[1].Syntax(); err != nil {
		return t, fmt.Errorf("transfer syntax floor: %w", err)
	}
	if floors[2].Protocol != ProtocolRPCCO {
		return t, towerErr("floor 3 is protocol 0x%02x, not connection-oriented RPC", floors[2].Protocol)
	}
	if floors[3].Protocol != ProtocolTCP || len(floors[3].RHS) != 2 {
		return t, towerErr("floor 4 is protocol 0x%02x with %d octets, not a TCP port", floors[3].Protocol, len(floors[3].RHS))
	}
	t.Port = binary.BigEndian.Uint16(floors[3].RHS)
	if floors[4].Protocol != ProtocolIP || len(floors[4].RHS) != 4 {
		return t, towerErr("floor 5 is protocol 0x%02x with %d octets, not an IPv4 address", floors[4].Protocol, len(floors[4].RHS))
	}
	t.Addr = netip.AddrFrom4([4]byte(floors[4].RHS))
	return t, nil
}
