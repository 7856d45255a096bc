// Package rawtcp reads and writes TCP connections with raw system calls
// on their non-blocking sockets, waiting for readiness through the Go
// runtime's poller as the net package does (deadlines, Close and errors
// unchanged). On a request-answer exchange, where the server sleeps
// between every two messages, this keeps the scheduler's monitor thread
// asleep: a system call announced to the scheduler wakes it, and on an
// idle machine that wake-up costs more CPU than the read itself. The SMB
// server reads and writes every connection through Wrap, and the CPU
// benchmarks measure their floor (a responder doing no work) through it
// too. Other systems than Linux get the connection itself.
package rawtcp
