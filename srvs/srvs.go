package srvs

import (
	"errors"

	"github.com/netsession/netsession/ndr"
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

// MaxPreferredLength is the PreferedMaximumLength value that asks for
// everything in one reply.
const MaxPreferredLength uint32 = 0xFFFFFFFF

// Information levels of SESSION_ENUM_STRUCT.
const (
	Level0   uint32 = 0
	Level1   uint32 = 1
	Level2   uint32 = 2
	Level10  uint32 = 10
	Level502 uint32 = 502
)

// ErrInvalid is returned (wrapped) by encoders for values that have no
// wire form, such as entries at a level without an info container.
var ErrInvalid = errors.New("srvs: value cannot be encoded")

// KnownLevel reports whether level has a SESSION_ENUM_UNION arm.
func KnownLevel(level uint32) bool {
	_, ok := layoutFor(level)
	return ok
}

// FixedSize returns the NDR size of the scalar part of one
// SESSION_INFO_<level> element (4, 24, 28, 16 or 32 bytes), or 0 for an
// unknown level.
func FixedSize(level uint32) int {
	l, _ := layoutFor(level)
	return l.fixed()
}

// EntrySize returns the exact number of NDR bytes one entry adds to a
// NetrSessionEnum response at level: its fixed part plus, for each string
// the level carries, ndr.StringSize (12 bytes of header and 2 bytes per
// UTF-16 code unit including the NUL, rounded up to 4). Strings the level
// does not carry are ignored. It returns 0 for an unknown level.
//
// The arguments are plain strings so that code below this package (the
// session table, which pages results by this rule) can use the same
// figure without depending on srvs types.
func EntrySize(level uint32, clientName, userName, clientType, transport string) int {
	l, ok := layoutFor(level)
	if !ok {
		return 0
	}
	n := l.fixed()
	for _, f := range l.fields[:l.n] {
		switch f {
		case fClientName:
			n += ndr.StringSize(clientName)
		case fUserName:
			n += ndr.StringSize(userName)
		case fClientType:
			n += ndr.StringSize(clientType)
		case fTransport:
			n += ndr.StringSize(transport)
		}
	}
	return n
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

// field identifies one SESSION_INFO member; every member is 4 bytes in
// the fixed part (a DWORD or a string's referent ID).
type field uint8

const (
	fClientName field = iota
	fUserName
	fNumOpens
	fTime
	fIdleTime
	fUserFlags
	fClientType
	fTransport
)

func (f field) isString() bool {
	return f == fClientName || f == fUserName || f == fClientType || f == fTransport
}

// layout is the wire order of the members of one SESSION_INFO level.
type layout struct {
	n      int
	fields [8]field
}

func (l layout) fixed() int { return 4 * l.n }

// strings returns the number of string members.
func (l layout) strings() int {
	k := 0
	for _, f := range l.fields[:l.n] {
		if f.isString() {
			k++
		}
	}
	return k
}

// layoutFor is a switch rather than a table so the package holds no
// variables.
func layoutFor(level uint32) (layout, bool) {
	switch level {
	case Level0:
		return layout{1, [8]field{fClientName}}, true
	case Level1:
		return layout{6, [8]field{fClientName, fUserName, fNumOpens, fTime, fIdleTime, fUserFlags}}, true
	case Level2:
		return layout{7, [8]field{fClientName, fUserName, fNumOpens, fTime, fIdleTime, fUserFlags, fClientType}}, true
	case Level10:
		return layout{4, [8]field{fClientName, fUserName, fTime, fIdleTime}}, true
	case Level502:
		return layout{8, [8]field{fClientName, fUserName, fNumOpens, fTime, fIdleTime, fUserFlags, fClientType, fTransport}}, true
	}
	return layout{}, false
}

func str(e *SessionInfo, f field) string {
	switch f {
	case fClientName:
		return e.ClientName
	case fUserName:
		return e.UserName
	case fClientType:
		return e.ClientType
	default:
		return e.Transport
	}
}

func strPtr(e *SessionInfo, f field) *string {
	switch f {
	case fClientName:
		return &e.ClientName
	case fUserName:
		return &e.UserName
	case fClientType:
		return &e.ClientType
	default:
		return &e.Transport
	}
}

func scalar(e *SessionInfo, f field) uint32 {
	switch f {
	case fNumOpens:
		return e.NumOpens
	case fTime:
		return e.Time
	case fIdleTime:
		return e.IdleTime
	default:
		return e.UserFlags
	}
}

func setScalar(e *SessionInfo, f field, v uint32) {
	switch f {
	case fNumOpens:
		e.NumOpens = v
	case fTime:
		e.Time = v
	case fIdleTime:
		e.IdleTime = v
	default:
		e.UserFlags = v
	}
}
