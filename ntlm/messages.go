package ntlm

import (
	"encoding/binary"
	"unicode/utf16"
)

// NegotiateFlags is the NegotiateFlags field of the three NTLM messages
// (MS-NLMP 2.2.2.5).
type NegotiateFlags uint32

// The negotiate flags this package reads or sets.
const (
	FlagUnicode                 NegotiateFlags = 0x00000001
	FlagOEM                     NegotiateFlags = 0x00000002
	FlagRequestTarget           NegotiateFlags = 0x00000004
	FlagSign                    NegotiateFlags = 0x00000010
	FlagSeal                    NegotiateFlags = 0x00000020
	FlagDatagram                NegotiateFlags = 0x00000040
	FlagLMKey                   NegotiateFlags = 0x00000080
	FlagNTLM                    NegotiateFlags = 0x00000200
	FlagAnonymous               NegotiateFlags = 0x00000800
	FlagOEMDomainSupplied       NegotiateFlags = 0x00001000
	FlagOEMWorkstationSupplied  NegotiateFlags = 0x00002000
	FlagAlwaysSign              NegotiateFlags = 0x00008000
	FlagTargetTypeDomain        NegotiateFlags = 0x00010000
	FlagTargetTypeServer        NegotiateFlags = 0x00020000
	FlagExtendedSessionSecurity NegotiateFlags = 0x00080000
	FlagIdentify                NegotiateFlags = 0x00100000
	FlagRequestNonNTSessionKey  NegotiateFlags = 0x00400000
	FlagTargetInfo              NegotiateFlags = 0x00800000
	FlagVersion                 NegotiateFlags = 0x02000000
	Flag128                     NegotiateFlags = 0x20000000
	FlagKeyExch                 NegotiateFlags = 0x40000000
	Flag56                      NegotiateFlags = 0x80000000
)

const (
	flagsSignOrSeal = FlagSign | FlagSeal

	// Message types and the fixed layout of AUTHENTICATE_MESSAGE:
	// 64 bytes of header, Version at 64, MIC at 72, payload from 88.
	negotiateType         = 1
	challengeType         = 2
	authenticateType      = 3
	authenticateHeaderLen = 64
	authenticateMICOffset = 72
	authenticateMICEnd    = 88
)

// Has reports whether all bits of g are set in f.
func (f NegotiateFlags) Has(g NegotiateFlags) bool { return f&g == g }

// isSignature reports whether b starts with "NTLMSSP\0".
func isSignature(b []byte) bool {
	return len(b) >= 8 && string(b[:8]) == "NTLMSSP\x00"
}

// Version is the VERSION structure (MS-NLMP 2.2.2.10). It is informational
// only and never influences a decision.
type Version struct {
	Major, Minor uint8
	Build        uint16
	Revision     uint8 // NTLMSSP_REVISION_W2K3 = 15
}

func (v Version) put(b []byte) {
	b[0], b[1] = v.Major, v.Minor
	binary.LittleEndian.PutUint16(b[2:], v.Build)
	b[4], b[5], b[6] = 0, 0, 0
	b[7] = v.Revision
}

func parseVersion(b []byte) Version {
	return Version{Major: b[0], Minor: b[1], Build: binary.LittleEndian.Uint16(b[2:]), Revision: b[7]}
}

// defaultVersion is the version an acceptor or initiator advertises when
// its configuration names none: Windows Server 2022 with revision 15.
func defaultVersion() Version { return Version{Major: 10, Minor: 0, Build: 20348, Revision: 15} }

// field reads a (Len, MaxLen, Offset) triple at b[at:] and returns the
// bytes it points at, bounds-checked against the whole message and kept
// clear of the fixed header [0, minOff).
func field(what, name string, msg []byte, at, minOff int) ([]byte, int, error) {
	n := int(binary.LittleEndian.Uint16(msg[at:]))
	off := int(binary.LittleEndian.Uint32(msg[at+4:]))
	if n == 0 {
		return nil, off, nil
	}
	if off < minOff {
		return nil, off, malformed(what, "%s at offset %d overlaps the fixed header (%d bytes)", name, off, minOff)
	}
	if off > len(msg) || n > len(msg)-off {
		return nil, off, malformed(what, "%s (%d bytes at offset %d) runs past the end of the %d-byte message", name, n, off, len(msg))
	}
	return msg[off : off+n : off+n], off, nil
}

func putField(msg []byte, at int, payload *[]byte, data []byte) {
	binary.LittleEndian.PutUint16(msg[at:], uint16(len(data)))
	binary.LittleEndian.PutUint16(msg[at+2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(msg[at+4:], uint32(len(msg)+len(*payload)))
	*payload = append(*payload, data...)
}

// NegotiateMessage is NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
type NegotiateMessage struct {
	Flags       NegotiateFlags
	Domain      string // OEM, only with FlagOEMDomainSupplied
	Workstation string // OEM, only with FlagOEMWorkstationSupplied
	Version     *Version
}

// ParseNegotiate decodes a NEGOTIATE_MESSAGE. Messages of 16 bytes (no
// domain and workstation fields) are accepted, as MS-NLMP allows.
func ParseNegotiate(b []byte) (*NegotiateMessage, error) {
	const what = "NEGOTIATE"
	if len(b) < 16 || !isSignature(b) {
		return nil, malformed(what, "not an NTLMSSP message (%d bytes)", len(b))
	}
	if t := binary.LittleEndian.Uint32(b[8:]); t != negotiateType {
		return nil, malformed(what, "message type %d, want %d", t, negotiateType)
	}
	m := &NegotiateMessage{Flags: NegotiateFlags(binary.LittleEndian.Uint32(b[12:]))}
	if len(b) < 32 {
		return m, nil
	}
	d, dOff, err := field(what, "DomainName", b, 16, 32)
	if err != nil {
		return nil, err
	}
	w, wOff, err := field(what, "Workstation", b, 24, 32)
	if err != nil {
		return nil, err
	}
	// The Version field exists when the flag says so and no payload
	// starts inside it.
	if m.Flags.Has(FlagVersion) && len(b) >= 40 && (len(d) == 0 || dOff >= 40) && (len(w) == 0 || wOff >= 40) {
		v := parseVersion(b[32:40])
		m.Version = &v
	}
	if m.Flags.Has(FlagOEMDomainSupplied) {
		m.Domain = string(d)
	}
	if m.Flags.Has(FlagOEMWorkstationSupplied) {
		m.Workstation = string(w)
	}
	return m, nil
}

// Marshal encodes m. OEM strings are written as given.
func (m *NegotiateMessage) Marshal() []byte {
	hdr := 32
	if m.Version != nil {
		hdr = 40
	}
	msg := make([]byte, hdr)
	copy(msg, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(msg[8:], negotiateType)
	flags := m.Flags
	if m.Version != nil {
		flags |= FlagVersion
		m.Version.put(msg[32:40])
	}
	var payload []byte
	putField(msg, 16, &payload, []byte(m.Domain))
	putField(msg, 24, &payload, []byte(m.Workstation))
	if m.Domain != "" {
		flags |= FlagOEMDomainSupplied
	}
	if m.Workstation != "" {
		flags |= FlagOEMWorkstationSupplied
	}
	binary.LittleEndian.PutUint32(msg[12:], uint32(flags))
	return append(msg, payload...)
}

// ChallengeMessage is CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
type ChallengeMessage struct {
	Flags           NegotiateFlags
	TargetName      string
	ServerChallenge [8]byte
	TargetInfo      AVPairs
	// RawTargetInfo is the TargetInfo bytes exactly as received (set by
	// ParseChallenge); the NTLMv2 response is computed over them.
	RawTargetInfo []byte
	Version       *Version
}

// ParseChallenge decodes a CHALLENGE_MESSAGE.
func ParseChallenge(b []byte) (*ChallengeMessage, error) {
	const what = "CHALLENGE"
	if len(b) < 48 || !isSignature(b) {
		return nil, malformed(what, "not an NTLMSSP message (%d bytes)", len(b))
	}
	if t := binary.LittleEndian.Uint32(b[8:]); t != challengeType {
		return nil, malformed(what, "message type %d, want %d", t, challengeType)
	}
	m := &ChallengeMessage{Flags: NegotiateFlags(binary.LittleEndian.Uint32(b[20:]))}
	copy(m.ServerChallenge[:], b[24:32])
	tn, tnOff, err := field(what, "TargetName", b, 12, 48)
	if err != nil {
		return nil, err
	}
	if m.Flags.Has(FlagUnicode) {
		if m.TargetName, err = decodeUTF16(what, "TargetName", tn); err != nil {
			return nil, err
		}
	} else {
		m.TargetName = string(tn)
	}
	ti, tiOff, err := field(what, "TargetInfo", b, 40, 48)
	if err != nil {
		return nil, err
	}
	if m.Flags.Has(FlagVersion) && len(b) >= 56 && (len(tn) == 0 || tnOff >= 56) && (len(ti) == 0 || tiOff >= 56) {
		v := parseVersion(b[48:56])
		m.Version = &v
	}
	if len(ti) > 0 {
		if m.TargetInfo, err = ParseAVPairs(ti); err != nil {
			return nil, err
		}
		m.RawTargetInfo = ti
	}
	return m, nil
}

// Marshal encodes m; TargetInfo is encoded from m.TargetInfo (RawTargetInfo
// is ignored), TargetName as UTF-16 when FlagUnicode is set.
func (m *ChallengeMessage) Marshal() []byte {
	hdr := 48
	if m.Version != nil {
		hdr = 56
	}
	msg := make([]byte, hdr)
	copy(msg, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(msg[8:], challengeType)
	flags := m.Flags
	if m.Version != nil {
		flags |= FlagVersion
		m.Version.put(msg[48:56])
	}
	copy(msg[24:32], m.ServerChallenge[:])
	var payload []byte
	if flags.Has(FlagUnicode) {
		putField(msg, 12, &payload, encodeUTF16(m.TargetName))
	} else {
		putField(msg, 12, &payload, []byte(m.TargetName))
	}
	if m.TargetInfo != nil {
		flags |= FlagTargetInfo
		putField(msg, 40, &payload, m.TargetInfo.Marshal())
	} else {
		putField(msg, 40, &payload, nil)
	}
	binary.LittleEndian.PutUint32(msg[20:], uint32(flags))
	return append(msg, payload...)
}

// AuthenticateMessage is AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
type AuthenticateMessage struct {
	Flags                     NegotiateFlags
	LmChallengeResponse       []byte
	NtChallengeResponse       []byte
	Domain, User, Workstation string
	EncryptedRandomSessionKey []byte
	Version                   *Version
	// MIC is the 16 bytes at offset 72 when the payload leaves room for
	// them, nil otherwise. Whether a MIC is really present is decided by
	// the MsvAvFlags AV pair inside the NTLMv2 response, never by this.
	MIC []byte
	// minPayload is the smallest offset of a non-empty payload field.
	minPayload int
}

// ParseAuthenticate decodes an AUTHENTICATE_MESSAGE. Strings are UTF-16
// when FlagUnicode is set in the message's own flags, OEM otherwise.
func ParseAuthenticate(b []byte) (*AuthenticateMessage, error) {
	const what = "AUTHENTICATE"
	if len(b) < authenticateHeaderLen || !isSignature(b) {
		return nil, malformed(what, "not an NTLMSSP message (%d bytes)", len(b))
	}
	if t := binary.LittleEndian.Uint32(b[8:]); t != authenticateType {
		return nil, malformed(what, "message type %d, want %d", t, authenticateType)
	}
	m := &AuthenticateMessage{Flags: NegotiateFlags(binary.LittleEndian.Uint32(b[60:])), minPayload: len(b)}
	var raw [6][]byte
	for i, name := range []string{"LmChallengeResponse", "NtChallengeResponse", "DomainName", "UserName", "Workstation", "EncryptedRandomSessionKey"} {
		v, off, err := field(what, name, b, 12+8*i, authenticateHeaderLen)
		if err != nil {
			return nil, err
		}
		if len(v) > 0 && off < m.minPayload {
			m.minPayload = off
		}
		raw[i] = v
	}
	m.LmChallengeResponse, m.NtChallengeResponse = raw[0], raw[1]
	m.EncryptedRandomSessionKey = raw[5]
	var err error
	for i, dst := range []*string{&m.Domain, &m.User, &m.Workstation} {
		v := raw[2+i]
		if m.Flags.Has(FlagUnicode) {
			if *dst, err = decodeUTF16(what, "name", v); err != nil {
				return nil, err
			}
		} else {
			*dst = string(v)
		}
	}
	if m.Flags.Has(FlagVersion) && m.minPayload >= authenticateMICOffset {
		v := parseVersion(b[64:72])
		m.Version = &v
	}
	if m.minPayload >= authenticateMICEnd {
		m.MIC = b[authenticateMICOffset:authenticateMICEnd:authenticateMICEnd]
	}
	return m, nil
}

// Marshal encodes m with a Version field and a MIC field (zero when m.MIC
// is nil), as every current client does.
func (m *AuthenticateMessage) Marshal() []byte {
	msg := make([]byte, authenticateMICEnd)
	copy(msg, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(msg[8:], authenticateType)
	flags := m.Flags
	v := defaultVersion()
	if m.Version != nil {
		v = *m.Version
	}
	flags |= FlagVersion
	v.put(msg[64:72])
	copy(msg[72:88], m.MIC)
	var payload []byte
	str := func(s string) []byte {
		if flags.Has(FlagUnicode) {
			return encodeUTF16(s)
		}
		return []byte(s)
	}
	putField(msg, 28, &payload, str(m.Domain))
	putField(msg, 36, &payload, str(m.User))
	putField(msg, 44, &payload, str(m.Workstation))
	putField(msg, 12, &payload, m.LmChallengeResponse)
	putField(msg, 20, &payload, m.NtChallengeResponse)
	putField(msg, 52, &payload, m.EncryptedRandomSessionKey)
	binary.LittleEndian.PutUint32(msg[60:], uint32(flags))
	return append(msg, payload...)
}

func encodeUTF16(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func decodeUTF16(what, name string, b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", malformed(what, "%s has odd UTF-16 length %d", name, len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}
