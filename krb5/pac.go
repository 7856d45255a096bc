package krb5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/netsession/netsession/ndr"
)

// PAC buffer types (MS-PAC section 2.4).
const (
	pacLogonInfo      = 1
	pacServerChecksum = 6
	pacKDCChecksum    = 7
	pacClientInfo     = 10
	pacUPNDNSInfo     = 12
)

// Limits on what a PAC may claim, checked before anything is allocated.
const (
	maxPACBuffers = 64
	maxSubAuth    = 15
)

// SID is a Windows security identifier.
type SID struct {
	Authority uint64   // the 48-bit identifier authority
	Sub       []uint32 // the sub-authorities, at most 15
}

// String formats the SID as S-1-AUTHORITY-SUB-....
func (s SID) String() string {
	var b strings.Builder
	b.WriteString("S-1-")
	b.WriteString(strconv.FormatUint(s.Authority, 10))
	for _, v := range s.Sub {
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return b.String()
}

// Append returns the SID with rid appended (a domain SID and a relative
// ID make an account's SID).
func (s SID) Append(rid uint32) SID {
	return SID{Authority: s.Authority, Sub: append(append([]uint32(nil), s.Sub...), rid)}
}

// GroupMembership is a group's relative ID and attributes (SE_GROUP_*).
type GroupMembership struct {
	RID        uint32
	Attributes uint32
}

// SIDAndAttributes is a SID with its attributes (SE_GROUP_*).
type SIDAndAttributes struct {
	SID        SID
	Attributes uint32
}

// LogonInfo is the PAC's KERB_VALIDATION_INFO, the fields a server needs.
type LogonInfo struct {
	LogonTime          time.Time
	EffectiveName      string // the account name
	FullName           string
	LogonCount         uint16
	BadPasswordCount   uint16
	UserID             uint32 // RID of the user in LogonDomainID
	PrimaryGroupID     uint32
	GroupIDs           []GroupMembership // groups of LogonDomainID
	UserFlags          uint32
	LogonServer        string
	LogonDomainName    string // the NetBIOS domain
	LogonDomainID      SID
	UserAccountControl uint32
	ExtraSIDs          []SIDAndAttributes
	// ResourceGroupDomainSID and ResourceGroupIDs are the domain-local
	// groups of a resource domain, when present.
	ResourceGroupDomainSID *SID
	ResourceGroupIDs       []GroupMembership
}

// UserSID is the user's SID: the logon domain's SID and the user's RID.
func (l *LogonInfo) UserSID() SID { return l.LogonDomainID.Append(l.UserID) }

// GroupSIDs lists the SIDs of the user's groups in the logon domain.
func (l *LogonInfo) GroupSIDs() []SID {
	out := make([]SID, 0, len(l.GroupIDs))
	for _, g := range l.GroupIDs {
		out = append(out, l.LogonDomainID.Append(g.RID))
	}
	return out
}

// ResourceGroupSIDs lists the SIDs of the resource groups.
func (l *LogonInfo) ResourceGroupSIDs() []SID {
	if l.ResourceGroupDomainSID == nil {
		return nil
	}
	out := make([]SID, 0, len(l.ResourceGroupIDs))
	for _, g := range l.ResourceGroupIDs {
		out = append(out, l.ResourceGroupDomainSID.Append(g.RID))
	}
	return out
}

// PACSignature is a PAC_SIGNATURE_DATA buffer.
type PACSignature struct {
	Type      int32 // checksum type
	Signature []byte
	off       int // offset of Signature in the PAC
}

// PAC is a decoded Privilege Attribute Certificate (MS-PAC).
type PAC struct {
	LogonInfo      *LogonInfo
	ClientName     string    // PAC_CLIENT_INFO: the client's name
	ClientTime     time.Time // PAC_CLIENT_INFO: the ticket's authtime
	UPN            string    // UPN_DNS_INFO, when present
	DNSDomain      string    // UPN_DNS_INFO, when present
	ServerChecksum *PACSignature
	KDCChecksum    *PACSignature
}

// ParsePAC decodes a PAC. Every offset and count is checked against the
// data before it is used; unknown buffers are skipped. It does not check
// signatures (see verifyServerChecksum).
func ParsePAC(b []byte) (*PAC, error) {
	if len(b) < 8 {
		return nil, pacErr("PAC header", "short")
	}
	n := binary.LittleEndian.Uint32(b)
	if v := binary.LittleEndian.Uint32(b[4:]); v != 0 {
		return nil, pacErr("PAC version", strconv.FormatUint(uint64(v), 10))
	}
	if n == 0 || n > maxPACBuffers || uint64(len(b)) < 8+16*uint64(n) {
		return nil, pacErr("PAC buffer count", strconv.FormatUint(uint64(n), 10))
	}
	p := &PAC{}
	seen := map[uint32]bool{}
	for i := range int(n) {
		e := b[8+16*i:]
		typ := binary.LittleEndian.Uint32(e)
		size := uint64(binary.LittleEndian.Uint32(e[4:]))
		off := binary.LittleEndian.Uint64(e[8:])
		if off < 8+16*uint64(n) || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, pacErr("PAC buffer", fmt.Sprintf("type %d at %d+%d outside %d bytes", typ, off, size, len(b)))
		}
		if seen[typ] {
			return nil, pacErr("PAC buffer", fmt.Sprintf("type %d twice", typ))
		}
		seen[typ] = true
		data := b[off : off+size]
		var err error
		switch typ {
		case pacLogonInfo:
			p.LogonInfo, err = parseLogonInfo(data)
		case pacClientInfo:
			p.ClientName, p.ClientTime, err = parseClientInfo(data)
		case pacUPNDNSInfo:
			p.UPN, p.DNSDomain, err = parseUPNDNSInfo(data)
		case pacServerChecksum, pacKDCChecksum:
			var s *PACSignature
			if s, err = parseSignature(data, int(off)); err == nil {
				if typ == pacServerChecksum {
					p.ServerChecksum = s
				} else {
					p.KDCChecksum = s
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if p.LogonInfo == nil {
		return nil, pacErr("PAC", "no logon information")
	}
	return p, nil
}

func pacErr(what, detail string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, what, detail)
}

func parseSignature(b []byte, off int) (*PACSignature, error) {
	if len(b) < 4 {
		return nil, pacErr("PAC signature", "short")
	}
	typ := int32(binary.LittleEndian.Uint32(b))
	// The signature's length follows from its type; RODCIdentifier may
	// follow it.
	var n int
	switch typ {
	case -138: // HMAC-MD5 (RC4 keys)
		n = 16
	case 15, 16: // HMAC-SHA1-96 with AES128 or AES256
		n = 12
	default:
		return nil, pacErr("PAC signature", fmt.Sprintf("checksum type %d", typ))
	}
	if len(b) < 4+n {
		return nil, pacErr("PAC signature", "short")
	}
	return &PACSignature{Type: typ, Signature: append([]byte(nil), b[4:4+n]...), off: off + 4}, nil
}

// parseClientInfo decodes PAC_CLIENT_INFO: a FILETIME and a UTF-16 name.
func parseClientInfo(b []byte) (string, time.Time, error) {
	if len(b) < 10 {
		return "", time.Time{}, pacErr("PAC client info", "short")
	}
	t := filetime(binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]))
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if n%2 != 0 || len(b) < 10+n {
		return "", time.Time{}, pacErr("PAC client info", "name length")
	}
	return utf16le(b[10 : 10+n]), t, nil
}

// parseUPNDNSInfo decodes UPN_DNS_INFO: lengths and offsets (relative to
// the buffer) of the UPN and the DNS domain name.
func parseUPNDNSInfo(b []byte) (string, string, error) {
	if len(b) < 12 {
		return "", "", pacErr("PAC UPN_DNS_INFO", "short")
	}
	field := func(at int) (string, error) {
		n := int(binary.LittleEndian.Uint16(b[at:]))
		off := int(binary.LittleEndian.Uint16(b[at+2:]))
		if n%2 != 0 || off+n > len(b) {
			return "", pacErr("PAC UPN_DNS_INFO", "name outside the buffer")
		}
		return utf16le(b[off : off+n]), nil
	}
	upn, err := field(0)
	if err != nil {
		return "", "", err
	}
	dns, err := field(4)
	return upn, dns, err
}

// parseLogonInfo decodes KERB_VALIDATION_INFO, serialised with the NDR
// type serialisation version 1 headers.
func parseLogonInfo(b []byte) (*LogonInfo, error) {
	if len(b) < 16 {
		return nil, pacErr("PAC logon info", "short")
	}
	if b[0] != 1 || b[1] != 0x10 || binary.LittleEndian.Uint16(b[2:]) != 8 {
		return nil, pacErr("PAC logon info", "not little-endian NDR type serialisation version 1")
	}
	objLen := binary.LittleEndian.Uint32(b[8:])
	if uint64(objLen) > uint64(len(b)-16) {
		return nil, pacErr("PAC logon info", "object length beyond the buffer")
	}
	d := &logonDecoder{r: ndr.NewReader(b[16 : 16+int(objLen)])}
	li, err := d.decode()
	if err != nil {
		var ne *ndr.Error
		if errors.As(err, &ne) || !errors.Is(err, ErrMalformed) {
			return nil, fmt.Errorf("%w: PAC logon info: %v", ErrMalformed, err)
		}
		return nil, err
	}
	return li, nil
}

type logonDecoder struct {
	r   *ndr.Reader
	err error
}

func (d *logonDecoder) u32() uint32 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Uint32()
	d.err = err
	return v
}

func (d *logonDecoder) u16() uint16 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Uint16()
	d.err = err
	return v
}

func (d *logonDecoder) u8() uint8 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Uint8()
	d.err = err
	return v
}

func (d *logonDecoder) fail(what string) {
	if d.err == nil {
		d.err = pacErr("PAC logon info", what)
	}
}

func (d *logonDecoder) filetime() time.Time {
	lo := d.u32()
	hi := d.u32()
	return filetime(lo, hi)
}

// ustr is an RPC_UNICODE_STRING header: its referent is deferred.
type ustr struct {
	length, max uint16
	ptr         uint32
}

func (d *logonDecoder) ustrHeader() ustr {
	return ustr{length: d.u16(), max: d.u16(), ptr: d.u32()}
}

// ustrBody reads the deferred body of h: a conformant varying array of
// length/2 UTF-16 units, not NUL-terminated.
func (d *logonDecoder) ustrBody(h ustr, what string) string {
	if h.ptr == 0 || d.err != nil {
		return ""
	}
	maxCount := d.u32()
	offset := d.u32()
	actual := d.u32()
	if d.err != nil {
		return ""
	}
	if offset != 0 || actual > maxCount || h.length%2 != 0 || uint32(h.length/2) != actual || h.length > h.max {
		d.fail(what + " string header")
		return ""
	}
	if err := d.r.CheckCount(what, actual, 2); err != nil {
		d.err = err
		return ""
	}
	units := make([]uint16, actual)
	for i := range units {
		units[i] = d.u16()
	}
	return string(utf16.Decode(units))
}

// groups reads the deferred body of a GROUP_MEMBERSHIP array of count.
func (d *logonDecoder) groups(ptr, count uint32, what string) []GroupMembership {
	if d.err != nil {
		return nil
	}
	if ptr == 0 {
		if count != 0 {
			d.fail(what + ": count without an array")
		}
		return nil
	}
	n, err := d.r.MaxCount(what, 8)
	if err != nil {
		d.err = err
		return nil
	}
	if n != count {
		d.fail(what + ": array size differs from its count")
		return nil
	}
	out := make([]GroupMembership, n)
	for i := range out {
		out[i] = GroupMembership{RID: d.u32(), Attributes: d.u32()}
	}
	return out
}

// sid reads a deferred RPC_SID: its conformance and the SID.
func (d *logonDecoder) sid(what string) SID {
	n := d.u32()
	rev := d.u8()
	cnt := d.u8()
	if d.err != nil {
		return SID{}
	}
	if rev != 1 || cnt > maxSubAuth || uint32(cnt) != n {
		d.fail(what + " SID header")
		return SID{}
	}
	var auth uint64
	for range 6 {
		auth = auth<<8 | uint64(d.u8())
	}
	if err := d.r.CheckCount(what, uint32(cnt), 4); d.err == nil && err != nil {
		d.err = err
	}
	s := SID{Authority: auth, Sub: make([]uint32, 0, cnt)}
	for range int(cnt) {
		s.Sub = append(s.Sub, d.u32())
	}
	return s
}

func (d *logonDecoder) decode() (*LogonInfo, error) {
	if top := d.u32(); d.err == nil && top == 0 {
		d.fail("null top-level pointer")
	}
	li := &LogonInfo{}
	li.LogonTime = d.filetime()
	for range 5 { // LogoffTime, KickOffTime, PasswordLastSet, PasswordCanChange, PasswordMustChange
		d.filetime()
	}
	var names [6]ustr // EffectiveName, FullName, LogonScript, ProfilePath, HomeDirectory, HomeDirectoryDrive
	for i := range names {
		names[i] = d.ustrHeader()
	}
	li.LogonCount = d.u16()
	li.BadPasswordCount = d.u16()
	li.UserID = d.u32()
	li.PrimaryGroupID = d.u32()
	groupCount := d.u32()
	groupPtr := d.u32()
	li.UserFlags = d.u32()
	for range 4 { // UserSessionKey
		d.u32()
	}
	logonServer := d.ustrHeader()
	logonDomain := d.ustrHeader()
	domainIDPtr := d.u32()
	d.u32() // Reserved1
	d.u32()
	li.UserAccountControl = d.u32()
	d.u32()      // SubAuthStatus
	d.filetime() // LastSuccessfulILogon
	d.filetime() // LastFailedILogon
	d.u32()      // FailedILogonCount
	d.u32()      // Reserved3
	sidCount := d.u32()
	extraPtr := d.u32()
	resDomainPtr := d.u32()
	resCount := d.u32()
	resPtr := d.u32()
	if d.err != nil {
		return nil, d.err
	}

	// Deferred referents, in the order of their pointers.
	whats := [6]string{"EffectiveName", "FullName", "LogonScript", "ProfilePath", "HomeDirectory", "HomeDirectoryDrive"}
	for i, h := range names {
		s := d.ustrBody(h, whats[i])
		switch i {
		case 0:
			li.EffectiveName = s
		case 1:
			li.FullName = s
		}
	}
	li.GroupIDs = d.groups(groupPtr, groupCount, "GroupIds")
	li.LogonServer = d.ustrBody(logonServer, "LogonServer")
	li.LogonDomainName = d.ustrBody(logonDomain, "LogonDomainName")
	if domainIDPtr == 0 {
		d.fail("no LogonDomainId")
	} else {
		li.LogonDomainID = d.sid("LogonDomainId")
	}
	if extraPtr == 0 && sidCount != 0 {
		d.fail("ExtraSids: count without an array")
	}
	if extraPtr != 0 && d.err == nil {
		n, err := d.r.MaxCount("ExtraSids", 8)
		if err != nil {
			return nil, err
		}
		if n != sidCount {
			d.fail("ExtraSids: array size differs from its count")
			return nil, d.err
		}
		ptrs := make([]uint32, n)
		li.ExtraSIDs = make([]SIDAndAttributes, n)
		for i := range ptrs {
			ptrs[i] = d.u32()
			li.ExtraSIDs[i].Attributes = d.u32()
		}
		for i, p := range ptrs {
			if p == 0 {
				d.fail("ExtraSids: null SID")
				break
			}
			li.ExtraSIDs[i].SID = d.sid("ExtraSids")
		}
	}
	if resDomainPtr != 0 {
		s := d.sid("ResourceGroupDomainSid")
		li.ResourceGroupDomainSID = &s
	}
	li.ResourceGroupIDs = d.groups(resPtr, resCount, "ResourceGroupIds")
	if d.err != nil {
		return nil, d.err
	}
	return li, nil
}

// filetime converts a Windows FILETIME; 0 and the "never" value give the
// zero time.
func filetime(lo, hi uint32) time.Time {
	v := uint64(hi)<<32 | uint64(lo)
	if v == 0 || v >= 0x7fffffffffffffff {
		return time.Time{}
	}
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	if v < epochDiff {
		return time.Time{}
	}
	v -= epochDiff
	return time.Unix(int64(v/1e7), int64(v%1e7)*100).UTC()
}

func utf16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
