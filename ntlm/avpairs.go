package ntlm

import (
	"encoding/binary"
	"time"
)

// AVID identifies an AV_PAIR (MS-NLMP 2.2.2.1).
type AVID uint16

// The AV pair identifiers.
const (
	AvEOL             AVID = 0x0000
	AvNbComputerName  AVID = 0x0001
	AvNbDomainName    AVID = 0x0002
	AvDNSComputerName AVID = 0x0003
	AvDNSDomainName   AVID = 0x0004
	AvDNSTreeName     AVID = 0x0005
	AvFlags           AVID = 0x0006
	AvTimestamp       AVID = 0x0007
	AvSingleHost      AVID = 0x0008
	AvTargetName      AVID = 0x0009
	AvChannelBindings AVID = 0x000A
)

// Bits of the MsvAvFlags value.
const (
	AvFlagConstrained  uint32 = 0x1
	AvFlagMICPresent   uint32 = 0x2
	AvFlagUntrustedSPN uint32 = 0x4
)

// maxAVPairs bounds how many pairs a list may hold; real lists have about
// ten. It keeps a hostile list from costing more than its own size.
const maxAVPairs = 64

// AVPair is one attribute-value pair.
type AVPair struct {
	ID    AVID
	Value []byte
}

// AVPairs is an AV_PAIR list without its MsvAvEOL terminator.
type AVPairs []AVPair

// ParseAVPairs decodes an AV_PAIR list. The list must end with MsvAvEOL;
// bytes after it are ignored (NTLMv2 responses carry zero padding there).
// An identifier that appears twice is an error: which copy a peer would
// believe is ambiguous, and no honest peer sends that.
func ParseAVPairs(b []byte) (AVPairs, error) {
	const what = "AV_PAIR list"
	var out AVPairs
	seen := map[AVID]bool{}
	for off := 0; ; {
		if len(b)-off < 4 {
			return nil, malformed(what, "no MsvAvEOL before the end (%d bytes)", len(b))
		}
		id := AVID(binary.LittleEndian.Uint16(b[off:]))
		n := int(binary.LittleEndian.Uint16(b[off+2:]))
		off += 4
		if n > len(b)-off {
			return nil, malformed(what, "pair 0x%04x of %d bytes runs past the end", uint16(id), n)
		}
		if id == AvEOL {
			if n != 0 {
				return nil, malformed(what, "MsvAvEOL with length %d", n)
			}
			return out, nil
		}
		if seen[id] {
			return nil, malformed(what, "pair 0x%04x appears twice", uint16(id))
		}
		if len(out) == maxAVPairs {
			return nil, malformed(what, "more than %d pairs", maxAVPairs)
		}
		seen[id] = true
		out = append(out, AVPair{ID: id, Value: b[off : off+n : off+n]})
		off += n
	}
}

// Marshal encodes the list followed by MsvAvEOL.
func (l AVPairs) Marshal() []byte {
	n := 4
	for _, p := range l {
		n += 4 + len(p.Value)
	}
	b := make([]byte, 0, n)
	for _, p := range l {
		b = binary.LittleEndian.AppendUint16(b, uint16(p.ID))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Value)))
		b = append(b, p.Value...)
	}
	return append(b, 0, 0, 0, 0)
}

// Get returns the value of the pair id and whether it is present.
func (l AVPairs) Get(id AVID) ([]byte, bool) {
	for _, p := range l {
		if p.ID == id {
			return p.Value, true
		}
	}
	return nil, false
}

// String returns the UTF-16 value of pair id decoded, or "".
func (l AVPairs) String(id AVID) string {
	v, _ := l.Get(id)
	s, err := decodeUTF16("AV_PAIR", "value", v)
	if err != nil {
		return ""
	}
	return s
}

// Flags returns the MsvAvFlags value and whether the pair is present. A
// pair of the wrong size reports present with the MIC bit set, so that a
// mangled flags pair can only make verification stricter.
func (l AVPairs) Flags() (uint32, bool) {
	v, ok := l.Get(AvFlags)
	if !ok {
		return 0, false
	}
	if len(v) != 4 {
		return AvFlagMICPresent, true
	}
	return binary.LittleEndian.Uint32(v), true
}

// Timestamp returns the MsvAvTimestamp value as a time and whether the pair
// is present and 8 bytes long.
func (l AVPairs) Timestamp() (time.Time, bool) {
	v, ok := l.Get(AvTimestamp)
	if !ok || len(v) != 8 {
		return time.Time{}, false
	}
	return fromFiletime(binary.LittleEndian.Uint64(v)), true
}

// filetimeEpochDelta is the number of 100 ns intervals between 1601-01-01
// and 1970-01-01.
const filetimeEpochDelta = 116444736000000000

func toFiletime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + filetimeEpochDelta
}

func fromFiletime(ft uint64) time.Time {
	if ft < filetimeEpochDelta {
		// Before 1970: keep arithmetic in range; such times are stale anyway.
		d := (filetimeEpochDelta - ft) / 10_000_000
		return time.Unix(-int64(d), 0)
	}
	v := ft - filetimeEpochDelta
	return time.Unix(int64(v/10_000_000), int64(v%10_000_000)*100)
}
