package directory

import (
	"net/netip"
	"strings"
)

// ClientKind says what a session's client name is.
type ClientKind int

// The kinds of client name.
const (
	ClientEmpty ClientKind = iota
	ClientIP
	ClientNetBIOS
	ClientFQDN
)

// String names the kind.
func (k ClientKind) String() string {
	switch k {
	case ClientIP:
		return "ip"
	case ClientNetBIOS:
		return "netbios"
	case ClientFQDN:
		return "fqdn"
	}
	return "empty"
}

// ClientName is a session's client name normalised for lookups.
type ClientName struct {
	Kind ClientKind
	// Host is the name in lower case without a trailing dot (ClientFQDN),
	// the NetBIOS name in upper case (ClientNetBIOS), or the address
	// without its zone (ClientIP).
	Host string
	// Addr is the address for ClientIP (no zone); Zone the zone the raw
	// name carried, if any.
	Addr netip.Addr
	Zone string
}

// Loopback reports whether the client is the server itself.
func (c ClientName) Loopback() bool {
	return c.Kind == ClientIP && (c.Addr.IsLoopback() || c.Addr.IsUnspecified())
}

// NormalizeClient normalises a session's client name as servers report it:
// leading backslashes ("\\HOST"), a "DOMAIN\" prefix, IPv6 brackets
// ("[fe80::1%eth0]"), an IPv6 zone, an IPv4-mapped IPv6 form, surrounding
// spaces, a trailing dot and case are all removed, so that every spelling of
// one client gives one ClientName. A name without a dot is a NetBIOS name, one
// with a dot a DNS name.
func NormalizeClient(raw string) ClientName {
	// One pass strips one layer of decoration; a name decorated twice
	// ("[ \\\\x ]") needs another, so passes repeat until nothing changes.
	s := raw
	for {
		next := stripClient(s)
		if next == s {
			break
		}
		s = next
	}
	if a, err := netip.ParseAddr(s); err == nil {
		zone := a.Zone()
		a = a.WithZone("").Unmap()
		return ClientName{Kind: ClientIP, Host: a.String(), Addr: a, Zone: zone}
	}
	if s == "" {
		return ClientName{}
	}
	if strings.Contains(s, ".") {
		return ClientName{Kind: ClientFQDN, Host: strings.ToLower(s)}
	}
	return ClientName{Kind: ClientNetBIOS, Host: strings.ToUpper(s)}
}

// stripClient removes one layer of decoration from a client name: a
// DOMAIN\ or \\ prefix, leading slashes, surrounding space, IPv6 brackets
// and trailing dots. Every step shortens the name or leaves it alone.
func stripClient(s string) string {
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimLeft(s, "/")
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			s = s[1:i]
		}
	}
	return strings.TrimRight(s, ". \t")
}

// UserName is a session's user name split into its parts.
type UserName struct {
	// Domain is the "DOMAIN\" or "@domain" part ("" when none), in upper
	// case; Name the account name as given.
	Domain string
	Name   string
}

// SplitUser splits DOMAIN\user and user@domain.
func SplitUser(raw string) UserName {
	s := strings.TrimSpace(raw)
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		return UserName{Domain: strings.ToUpper(strings.TrimLeft(s[:i], `\`)), Name: s[i+1:]}
	}
	if i := strings.LastIndexByte(s, '@'); i > 0 {
		return UserName{Domain: strings.ToUpper(s[i+1:]), Name: s[:i]}
	}
	return UserName{Name: s}
}

// Skip says why a session yields no edge, as the ingestors drop it.
type Skip string

// The reasons a session is left out.
const (
	SkipNone Skip = ""
	// SkipEmptyUser and SkipEmptyClient are sessions without a user name
	// (anonymous, or a level that carries none) or client name.
	SkipEmptyUser   Skip = "empty_user"
	SkipEmptyClient Skip = "empty_client"
	// SkipMachineAccount is a user name ending in $.
	SkipMachineAccount Skip = "machine_account"
	// SkipAnonymous is ANONYMOUS LOGON.
	SkipAnonymous Skip = "anonymous"
	// SkipCollector is the collecting account's own session.
	SkipCollector Skip = "collector"
)

// SkipSession says whether a session of user from client is left out, and
// why: empty names, machine accounts, anonymous logons and the collecting
// account (collector, as DOMAIN\user, user@domain or user; compared without
// regard to case, and the domain only when both sides name one).
func SkipSession(client, user, collector string) Skip {
	u := SplitUser(user)
	switch {
	case u.Name == "":
		return SkipEmptyUser
	case NormalizeClient(client).Kind == ClientEmpty:
		return SkipEmptyClient
	case strings.HasSuffix(u.Name, "$"):
		return SkipMachineAccount
	case strings.EqualFold(u.Name, "ANONYMOUS LOGON"):
		return SkipAnonymous
	}
	if collector != "" {
		c := SplitUser(collector)
		if strings.EqualFold(c.Name, u.Name) && (c.Domain == "" || u.Domain == "" || sameDomain(c.Domain, u.Domain)) {
			return SkipCollector
		}
	}
	return SkipNone
}

// sameDomain compares two domain names, NetBIOS or DNS, by their first
// label when one of them is a DNS name (NSAD0 and nsad0.example match).
func sameDomain(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	fa, _, _ := strings.Cut(a, ".")
	fb, _, _ := strings.Cut(b, ".")
	return (strings.Contains(a, ".") != strings.Contains(b, ".")) && strings.EqualFold(fa, fb)
}
