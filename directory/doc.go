// Package directory asks an Active Directory domain controller over LDAP for
// the computers to scan, and turns the user and client names of the sessions
// found into SIDs.
//
// # Connecting
//
// Dial connects over TLS, LDAPS (636) or StartTLS (389), checking the DC's
// certificate against Config.CAFile (or the system roots) unless
// Config.Insecure, or in clear with a SASL security layer (Sealed, or
// Signed for Kerberos), and binds with a simple bind (over TLS), NTLM
// (password or NT hash) as SASL GSS-SPNEGO with package ntlm, or Kerberos
// as SASL GSSAPI (RFC 4752) with package krb5. A domain controller with
// default settings refuses simple, NTLM and Kerberos binds on a plain
// connection without signing or sealing; Samba moreover refuses every SASL
// bind inside TLS ("ldap server require strong auth = yes"), so against
// Samba a SASL bind must be Sealed: after the bind every LDAP message
// travels in a SASL buffer (a 4-byte length, then the protected message,
// split to the server's maximum buffer) signed and encrypted by the
// security context: NTLM's sealing, or a Kerberos Wrap token with
// confidentiality (RFC 4121). The Kerberos bind takes a service ticket for
// Config.SPN (ldap/HOST by default) from Config.Kerberos, asks for mutual
// authentication, checks the AP-REP, then reads the server's wrapped offer
// of security layers and answers with its choice: confidentiality for
// Sealed, integrity for Signed (the messages then travel in clear, signed;
// Samba takes it), none over TLS. A certificate without subject alternative
// names (Samba's self-generated one) is matched by its Common Name after
// its chain is verified; Samba's certificates also carry negative serial
// numbers, which Go refuses unless GODEBUG=x509negativeserial=1 (the error
// says so).
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
// given with ReverseVia) and then as a DNS name, or, when reverse DNS does
// not name it and ResolverConfig.NetBIOS is set (NodeStatus), by the
// NetBIOS name the address gives in answer to a node status query (UDP
// 137), as NAME$. NormalizeClient first strips
// leading backslashes, a DOMAIN\ prefix, IPv6 brackets and zones, and
// SkipSession drops what the ingestors drop: empty names, machine accounts
// (a trailing $), ANONYMOUS LOGON and the collecting account. A loopback
// client is the scanned host itself. Answers, negative ones included, are
// cached; Resolve keeps every session's raw names beside the resolved SIDs,
// and Stats counts what could not be resolved.
package directory
