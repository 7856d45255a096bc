// Package storetest holds the test suite and the benchmarks that every
// history engine must pass: one table of engines (SQLite and PostgreSQL),
// the same checks for each. It has no code of its own.
//
// The PostgreSQL engine runs against a private server the tests start
// (internal/pgharness); without PostgreSQL installed its cases skip, unless
// CI=true. The large benchmarks (10 million sessions) run only with
// NETSESS_HISTORY_BENCH=1.
package storetest
