package auth

import (
	"slices"

	"github.com/netsession/netsession/session"
)

// Identity is who an acceptor authenticated. NTLM against the local
// accounts file knows names and local groups; a mechanism with a PAC
// (Kerberos) fills in the SIDs.
type Identity struct {
	// User is the account name without domain; "" for anonymous.
	User string
	// Domain is the domain or realm of the account (as the client sent it,
	// for NTLM).
	Domain string
	// UserSID is the account's SID in string form ("S-1-5-21-...-1104");
	// "" when the mechanism does not know it.
	UserSID string
	// GroupSIDs lists the SIDs of the groups the account belongs to
	// (a PAC's groups and extra SIDs).
	GroupSIDs []string
	// Groups lists group names (local groups of the accounts file, such as
	// "Administrators").
	Groups []string
	// Guest marks a logon mapped to the guest account.
	Guest bool
	// Anonymous marks a null-session logon.
	Anonymous bool
}

// Caller returns the identity as the session table's access policy takes
// it: names, group names, SIDs and the guest and anonymous flags.
func (id Identity) Caller() session.Caller {
	return session.Caller{
		User:      id.User,
		Domain:    id.Domain,
		Groups:    slices.Clone(id.Groups),
		SID:       id.UserSID,
		GroupSIDs: slices.Clone(id.GroupSIDs),
		Anonymous: id.Anonymous,
		Guest:     id.Guest,
	}
}
