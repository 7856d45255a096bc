package dcerpc

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// UUID is a DCE UUID in its canonical (string) byte order:
// "8a885d04-1ceb-11c9-9fe8-08002b104860" is {0x8a, 0x88, 0x5d, 0x04, 0x1c, ...}.
//
// On the wire the first three fields are little-endian (NDR with the
// little-endian data representation), which Encode and DecodeUUID handle.
type UUID [16]byte

// ParseUUID parses the 36-character hyphenated form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("dcerpc: malformed UUID %q", s)
	}
	hexs := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(hexs)); err != nil {
		return UUID{}, fmt.Errorf("dcerpc: malformed UUID %q: %w", s, err)
	}
	return u, nil
}

// MustParseUUID is ParseUUID for constants known to be valid; it panics on
// a malformed string.
func MustParseUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// String returns the hyphenated lowercase form.
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IsZero reports whether u is the nil UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// putWire writes u in its little-endian wire form into b[:16].
func (u UUID) putWire(b []byte) {
	_ = b[15]
	b[0], b[1], b[2], b[3] = u[3], u[2], u[1], u[0]
	b[4], b[5] = u[5], u[4]
	b[6], b[7] = u[7], u[6]
	copy(b[8:16], u[8:16])
}

// uuidFromWire reads a little-endian wire UUID from b[:16].
func uuidFromWire(b []byte) UUID {
	_ = b[15]
	var u UUID
	u[0], u[1], u[2], u[3] = b[3], b[2], b[1], b[0]
	u[4], u[5] = b[5], b[4]
	u[6], u[7] = b[7], b[6]
	copy(u[8:16], b[8:16])
	return u
}

// SyntaxID names an abstract syntax (an interface) or a transfer syntax:
// a UUID and a version. On the wire the version is one 32-bit value whose
// low 16 bits are the major and high 16 bits the minor version.
type SyntaxID struct {
	UUID  UUID
	Major uint16
	Minor uint16
}

const syntaxIDLen = 20

func (s SyntaxID) String() string { return fmt.Sprintf("%s v%d.%d", s.UUID, s.Major, s.Minor) }

func (s SyntaxID) put(b []byte) {
	s.UUID.putWire(b[:16])
	binary.LittleEndian.PutUint16(b[16:], s.Major)
	binary.LittleEndian.PutUint16(b[18:], s.Minor)
}

func syntaxFromWire(b []byte) SyntaxID {
	return SyntaxID{
		UUID:  uuidFromWire(b[:16]),
		Major: binary.LittleEndian.Uint16(b[16:]),
		Minor: binary.LittleEndian.Uint16(b[18:]),
	}
}

// Well-known transfer syntaxes.
var (
	// NDR20 is the NDR transfer syntax version 2.0, the only one this package
	// accepts.
	NDR20 = SyntaxID{UUID: UUID{0x8a, 0x88, 0x5d, 0x04, 0x1c, 0xeb, 0x11, 0xc9, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}, Major: 2}
	// NDR64 is the 64-bit NDR transfer syntax; it is recognised only to be
	// refused.
	NDR64 = SyntaxID{UUID: UUID{0x71, 0x71, 0x05, 0x33, 0xbe, 0xba, 0x49, 0x37, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36}, Major: 1}
)

// bindTimeFeaturePrefix is the first eight canonical bytes of the
// pseudo transfer syntax that carries the bind-time feature negotiation
// bitmask (MS-RPCE 3.3.1.5.3) in its last eight bytes.
var bindTimeFeaturePrefix = [8]byte{0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40}

// BindTimeFeatureSyntax returns the pseudo transfer syntax a client puts in
// a bind to offer the given feature bits.
func BindTimeFeatureSyntax(features Features) SyntaxID {
	var u UUID
	copy(u[:8], bindTimeFeaturePrefix[:])
	u[8] = byte(features)
	u[9] = byte(features >> 8)
	return SyntaxID{UUID: u, Major: 1}
}

// isBindTimeFeature reports whether s is the feature negotiation pseudo
// syntax, and returns the offered bits (the first two bitmask octets; the
// rest are reserved).
func isBindTimeFeature(s SyntaxID) (Features, bool) {
	if [8]byte(s.UUID[:8]) != bindTimeFeaturePrefix {
		return 0, false
	}
	return Features(s.UUID[8]) | Features(s.UUID[9])<<8, true
}

// Features is the bind-time feature negotiation bitmask (MS-RPCE 2.2.2.14).
type Features uint16

const (
	// FeatureSecurityContextMultiplexing: several security contexts on one
	// connection. Not implemented by this package.
	FeatureSecurityContextMultiplexing Features = 0x01
	// FeatureKeepConnectionOnOrphan: the connection stays open after an
	// orphaned PDU. Implemented: the server drops the orphaned call and keeps
	// reading.
	FeatureKeepConnectionOnOrphan Features = 0x02
)
