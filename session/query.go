package session

import (
	"context"
	"strings"
)

// MaxPreferredLength (MAX_PREFERRED_LENGTH) as a preferred maximum length
// asks for every entry in one call.
const MaxPreferredLength uint32 = 0xFFFFFFFF

// EnumQuery is a NetSessionEnum call.
type EnumQuery struct {
	// Level is 0, 1, 2, 10 or 502.
	Level Level
	// Client qualifies the result to sessions from one client; "" means
	// all clients. When given it must begin with `\\`.
	Client string
	// User qualifies the result to sessions of one user; "" means all.
	User string
	// PrefMaxLen is the budget for the returned entries, in the unit Size
	// measures. MaxPreferredLength returns everything. A budget too small
	// for one entry still returns one.
	PrefMaxLen uint32
	// Size is what one entry, projected onto Level, costs against
	// PrefMaxLen. A NetrSessionEnum server passes srvs.EntrySize, so that
	// the budget is the entry's NDR wire size as the protocol defines it.
	// nil counts every entry as 1: PrefMaxLen is then a number of entries
	// per page, which suits in-process callers that page a large table.
	Size func(Level, *Info) int
	// Resume is the resume handle: 0 starts at the beginning; otherwise
	// the value a previous call returned in EnumResult.Resume.
	Resume uint32
	// Entries, when it has room, is storage the Table reuses for
	// EnumResult.Entries (appending to Entries[:0]), so that a server
	// answering many calls need not allocate them each time. Another
	// Sessions implementation may ignore it.
	Entries []Info
}

// EnumResult is what a successful NetSessionEnum returns.
type EnumResult struct {
	// Level is the level of Entries.
	Level Level
	// Entries are the sessions returned, in creation order, projected onto
	// Level.
	Entries []Info
	// TotalEntries counts the sessions that pass the qualifiers from the
	// resume position on: those returned plus those still to come.
	TotalEntries uint32
	// More is true when entries remain after this page; the call's status
	// is then ERROR_MORE_DATA.
	More bool
	// Resume is the handle for the next call: an opaque cursor (the
	// sequence number of the last entry returned) when More is true, and 0
	// otherwise.
	Resume uint32
}

// Status returns StatusMoreData when more entries remain, StatusSuccess
// otherwise.
func (r *EnumResult) Status() Status {
	if r.More {
		return StatusMoreData
	}
	return StatusSuccess
}

// filter is a normalised pair of qualifiers.
type filter struct {
	client, user string
	any          bool // no qualifier at all
}

func newFilter(client, user string) filter {
	f := filter{user: user, any: client == "" && user == ""}
	if client != "" {
		f.client = NormalizeClient(client)
	}
	return f
}

func (f *filter) match(s *Session) bool {
	if f.any {
		return true
	}
	if f.client != "" && !strings.EqualFold(s.client.bare(), f.client) {
		return false
	}
	if f.user != "" && !strings.EqualFold(s.user, f.user) {
		return false
	}
	return true
}

// notFound is the code for a qualifier that matched nothing.
func (f *filter) notFound() Status {
	if f.client != "" {
		return StatusClientNameNotFound
	}
	return StatusUserNotFound
}

// Enum answers a NetSessionEnum call for caller c.
//
// Checks come in a fixed order, so that a caller who may not enumerate
// learns nothing about who is connected:
//
//  1. syntax: an invalid level is StatusInvalidLevel; a client qualifier
//     not beginning with `\\` is StatusInvalidComputer; a qualifier longer
//     than MaxNameUnits is StatusInvalidParameter;
//  2. access: the Authorizer's refusal (StatusAccessDenied from a Policy)
//     unless it allows c the level;
//  3. matching: a qualifier that matches no session at all is
//     StatusClientNameNotFound when a client qualifier was given, else
//     StatusUserNotFound.
//
// A failed call returns a Status as the error and an EnumResult that only
// carries the level; ctx's error when ctx is done, and an Authorizer's
// error that is not a Status, are returned as they are.
func (t *Table) Enum(ctx context.Context, c Caller, q EnumQuery) (EnumResult, error) {
	return t.enum(ctx, c, q, ActionEnum)
}

func (t *Table) enum(ctx context.Context, c Caller, q EnumQuery, a Action) (EnumResult, error) {
	res := EnumResult{Level: q.Level}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if !q.Level.Valid() {
		return res, StatusInvalidLevel
	}
	if q.Client != "" && !strings.HasPrefix(q.Client, `\\`) {
		return res, StatusInvalidComputer
	}
	if tooLong(q.Client) || tooLong(q.User) {
		return res, StatusInvalidParameter
	}
	if err := t.Authorize(ctx, c, a, q.Level); err != nil {
		return res, err
	}
	f := newFilter(q.Client, q.User)
	budget := int64(q.PrefMaxLen)
	if q.PrefMaxLen == MaxPreferredLength {
		budget = 1 << 62
	}
	now := t.now()

	t.mu.RLock()
	defer t.mu.RUnlock()
	start := t.indexAfterLocked(q.Resume)
	var (
		used    int64
		total   int
		lastSeq uint32
		full    bool
	)
	if hint := t.live; hint > 0 {
		// Size the result for the budget, assuming entries of ~64 bytes
		// (or of 1 when entries are counted).
		per := int64(64)
		if q.Size == nil {
			per = 1
		}
		if b := budget / per; b < int64(hint) {
			hint = int(b) + 1
		}
		if n := min(hint, len(t.list)-start); cap(q.Entries) >= n {
			res.Entries = q.Entries[:0]
		} else {
			res.Entries = make([]Info, 0, n)
		}
	}
	for i := start; i < len(t.list); i++ {
		s := t.list[i].s
		if s == nil || !f.match(s) {
			continue
		}
		if full {
			if f.any && t.live == len(t.list) {
				// No holes and no qualifier: every remaining slot counts.
				total += len(t.list) - i
				break
			}
			total++
			continue
		}
		// The entry is priced where it will stay: a pointer to a local
		// handed to Size would move every entry to the heap.
		res.Entries = append(res.Entries, s.info(now, t.cname).Project(q.Level))
		cost := int64(1)
		// An unbounded budget never runs out: pricing its entries would
		// only cost time.
		if q.Size != nil && q.PrefMaxLen != MaxPreferredLength {
			cost = int64(q.Size(q.Level, &res.Entries[len(res.Entries)-1]))
		}
		if len(res.Entries) > 1 && used+cost > budget {
			res.Entries = res.Entries[:len(res.Entries)-1]
			full = true
			total++
			continue
		}
		used += cost
		total++
		lastSeq = s.seq
	}
	if total == 0 && !f.any && !t.anyMatchBeforeLocked(&f, start) {
		return EnumResult{Level: q.Level}, f.notFound()
	}
	res.TotalEntries = uint32(min(total, int(^uint32(0))))
	if full {
		res.More = true
		res.Resume = lastSeq
	}
	return res, nil
}

// anyMatchBeforeLocked reports whether a session before position end passes
// the qualifiers.
func (t *Table) anyMatchBeforeLocked(f *filter, end int) bool {
	for _, sl := range t.list[:end] {
		if sl.s != nil && f.match(sl.s) {
			return true
		}
	}
	return false
}

// GetInfo answers a NetSessionGetInfo call: the first session (in creation
// order) from client for user, at level 0, 1, 2 or 10. Both names are
// required; a missing one is StatusInvalidParameter, level 502 and unknown
// levels are StatusInvalidLevel. Otherwise it fails exactly as Enum does
// with the same qualifiers; the Authorizer is asked for ActionGetInfo.
func (t *Table) GetInfo(ctx context.Context, c Caller, client, user string, level Level) (Info, error) {
	if !level.Valid() || level == Level502 {
		return Info{}, StatusInvalidLevel
	}
	if client == "" || user == "" {
		return Info{}, StatusInvalidParameter
	}
	res, err := t.enum(ctx, c, EnumQuery{Level: level, Client: client, User: user, PrefMaxLen: 0}, ActionGetInfo)
	if err != nil {
		return Info{}, err
	}
	if len(res.Entries) == 0 { // cannot happen: Enum reports not-found
		return Info{}, StatusClientNameNotFound
	}
	return res.Entries[0], nil
}

// Delete answers a NetSessionDel call: every session that passes both
// qualifiers is removed from the table, and then, outside the table's
// locks and in creation order, its Spec.OnClose callback is called and the
// Observer hears of it with CloseDeleted. It returns how many sessions
// were closed.
//
// Order of checks: a client name not beginning with `\\` is
// StatusClientNameNotFound; a name longer than MaxNameUnits, or neither
// name given, is StatusInvalidParameter; then access (StatusAccessDenied);
// a deletion that matches nothing is StatusClientNameNotFound, whichever
// qualifiers were given.
func (t *Table) Delete(ctx context.Context, c Caller, client, user string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if client != "" && !strings.HasPrefix(client, `\\`) {
		return 0, StatusClientNameNotFound
	}
	if tooLong(client) || tooLong(user) {
		return 0, StatusInvalidParameter
	}
	if client == "" && user == "" {
		return 0, StatusInvalidParameter
	}
	if err := t.Authorize(ctx, c, ActionDelete, 0); err != nil {
		return 0, err
	}
	f := newFilter(client, user)
	var victims []*Session
	t.mu.Lock()
	for _, sl := range t.list {
		if sl.s != nil && f.match(sl.s) {
			victims = append(victims, sl.s)
		}
	}
	closed := victims[:0]
	for _, s := range victims {
		if t.removeLocked(s) {
			closed = append(closed, s)
		}
	}
	t.mu.Unlock()
	if len(closed) == 0 {
		return 0, StatusClientNameNotFound
	}
	for _, s := range closed {
		if s.onClose != nil {
			s.onClose()
		}
		t.reportClose(s, CloseDeleted)
	}
	return len(closed), nil
}
