// Package addc provisions and runs a private Samba Active Directory domain
// controller on loopback, for tests and demos that need a real domain:
// Kerberos logons, service tickets with PACs, LDAP, and the DC's own
// srvsvc over \PIPE\srvsvc.
//
// A test binary shares one domain controller between its tests: its
// TestMain calls Main, and tests call Shared, which provisions the domain
// on first use (a few seconds to a minute) and hands the same *DC to every
// later caller. Main stops it after the tests; New gives a DC of one's own,
// to Stop when done. Shared skips the test when the machine cannot run it (not
// root, not Linux, samba-tool missing) unless CI=true, where they fail.
//
// Each DC takes a slot (Slots says how many there are, and why only one
// DC runs at a time). Slot k owns two loopback addresses,
// 127.0.0.(50+2k) for the DC and 127.0.0.(51+2k) for a member server
// (ours) joined to it, and its own domain: DNS domain adK.netsess.test,
// realm ADK.NETSESS.TEST, NetBIOS domain NSADK. Test binaries run in
// parallel processes, so a slot is held with a file lock (in
// os.TempDir()) for as long as its DC runs; a binary takes the first free
// slot and waits while none is free.
//
// New, for slot k:
//
//   - adds the two addresses to lo when absent (Samba binds only to
//     addresses an interface has; with "interfaces" and "bind interfaces
//     only" it leaves 127.0.0.1 and its port 135 alone);
//   - refuses to go on, saying why, when something listens on one of the
//     DC's ports on every address (a system smbd on *:445, for example),
//     which would keep samba from binding the slot's address;
//   - provisions the domain in a fresh temporary directory
//     (samba-tool domain provision, RFC 2307, internal DNS), every
//     private, state, lock, cache, pid, ncalrpc and log path inside it;
//   - starts samba in the foreground and waits until its KDC, LDAP and
//     SMB ports listen;
//   - creates AdminUser (a member of Domain Admins), User (a plain user),
//     and the computer account ServerAccount with the SPNs cifs/ and host/
//     of ServerHost and a known machine password, and exports a keytab
//     for it in which the SPNs carry the account's AES and RC4 keys (Samba
//     exports only the RC4 key for an SPN, while the KDC encrypts tickets
//     with the account's AES key);
//   - writes krb5.conf (realm, KDC on the DC's address, no DNS lookups)
//     and a client smb.conf for smbclient and rpcclient;
//   - adds the DC's and the member server's names to /etc/hosts (tagged
//     lines, under a machine-wide file lock; stale lines of the same slot
//     are replaced), since smbclient and rpcclient with Kerberos need the
//     server's name to resolve to it.
//
// Stop kills samba and every process that descends from it (its workers
// rename themselves, and smbd and winbindd start sessions of their own) by
// PID, removes the /etc/hosts lines and the directory, and releases the
// slot. The addresses stay on lo: another binary may be using its own.
//
// Everything is Linux-only; elsewhere Shared skips.
package addc
