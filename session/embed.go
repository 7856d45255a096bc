package session

import (
	"context"
	"fmt"
)

// Sessions is what a NetrSessionEnum / NetrSessionDel server asks of a
// session store: the three Win32 calls on behalf of a caller, and the
// access decision on its own. *Table implements it; the srvs handler
// serves any implementation, so a server with a store of its own (or a
// test with a fake) can sit behind the same RPC code.
//
// The methods follow the Table's contract: failures the caller should see
// are a Status (errors.As), anything else is a failure of the store, which
// a server turns into a fault rather than an answer.
type Sessions interface {
	Enum(ctx context.Context, c Caller, q EnumQuery) (EnumResult, error)
	GetInfo(ctx context.Context, c Caller, client, user string, level Level) (Info, error)
	Delete(ctx context.Context, c Caller, client, user string) (int, error)
	Authorize(ctx context.Context, c Caller, a Action, l Level) error
}

// Action is what a caller asks the table to do.
type Action uint8

// The actions.
const (
	ActionEnum    Action = iota // NetSessionEnum at a level
	ActionGetInfo               // NetSessionGetInfo at a level
	ActionDelete                // NetSessionDel; the level is 0 and means nothing
)

// String returns "enum", "getinfo" or "delete".
func (a Action) String() string {
	switch a {
	case ActionEnum:
		return "enum"
	case ActionGetInfo:
		return "getinfo"
	case ActionDelete:
		return "delete"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Authorizer decides whether a caller may perform an action at a level.
// It returns nil to allow, or the error the caller gets: normally
// StatusAccessDenied, or any other Status. An error that is not a Status
// (a directory that could not be asked, a cancelled ctx) makes the query
// fail as a failure of the server, not as an answer.
//
// The table asks it after the syntax checks (so the level is always valid
// for the action) and before looking at any session. It is called without
// the table's locks and may block on ctx.
//
// Policy is an Authorizer: the presets PolicyModern, PolicyLegacy and
// PolicyOpen, and ParsePolicy's custom tables, are values of it.
// AuthorizerFunc makes one of a function.
type Authorizer interface {
	Authorize(ctx context.Context, c Caller, a Action, l Level) error
}

// AuthorizerFunc is an Authorizer written as a function.
type AuthorizerFunc func(ctx context.Context, c Caller, a Action, l Level) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, c Caller, a Action, l Level) error {
	return f(ctx, c, a, l)
}

// Authorize implements Authorizer: StatusAccessDenied unless the policy
// allows c's class the operation (deletion, or enumeration at l; GetInfo
// is judged as enumeration at its level).
func (p Policy) Authorize(_ context.Context, c Caller, a Action, l Level) error {
	op := OpDelete
	if a != ActionDelete {
		var ok bool
		if op, ok = EnumOp(l); !ok {
			return StatusAccessDenied
		}
	}
	if !p.Allowed(op, ClassOf(c)) {
		return StatusAccessDenied
	}
	return nil
}

// CloseReason says why a session left the table.
type CloseReason uint8

// The reasons.
const (
	// CloseLogoff: Session.Close, a logoff or a connection that went away.
	CloseLogoff CloseReason = iota + 1
	// CloseDeleted: Table.Delete, an administrator's NetSessionDel.
	CloseDeleted
	// CloseTableClosed: Table.Close.
	CloseTableClosed
)

// String returns "logoff", "deleted" or "table closed".
func (r CloseReason) String() string {
	switch r {
	case CloseLogoff:
		return "logoff"
	case CloseDeleted:
		return "deleted"
	case CloseTableClosed:
		return "table closed"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Observer hears of every session that enters or leaves a table: a
// metrics exporter, an audit log, a history of sessions.
//
// OnOpen is called once per session, after it is in the table and before
// Table.Open returns; OnClose once, after it has left, with the reason.
// For one session OnOpen always comes first, even when another goroutine
// removes it at once. Both are called without the table's locks held, on
// the goroutine that made the change, and may call back into the table
// (s.Info, s.ID, Table.Enum); they should be quick, as the server that
// feeds the table waits for them.
type Observer interface {
	OnOpen(s *Session)
	OnClose(s *Session, why CloseReason)
}

// ObserverFuncs is an Observer made of two functions; either may be nil.
type ObserverFuncs struct {
	Open  func(s *Session)
	Close func(s *Session, why CloseReason)
}

// OnOpen calls f.Open if it is set.
func (f ObserverFuncs) OnOpen(s *Session) {
	if f.Open != nil {
		f.Open(s)
	}
}

// OnClose calls f.Close if it is set.
func (f ObserverFuncs) OnClose(s *Session, why CloseReason) {
	if f.Close != nil {
		f.Close(s, why)
	}
}

// Snapshot returns every session's SESSION_INFO_502 view, in creation
// order, as of one instant. It is the trusted read for code in the same
// process, a seed dumper or a metrics exporter: there is no caller and no
// access check, so it must never be reachable by a remote caller (the
// query side, Enum, is for them).
func (t *Table) Snapshot() []Info {
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Info, 0, t.live)
	for _, sl := range t.list {
		if sl.s != nil {
			out = append(out, sl.s.info(now, t.cname))
		}
	}
	return out
}
