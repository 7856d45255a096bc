// Package session keeps the sessions of a server and answers the
// SESSION_INFO levels 0, 1, 2, 10 and 502 with the semantics of
// NetSessionEnum, NetSessionGetInfo and NetSessionDel.
package session
