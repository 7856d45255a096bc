package session

import "strings"

// Well-known local group names that the access policy understands. Group
// membership is compared case-insensitively, and the "BUILTIN\" prefix that
// Windows tools print is accepted too.
const (
	GroupAdministrators  = "Administrators"
	GroupServerOperators = "Server Operators"
)

// Caller is the identity of whoever asks the table a question: the result of
// a logon (NTLM over DCE/RPC, or the SMB session that carries a named pipe).
//
// The zero value is the anonymous caller.
type Caller struct {
	// User is the account name without domain; "" for anonymous.
	User string
	// Domain is the domain or workgroup the logon was made in, as the
	// client sent it. It plays no part in access decisions.
	Domain string
	// Groups lists local group names the user belongs to, for example
	// GroupAdministrators.
	Groups []string
	// Anonymous marks a null-session logon. A caller with an empty User is
	// anonymous whatever this says.
	Anonymous bool
	// Guest marks a logon that was mapped to the guest account.
	Guest bool
	// SID is the user's SID in string form ("S-1-5-21-...-1104"), when
	// the logon mechanism knows it (Kerberos, from the PAC); "" otherwise.
	SID string
	// GroupSIDs lists the SIDs of the user's groups, in string form. The
	// access policy recognises SIDAdministrators, SIDServerOperators and
	// any domain's Domain Admins group (RID 512) among them.
	GroupSIDs []string
}

// Well-known SIDs the access policy understands (MS-DTYP 2.4.2.4).
const (
	// SIDAdministrators is BUILTIN\Administrators.
	SIDAdministrators = "S-1-5-32-544"
	// SIDServerOperators is BUILTIN\Server Operators.
	SIDServerOperators = "S-1-5-32-549"
	// RIDDomainAdmins is the relative ID of a domain's Domain Admins
	// group (S-1-5-21-x-y-z-512).
	RIDDomainAdmins = 512
)

// IsAnonymous reports whether c is a null-session caller.
func (c Caller) IsAnonymous() bool { return c.Anonymous || c.User == "" }

// InGroup reports whether c is a member of the named local group.
func (c Caller) InGroup(name string) bool {
	name = trimBuiltin(name)
	for _, g := range c.Groups {
		if strings.EqualFold(trimBuiltin(g), name) {
			return true
		}
	}
	return false
}

// HasSID reports whether sid is c's user SID or one of its group SIDs
// (compared case-insensitively, as SID strings may spell the S either way).
func (c Caller) HasSID(sid string) bool {
	if sid == "" {
		return false
	}
	if strings.EqualFold(c.SID, sid) {
		return true
	}
	for _, g := range c.GroupSIDs {
		if strings.EqualFold(g, sid) {
			return true
		}
	}
	return false
}

// isAdmin reports membership of Administrators by name or SID, or of a
// domain's Domain Admins group by SID.
func (c Caller) isAdmin() bool {
	if c.InGroup(GroupAdministrators) || c.HasSID(SIDAdministrators) {
		return true
	}
	for _, g := range c.GroupSIDs {
		if isDomainRID(g, RIDDomainAdmins) {
			return true
		}
	}
	return false
}

// isOperator reports membership of Server Operators by name or SID.
func (c Caller) isOperator() bool {
	return c.InGroup(GroupServerOperators) || c.HasSID(SIDServerOperators)
}

// isDomainRID reports whether sid is S-1-5-21-a-b-c-rid: a domain SID
// (three sub-authorities after 21) followed by rid.
func isDomainRID(sid string, rid uint32) bool {
	if len(sid) < 2 || (sid[0] != 'S' && sid[0] != 's') || sid[1] != '-' {
		return false
	}
	parts := strings.Split(sid[2:], "-")
	if len(parts) != 7 || parts[0] != "1" || parts[1] != "5" || parts[2] != "21" {
		return false
	}
	for _, p := range parts[3:] {
		if p == "" || len(p) > 10 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	n := uint64(0)
	for _, ch := range parts[6] {
		n = n*10 + uint64(ch-'0')
	}
	return n == uint64(rid)
}

func trimBuiltin(g string) string {
	if len(g) > len(`BUILTIN\`) && strings.EqualFold(g[:len(`BUILTIN\`)], `BUILTIN\`) {
		return g[len(`BUILTIN\`):]
	}
	return g
}
