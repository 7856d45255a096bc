package session

import "strings"

// Level is a SESSION_INFO level.
type Level uint32

// The levels NetSessionEnum serves. NetSessionGetInfo serves all but 502.
const (
	Level0   Level = 0
	Level1   Level = 1
	Level2   Level = 2
	Level10  Level = 10
	Level502 Level = 502
)

// Levels lists the valid levels in ascending order.
func Levels() []Level { return []Level{Level0, Level1, Level2, Level10, Level502} }

// Valid reports whether l is one of 0, 1, 2, 10, 502.
func (l Level) Valid() bool {
	switch l {
	case Level0, Level1, Level2, Level10, Level502:
		return true
	}
	return false
}

// User flag bits of sesiN_user_flags.
const (
	FlagGuest        uint32 = 0x1 // SESS_GUEST: the session is a guest logon
	FlagNoEncryption uint32 = 0x2 // SESS_NOENCRYPTION: the session does not use encryption
)

// TimeUnknown is what time and idle_time hold when they do not fit in 32
// bits (they saturate). Samba also sends it for a session younger than about
// half a second; consumers must not treat it as an error.
const TimeUnknown uint32 = 0xFFFFFFFF

// Info is one session as SESSION_INFO_502 describes it. Enum and GetInfo
// return Info values projected onto the requested level: a field the level
// does not carry is zero (see the Fields method). The per-level types below
// are typed views of the same data.
type Info struct {
	ClientName string // sesi_cname, in the table's CnameStyle
	UserName   string // sesi_username, without domain; "" for anonymous
	NumOpens   uint32 // files, pipes and devices open on the session
	Time       uint32 // seconds since the session was set up (saturating)
	IdleTime   uint32 // seconds since the last activity (saturating)
	UserFlags  uint32 // FlagGuest | FlagNoEncryption
	ClientType string // sesi_cltype_name
	Transport  string // sesi_transport
}

// Field is a bit set naming the members of Info that a level carries.
// The bits ascend in the order the members appear in SESSION_INFO_502,
// which is also their order in every smaller level; the srvs codec lays a
// level's members out on the wire in ascending bit order.
type Field uint8

// The Info members, in structure order.
const (
	FieldClientName Field = 1 << iota
	FieldUserName
	FieldNumOpens
	FieldTime
	FieldIdleTime
	FieldUserFlags
	FieldClientType
	FieldTransport
)

// Fields returns the members of Info that level l carries, in the order
// they appear in the SESSION_INFO structure. Level 1 carries time, idle
// time and flags although the specification's prose lists only three
// fields: the structure has them and Windows fills them.
func (l Level) Fields() Field {
	const l1 = FieldClientName | FieldUserName | FieldNumOpens | FieldTime | FieldIdleTime | FieldUserFlags
	switch l {
	case Level0:
		return FieldClientName
	case Level1:
		return l1
	case Level2:
		return l1 | FieldClientType
	case Level10:
		return FieldClientName | FieldUserName | FieldTime | FieldIdleTime
	case Level502:
		return l1 | FieldClientType | FieldTransport
	}
	return 0
}

// Has reports whether the set contains f.
func (f Field) Has(g Field) bool { return f&g == g }

// Project returns a copy of i with the members that level l does not carry
// set to zero.
func (i Info) Project(l Level) Info {
	f := l.Fields()
	var o Info
	if f.Has(FieldClientName) {
		o.ClientName = i.ClientName
	}
	if f.Has(FieldUserName) {
		o.UserName = i.UserName
	}
	if f.Has(FieldNumOpens) {
		o.NumOpens = i.NumOpens
	}
	if f.Has(FieldTime) {
		o.Time = i.Time
	}
	if f.Has(FieldIdleTime) {
		o.IdleTime = i.IdleTime
	}
	if f.Has(FieldUserFlags) {
		o.UserFlags = i.UserFlags
	}
	if f.Has(FieldClientType) {
		o.ClientType = i.ClientType
	}
	if f.Has(FieldTransport) {
		o.Transport = i.Transport
	}
	return o
}

// Info0 is SESSION_INFO_0.
type Info0 struct{ ClientName string }

// Info1 is SESSION_INFO_1.
type Info1 struct {
	ClientName, UserName                string
	NumOpens, Time, IdleTime, UserFlags uint32
}

// Info2 is SESSION_INFO_2.
type Info2 struct {
	ClientName, UserName                string
	NumOpens, Time, IdleTime, UserFlags uint32
	ClientType                          string
}

// Info10 is SESSION_INFO_10.
type Info10 struct {
	ClientName, UserName string
	Time, IdleTime       uint32
}

// Info502 is SESSION_INFO_502.
type Info502 struct {
	ClientName, UserName                string
	NumOpens, Time, IdleTime, UserFlags uint32
	ClientType, Transport               string
}

// Info0 returns the level-0 view of i.
func (i Info) Info0() Info0 { return Info0{i.ClientName} }

// Info1 returns the level-1 view of i.
func (i Info) Info1() Info1 {
	return Info1{i.ClientName, i.UserName, i.NumOpens, i.Time, i.IdleTime, i.UserFlags}
}

// Info2 returns the level-2 view of i.
func (i Info) Info2() Info2 {
	return Info2{i.ClientName, i.UserName, i.NumOpens, i.Time, i.IdleTime, i.UserFlags, i.ClientType}
}

// Info10 returns the level-10 view of i.
func (i Info) Info10() Info10 { return Info10{i.ClientName, i.UserName, i.Time, i.IdleTime} }

// Info502 returns the level-502 view of i.
func (i Info) Info502() Info502 { return Info502(i) }

// Matches reports whether i, an entry of level l, passes the qualifiers
// client and user ("" = no qualifier), compared as the table compares them
// (normalised, case-insensitive). A qualifier on a field the level does not
// carry (the user name at level 0) cannot be checked and passes.
//
// Clients use it because not every server applies the qualifiers: Samba
// ignores them and answers every session.
func (i *Info) Matches(l Level, client, user string) bool {
	f := l.Fields()
	if client != "" && f.Has(FieldClientName) && !MatchClient(i.ClientName, client) {
		return false
	}
	if user != "" && f.Has(FieldUserName) && !strings.EqualFold(i.UserName, user) {
		return false
	}
	return true
}
