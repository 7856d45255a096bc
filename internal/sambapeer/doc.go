// Package sambapeer runs a private Samba smbd on loopback for integration
// tests, and holds real SMB sessions on it.
//
// A test calls Start, which skips the test when the machine cannot run
// Samba (not root, smbd missing) unless the environment says CI=true, where
// a missing peer fails the test instead. Start:
//
//   - makes sure the unix accounts exist. They are the only change outside
//     the instance's own directory: users nsp_alice and nsp_bob (each with
//     its own group) and groups nsp_badmins and nsp_dadmins, all prefixed
//     so nothing else on the machine is touched. Packages run their tests
//     in parallel processes that share the accounts: they are created
//     under a file lock, every running instance holds a shared lock on a
//     second file, and Stop of the last one (the one that gets that lock
//     exclusively, while no other nsp-samba- instance runs) deletes them,
//     so a test run leaves no accounts behind. A test binary that is
//     killed leaves them until the next run's last Stop;
//   - writes a private smb.conf in a fresh directory: standalone server,
//     loopback only, every state, lock, cache, pid and private directory
//     inside the instance directory, passdb tdbsam, "map to guest = bad
//     user" (an unknown user becomes the guest account nobody), no SMB3
//     encryption, signing allowed but not required, shares [data] and
//     [public] (guest ok);
//   - adds the passwords to the private passdb and maps BUILTIN\Administrators
//     (S-1-5-32-544) and the local Domain Admins (RID 512) to the groups
//     nsp_alice is in: Samba answers NetrSessionEnum only to the first and
//     NetrSessionDel only to the second (or root);
//   - picks a free port (smbd cannot bind port 0: bind, close, start, and
//     retry with another port if smbd fails to listen or the listener
//     found is not smbd's), starts smbd -F and waits until it accepts
//     connections. Ports are taken outside the kernel's ephemeral range,
//     where the outgoing connections of a busy test run would race smbd
//     for them;
//   - with Options.RPCOverTCP, also runs samba-dcerpcd as a standalone
//     daemon, so srvsvc is served on ncacn_ip_tcp too. Its endpoint mapper
//     needs 127.0.0.1:135, of which a machine has one: these instances are
//     serialised machine-wide by the file lock Port135LockFile, held until
//     Stop, which every test that needs port 135 takes.
//
// Stop (registered with t.Cleanup) kills every process of the instance by
// PID: smbd, the children it forks per connection, and the samba-dcerpcd
// and rpcd_* helpers it spawns, which call setsid and so leave smbd's
// process tree. Those are found in /proc: processes whose parent or session
// is one of the instance's, and whose command line names the instance's
// configuration file. Holders are stopped first.
//
// Hold opens sessions with an impacket script (embedded, run by
// /usr/bin/python3) that logs on, tree connects, optionally keeps a file
// open, and waits until its stdin closes. Each session can come from its
// own loopback source address (127.0.0.2, 127.0.0.3, ...): Samba reports
// that address as the client name, so a test can tell sessions apart by
// address and delete one without touching the caller's own session.
//
// Everything is Linux-only (/proc, flock, Pdeathsig); elsewhere Start skips.
package sambapeer
