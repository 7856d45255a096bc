package session

import (
	"net/netip"
	"strings"
	"unicode/utf16"
)

// MaxNameUnits is the longest ClientName or UserName qualifier the methods
// accept, in UTF-16 code units including the terminating NUL. Longer names
// are refused with StatusInvalidParameter.
const MaxNameUnits = 1024

// CnameStyle selects how a session's client name is presented.
type CnameStyle uint8

const (
	// CnameWindows presents the client the way Windows servers send it on
	// the wire: two backslashes, then the address (IPv6 in brackets, without
	// zone; an IPv4-mapped IPv6 address as plain IPv4) or the NetBIOS name:
	// `\\10.0.0.5`, `\\[fe80::1]`, `\\WKS1`. It is the default.
	CnameWindows CnameStyle = iota
	// CnameBare presents the same name without the backslashes and without
	// IPv6 brackets, as Samba does and as the lmshare.h documentation says
	// the field holds: `10.0.0.5`, `fe80::1`, `WKS1`.
	CnameBare
)

// String returns "windows" or "bare".
func (s CnameStyle) String() string {
	if s == CnameBare {
		return "bare"
	}
	return "windows"
}

// ParseCnameStyle parses "windows" or "bare".
func ParseCnameStyle(s string) (CnameStyle, bool) {
	switch strings.ToLower(s) {
	case "windows", "":
		return CnameWindows, true
	case "bare":
		return CnameBare, true
	}
	return 0, false
}

// clientName holds the two presentations of a client in one string: the
// Windows form is "\\" + bare, so the bare form is a substring of it and
// costs no second allocation.
type clientName struct {
	windows string // `\\10.0.0.5`, `\\[fe80::1]`, `\\WKS1`
	bareOff int    // offset of the bare form inside windows
	bareEnd int
}

func (c clientName) bare() string { return c.windows[c.bareOff:c.bareEnd] }

func (c clientName) style(s CnameStyle) string {
	if s == CnameBare {
		return c.bare()
	}
	return c.windows
}

// makeClientName turns what the transport saw (an address in any common
// textual form, or a NetBIOS name) into its presentations.
func makeClientName(raw string) clientName {
	key := NormalizeClient(raw)
	if a, err := netip.ParseAddr(key); err == nil && a.Is6() {
		w := `\\[` + key + `]`
		return clientName{windows: w, bareOff: 3, bareEnd: len(w) - 1}
	}
	w := `\\` + key
	return clientName{windows: w, bareOff: 2, bareEnd: len(w)}
}

// NormalizeClient reduces a client name to the form used for matching and
// for the bare presentation: a leading `\\` is removed, an IP address loses
// its brackets and zone and is written canonically (an IPv4-mapped IPv6
// address becomes IPv4), and anything else (a NetBIOS or DNS name) is kept as
// given apart from surrounding space. Comparison of normalised names is
// case-insensitive (see MatchClient).
func NormalizeClient(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, `\\`)
	t := s
	if len(t) >= 2 && t[0] == '[' && t[len(t)-1] == ']' {
		t = t[1 : len(t)-1]
	}
	if a, err := netip.ParseAddr(t); err == nil {
		return a.WithZone("").Unmap().String()
	}
	return s
}

// MatchClient reports whether two client names denote the same client once
// both are normalised.
func MatchClient(a, b string) bool {
	return strings.EqualFold(NormalizeClient(a), NormalizeClient(b))
}

// tooLong reports whether a qualifier exceeds MaxNameUnits once its NUL is
// counted.
func tooLong(s string) bool {
	if len(s) < MaxNameUnits { // a UTF-8 byte never yields more than one unit
		return false
	}
	n := 1 // the NUL
	for _, r := range s {
		n += utf16.RuneLen(r) // an invalid byte is U+FFFD, one unit
	}
	return n > MaxNameUnits
}
