package smb2

import "sync/atomic"

// commandNames are the SMB2 commands by code, for Stats.Commands.
var commandNames = [...]string{
	"negotiate", "session_setup", "logoff", "tree_connect", "tree_disconnect",
	"create", "close", "flush", "read", "write", "lock", "ioctl", "cancel",
	"echo", "query_directory", "change_notify", "query_info", "set_info",
	"oplock_break",
}

// counters are the server's running totals, updated atomically by every
// connection.
type counters struct {
	connsAccepted, connsRejected, connsOpen atomic.Int64
	sessionsOpened, sessionsOpen            atomic.Int64
	logonsFailed                            atomic.Int64
	timeouts, protocolErrors                atomic.Int64
	bytesIn, bytesOut                       atomic.Int64
	commands                                [len(commandNames) + 1]atomic.Int64 // last: unknown
}

// Stats is a snapshot of a Server's counters, for an operator's metrics.
// Totals only grow; ConnsOpen and SessionsOpen are gauges.
type Stats struct {
	ConnsAccepted  int64 // connections served
	ConnsRejected  int64 // connections closed at once: Limits.MaxConns reached
	ConnsOpen      int64
	SessionsOpened int64 // sessions established
	SessionsOpen   int64
	LogonsFailed   int64 // SESSION_SETUPs refused
	Timeouts       int64 // connections closed by a read or write deadline
	ProtocolErrors int64 // connections closed for a protocol violation
	BytesIn        int64 // transport bytes received, framing included
	BytesOut       int64 // transport bytes sent, framing included
	// Commands counts the requests by command name ("negotiate",
	// "session_setup", ..., "other" for unknown codes); compounded
	// requests count one each.
	Commands map[string]int64
}

// Stats returns the server's counters. It may be called at any time,
// concurrently with serving.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		ConnsAccepted:  c.connsAccepted.Load(),
		ConnsRejected:  c.connsRejected.Load(),
		ConnsOpen:      c.connsOpen.Load(),
		SessionsOpened: c.sessionsOpened.Load(),
		SessionsOpen:   c.sessionsOpen.Load(),
		LogonsFailed:   c.logonsFailed.Load(),
		Timeouts:       c.timeouts.Load(),
		ProtocolErrors: c.protocolErrors.Load(),
		BytesIn:        c.bytesIn.Load(),
		BytesOut:       c.bytesOut.Load(),
		Commands:       make(map[string]int64, len(commandNames)+1),
	}
	for i, name := range commandNames {
		st.Commands[name] = c.commands[i].Load()
	}
	st.Commands["other"] = c.commands[len(commandNames)].Load()
	return st
}

func (c *counters) command(code uint16) {
	c.commands[min(int(code), len(commandNames))].Add(1)
}
