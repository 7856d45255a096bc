// Package directory asks an Active Directory domain controller over LDAP for
// the computers to scan, and turns the user and client names of the sessions
// found into SIDs.
//
// # Connecting
//
// Dial connects over TLS, LDAPS (636) or StartTLS (389), checking the DC's
// certificate against Config.CAFile (or the system roots) unless
// Config.Insecure, or in clear with a sealed NTLM session (Sealed), and binds
// with a simple bind (over TLS) or NTLM (password or NT hash) as SASL
// GSS-SPNEGO with package ntlm. A domain controller with default settings
// refuses simple and NTLM binds on a plain connection without signing or
// sealing; Samba moreover refuses every SASL bind inside TLS ("ldap server
// require strong auth = yes"), so against Samba an NTLM bind must be Sealed:
// after the bind every LDAP message travels in a SASL buffer signed and
// encrypted by the NTLM session. A certificate without subject alternative
// names (Samba's self-generated one) is matched by its Common Name after its
// chain is verified; Samba's certificates also carry negative serial numbers,
// which Go refuses unless GODEBUG=x509negativeserial=1 (the error says so).
// Kerberos (GSSAPI) binds are not implemented.
//
// # Targets
//
// Conn.Computers runs a paged search (Config.PageSize) for computer objects
// under the domain or Query.SearchBase and reads sAMAccountName, dNSHostName,
// objectSid, operatingSystem, userAccountControl, lastLogonTimestamp and
// primaryGroupID. Disabled accounts, domain controllers (primary group 516 or
// 521) or the others, operating systems and stale accounts (Query.ActiveDays)
// are filtered; every object left out is in Discovery.Excluded with its
// reason, and so is an object without a DNS name, which cannot be reached.
//
// # Names to SIDs
//
// A Resolver maps a session's user name to the objectSid of the account
// (sAMAccountName, in the directory's domain or the name's own DOMAIN\ or
// @domain part; another domain's names are ErrForeignDomain) and its client
// name to the SID of the computer account: a NetBIOS name as NAME$, a DNS
// name by dNSHostName (then its first label as NAME$ when it is in the
// domain), an address by reverse DNS (the system resolver, or a DNS server
// given with ReverseVia) and then as a DNS name. NormalizeClient first strips
// leading backslashes, a DOMAIN\ prefix, IPv6 brackets and zones, and
// SkipSession drops what the ingestors drop: empty names, machine accounts
// (a trailing $), ANONYMOUS LOGON and the collecting account. A loopback
// client is the scanned host itself. Answers, negative ones included, are
// cached; Resolve keeps every session's raw names beside the resolved SIDs,
// and Stats counts what could not be resolved.
package directory
