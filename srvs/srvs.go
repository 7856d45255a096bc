package srvs

import (
	"errors"
	"math/bits"

	"github.com/netsession/netsession/session"
)

// Operation numbers of the srvsvc interface implemented here.
const (
	OpNetrSessionEnum uint16 = 12
	OpNetrSessionDel  uint16 = 13
)

// Identity of the srvsvc interface.
const (
	// InterfaceUUID is the srvsvc interface UUID in its usual text form.
	InterfaceUUID = "4b324fc8-1670-01d3-1278-5a47bf6ee188"
	// InterfaceVersionMajor and InterfaceVersionMinor make version 3.0.
	InterfaceVersionMajor uint16 = 3
	InterfaceVersionMinor uint16 = 0
)

// InterfaceUUIDBytes returns InterfaceUUID in wire order, as it appears in
// a bind's presentation context (a little-endian GUID: the first three
// groups byte-reversed).
func InterfaceUUIDBytes() [16]byte {
	return [16]byte{
		0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
		0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88,
	}
}

// ErrInvalid is returned (wrapped) by encoders for values that have no
// wire form, such as entries at a level without an info container.
var ErrInvalid = errors.New("srvs: value cannot be encoded")

// The levels (session.Level0 ... session.Level502) and MAX_PREFERRED_LENGTH
// (session.MaxPreferredLength) are the session package's: they are the
// vocabulary of the Win32 calls the table implements. The wire layout of
// each level is this package's alone: every member the level carries
// (session.Level.Fields, in structure order) is four bytes in the fixed
// part, a DWORD or a string's referent ID, and each string is deferred.

// FixedSize returns the NDR size of the scalar part of one
// SESSION_INFO_<level> element (4, 24, 28, 16 or 32 bytes), or 0 for an
// unknown level.
func FixedSize(level session.Level) int {
	return 4 * bits.OnesCount8(uint8(level.Fields()))
}

// EntrySize returns the exact number of NDR bytes e adds to a
// NetrSessionEnum response at level: its fixed part plus, for each string
// the level carries, ndr.StringSize (12 bytes of header and 2 bytes per
// UTF-16 code unit including the NUL, rounded up to 4). Strings the level
// does not carry are ignored. It returns 0 for an unknown level.
//
// Its signature is that of session.EnumQuery.Size: a handler passes it to
// the table so that PreferedMaximumLength is spent in wire bytes.
func EntrySize(level session.Level, e *SessionInfo) int {
	f := level.Fields()
	return 4*bits.OnesCount8(uint8(f)) + entryStrings(f, e, true)
}

// SessionInfo is one session entry: the eight fields of SESSION_INFO_502,
// of which the level of the call decides which go on the wire:
//
//	level 0:   ClientName
//	level 1:   ClientName, UserName, NumOpens, Time, IdleTime, UserFlags
//	level 2:   level 1 + ClientType
//	level 10:  ClientName, UserName, Time, IdleTime
//	level 502: all eight
//
// It is the session table's own entry type, so a handler passes the
// table's results to a response without copying them. Encoders ignore the
// fields a level does not carry; decoders leave them zero. Every string a
// level carries is sent as a non-NULL pointer (an empty string as ""); a
// NULL string pointer received decodes as "".
type SessionInfo = session.Info

// field is one SESSION_INFO member.
type field = session.Field

func isString(f field) bool {
	return f == session.FieldClientName || f == session.FieldUserName || f == session.FieldClientType || f == session.FieldTransport
}

// layout is the wire order of the members of one SESSION_INFO level.
type layout struct {
	n      int
	fields [8]field
}

func (l layout) fixed() int { return 4 * l.n }

// set returns the members as a set.
func (l layout) set() field {
	var f field
	for _, m := range l.fields[:l.n] {
		f |= m
	}
	return f
}

// strings returns the number of string members.
func (l layout) strings() int {
	k := 0
	for _, f := range l.fields[:l.n] {
		if isString(f) {
			k++
		}
	}
	return k
}

// layoutFor lists the members level carries in ascending bit order, which
// is their order in the structure; ok is false for a level without a
// SESSION_ENUM_UNION arm.
func layoutFor(level session.Level) (l layout, ok bool) {
	set := level.Fields()
	for f := field(1); f != 0; f <<= 1 {
		if set.Has(f) {
			l.fields[l.n] = f
			l.n++
		}
	}
	return l, l.n > 0
}

func str(e *SessionInfo, f field) string {
	switch f {
	case session.FieldClientName:
		return e.ClientName
	case session.FieldUserName:
		return e.UserName
	case session.FieldClientType:
		return e.ClientType
	default:
		return e.Transport
	}
}

func strPtr(e *SessionInfo, f field) *string {
	switch f {
	case session.FieldClientName:
		return &e.ClientName
	case session.FieldUserName:
		return &e.UserName
	case session.FieldClientType:
		return &e.ClientType
	default:
		return &e.Transport
	}
}

func scalar(e *SessionInfo, f field) uint32 {
	switch f {
	case session.FieldNumOpens:
		return e.NumOpens
	case session.FieldTime:
		return e.Time
	case session.FieldIdleTime:
		return e.IdleTime
	default:
		return e.UserFlags
	}
}

func setScalar(e *SessionInfo, f field, v uint32) {
	switch f {
	case session.FieldNumOpens:
		e.NumOpens = v
	case session.FieldTime:
		e.Time = v
	case session.FieldIdleTime:
		e.IdleTime = v
	default:
		e.UserFlags = v
	}
}
