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
}

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

func trimBuiltin(g string) string {
	if len(g) > len(`BUILTIN\`) && strings.EqualFold(g[:len(`BUILTIN\`)], `BUILTIN\`) {
		return g[len(`BUILTIN\`):]
	}
	return g
}
