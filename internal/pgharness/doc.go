// Package pgharness runs a private PostgreSQL server for tests, from the
// system's packages (Debian's postgresql: initdb and postgres under
// /usr/lib/postgresql/VERSION/bin; the newest version found is used).
//
// A server lives in a fresh temporary directory: its data directory, its
// log, and its unix socket (no TCP listener at all, so nothing can clash
// with another server on the machine). PostgreSQL refuses to run as root:
// when the tests run as root, the harness creates (once, under a
// machine-wide file lock) the system account nsp_pg, gives it the directory
// and starts initdb and postgres under its identity; otherwise it runs them
// as the current user. The server trusts local connections (user
// postgres), runs without fsync (test data), and is stopped by its PID:
// SIGINT (a fast shutdown), then SIGKILL after a grace period. It also dies
// with the test binary (parent-death signal).
//
// Start skips the test when the binaries are missing, unless the
// environment says CI=true, where it fails instead. Shared starts one
// server per test binary on first use, for tests that each create their own
// database.
//
// The account nsp_pg stays on the machine after the tests (creating and
// removing it on every run would race with parallel test binaries); it has
// no password, no home and no login shell.
package pgharness
