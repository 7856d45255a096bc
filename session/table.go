package session

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Clock tells the table the time. Tests inject a ManualClock so that time
// and idle_time are exact.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that only moves when told to. It is safe for
// concurrent use. The zero value reads as the zero time.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Options configure a Table. The zero value is usable: system clock, the
// modern access policy, Windows-style client names and no observer.
type Options struct {
	// Clock supplies the time; nil means the system clock.
	Clock Clock
	// Authorizer decides who may enumerate and delete. nil means Policy.
	Authorizer Authorizer
	// Policy decides who may enumerate and delete when Authorizer is nil;
	// the zero Policy would refuse everyone, so a Policy with no rules at
	// all means PolicyModern.
	Policy Policy
	// Cname selects how client names are presented.
	Cname CnameStyle
	// Observer, if not nil, hears of every session that enters or leaves
	// the table, whatever the way.
	Observer Observer
}

// Spec describes a new session, as the SMB server sees it when a session
// setup completes.
type Spec struct {
	// Client is the client as the transport sees it: an IP address in any
	// common textual form (IPv6 with or without brackets or zone, IPv4-mapped
	// IPv6 included), or a NetBIOS name from a NetBIOS session request. A
	// leading `\\` is ignored.
	Client string
	// User is the account name without domain; "" for anonymous.
	User string
	// Guest marks a logon mapped to the guest account (SESS_GUEST).
	Guest bool
	// NoEncryption marks a session that does not use encryption
	// (SESS_NOENCRYPTION).
	NoEncryption bool
	// ClientType is sesi_cltype_name. Current Windows clients send "".
	ClientType string
	// Transport is sesi_transport, the name of the server transport the
	// session arrived on, such as `\Device\NetbiosSmb`.
	Transport string
	// OnClose, if not nil, is called once when Delete removes the session
	// (an administrator closed it). It is called without any table lock
	// held and may call back into the table, for example to log the session
	// off through its Session handle. It is not called by Session.Close or
	// Table.Close. It is the per-session form of an Observer's OnClose with
	// CloseDeleted, and is called before it.
	OnClose func()

	// Created, LastActive and Opens restore a session that did not begin
	// now: a seed loader, a simulated server or a server reloading its
	// state sets them, so that time, idle_time and the open count read as
	// they would have. A server reporting a fresh logon leaves them zero.

	// Created is when the session was set up; zero means now. A time in
	// the future reads as a session 0 seconds old.
	Created time.Time
	// LastActive is the last activity; zero means Created. A time before
	// Created counts as Created.
	LastActive time.Time
	// Opens is the number of files, pipes and devices already open.
	Opens uint32
}

// ErrTableClosed is returned by Table.Open after Table.Close.
var ErrTableClosed = errors.New("session: table is closed")

// Table holds the sessions of one server. It is safe for concurrent use by
// many goroutines; the feeding side (Open, and the Session methods) is cheap
// and the activity updates take no lock at all.
type Table struct {
	clock    Clock
	sysClock bool      // clock is the system clock
	epoch    time.Time // all session times are stored as offsets from it
	cname    CnameStyle

	auth atomic.Pointer[authorizerBox]
	obs  Observer

	mu     sync.RWMutex
	seq    uint32 // last sequence number handed out
	list   []slot // in ascending seq order; removed sessions leave holes
	live   int
	closed bool
}

// New returns an empty table.
func New(opts Options) *Table {
	t := &Table{clock: opts.Clock, cname: opts.Cname, obs: opts.Observer}
	if t.clock == nil {
		t.clock = systemClock{}
	}
	_, t.sysClock = t.clock.(systemClock)
	t.epoch = t.clock.Now()
	a := opts.Authorizer
	if a == nil {
		p := opts.Policy
		if p == (Policy{}) {
			p = PolicyModern()
		}
		a = p
	}
	t.SetAuthorizer(a)
	return t
}

// authorizerBox lets an interface value live in an atomic.Pointer.
type authorizerBox struct{ a Authorizer }

// Authorizer returns the access decision in force: a Policy unless the
// table was given another Authorizer.
func (t *Table) Authorizer() Authorizer { return t.auth.Load().a }

// SetAuthorizer replaces the access decision (a Policy is one); queries
// already running finish under the old one. A nil a means PolicyModern.
func (t *Table) SetAuthorizer(a Authorizer) {
	if a == nil {
		a = PolicyModern()
	}
	t.auth.Store(&authorizerBox{a})
}

// SetPolicy is SetAuthorizer(p).
func (t *Table) SetPolicy(p Policy) { t.SetAuthorizer(p) }

// Authorize reports whether caller c may perform action a at level l
// under the table's Authorizer: nil, or the refusal (normally
// StatusAccessDenied). Enum, GetInfo and Delete ask it themselves; it is
// exported so that a server imitating another implementation can ask
// first.
func (t *Table) Authorize(ctx context.Context, c Caller, a Action, l Level) error {
	return t.Authorizer().Authorize(ctx, c, a, l)
}

// Now returns the time on the table's clock. Restored sessions are dated
// against it: Spec{Created: t.Now().Add(-age)}.
func (t *Table) Now() time.Time { return t.clock.Now() }

// CnameStyle returns how the table presents client names.
func (t *Table) CnameStyle() CnameStyle { return t.cname }

// Len returns the number of sessions.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

// now returns the current time as nanoseconds since the table's epoch. With
// the system clock it reads only the monotonic clock (time.Since), which
// costs a fraction of a full time.Now.
func (t *Table) now() int64 {
	if t.sysClock {
		return int64(time.Since(t.epoch))
	}
	return int64(t.clock.Now().Sub(t.epoch))
}

// slot is one position of the table's list. A removed session leaves its
// slot with s == nil but seq intact, so the list stays sorted by seq and
// binary search needs no live neighbour.
type slot struct {
	seq uint32
	s   *Session
}

// Session is the feeding side's handle on one session. Its methods are
// safe for concurrent use; AddOpen, RemoveOpen and Touch take no lock.
type Session struct {
	t          *Table
	seq        uint32
	report     atomic.Uint32 // reportOpening, reportOpen or reportClosePending+reason; fills seq's padding
	client     clientName
	user       string
	cltype     string
	transport  string
	flags      uint32
	created    int64        // ns since the table's epoch
	lastActive atomic.Int64 // ns since the table's epoch
	opens      atomic.Int64
	removed    atomic.Bool
	onClose    func()
}

// Session.report states. It orders the observer's calls for a session:
// OnOpen comes before OnClose even when another goroutine removes the
// session while Open is still reporting it (see reportClose).
const (
	reportOpening      uint32 = iota // OnOpen not yet returned
	reportOpen                       // OnOpen returned
	reportClosePending               // + the CloseReason: removed during OnOpen; Open reports the close
)

// Open adds a session to the table and returns its handle. The session is
// active as of now, with no opens, unless spec restores its creation,
// last activity and opens. The Observer's OnOpen has returned by the time
// Open does.
func (t *Table) Open(spec Spec) (*Session, error) {
	s := &Session{
		t:         t,
		client:    makeClientName(spec.Client),
		user:      spec.User,
		cltype:    spec.ClientType,
		transport: spec.Transport,
		onClose:   spec.OnClose,
	}
	if spec.Guest {
		s.flags |= FlagGuest
	}
	if spec.NoEncryption {
		s.flags |= FlagNoEncryption
	}
	s.created = t.now()
	if !spec.Created.IsZero() {
		s.created = t.since(spec.Created)
	}
	last := s.created
	if !spec.LastActive.IsZero() {
		last = max(t.since(spec.LastActive), s.created)
	}
	s.lastActive.Store(last)
	s.opens.Store(int64(spec.Opens))

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrTableClosed
	}
	if t.seq == ^uint32(0) {
		t.renumberLocked()
	}
	t.seq++
	s.seq = t.seq
	t.list = append(t.list, slot{seq: s.seq, s: s})
	t.live++
	t.mu.Unlock()

	if t.obs != nil {
		t.obs.OnOpen(s)
		if !s.report.CompareAndSwap(reportOpening, reportOpen) {
			t.obs.OnClose(s, CloseReason(s.report.Load()-reportClosePending))
		}
	}
	return s, nil
}

// since converts a time to the table's nanoseconds since its epoch.
func (t *Table) since(tm time.Time) int64 { return int64(tm.Sub(t.epoch)) }

// reportClose tells the observer that s, which the caller removed from the
// table, has left it. If Open has not finished reporting s, the close is
// left to Open, so that OnClose never precedes OnOpen.
func (t *Table) reportClose(s *Session, why CloseReason) {
	if t.obs == nil {
		return
	}
	if s.report.CompareAndSwap(reportOpening, reportClosePending+uint32(why)) {
		return
	}
	t.obs.OnClose(s, why)
}

// renumberLocked gives the live sessions the sequence numbers 1..n again
// when the 32-bit counter is exhausted. Resume handles handed out before
// then are no longer meaningful (Win32 allows duplicates and misses when the
// list changes between calls).
func (t *Table) renumberLocked() {
	t.compactLocked()
	for i := range t.list {
		t.list[i].seq = uint32(i + 1)
		t.list[i].s.seq = uint32(i + 1)
	}
	t.seq = uint32(len(t.list))
}

func (t *Table) compactLocked() {
	j := 0
	for _, sl := range t.list {
		if sl.s != nil {
			t.list[j] = sl
			j++
		}
	}
	clear(t.list[j:])
	t.list = t.list[:j]
}

// indexAfterLocked returns the position of the first slot whose sequence
// number is greater than seq.
func (t *Table) indexAfterLocked(seq uint32) int {
	return sort.Search(len(t.list), func(i int) bool { return t.list[i].seq > seq })
}

// removeLocked takes s out of the list; it reports false if s was already
// gone.
func (t *Table) removeLocked(s *Session) bool {
	if !s.removed.CompareAndSwap(false, true) {
		return false
	}
	if i := t.indexAfterLocked(s.seq - 1); i < len(t.list) && t.list[i].s == s {
		t.list[i].s = nil
	}
	t.live--
	if holes := len(t.list) - t.live; holes > 64 && holes > t.live {
		t.compactLocked()
	}
	return true
}

// Close removes every session and refuses further Opens. Spec.OnClose
// callbacks are not called; the Observer hears of each session with
// CloseTableClosed, in creation order, after the table's lock is released.
func (t *Table) Close() {
	t.mu.Lock()
	var gone []*Session
	for _, sl := range t.list {
		if sl.s != nil && sl.s.removed.CompareAndSwap(false, true) {
			gone = append(gone, sl.s)
		}
	}
	t.list = nil
	t.live = 0
	t.closed = true
	t.mu.Unlock()
	for _, s := range gone {
		t.reportClose(s, CloseTableClosed)
	}
}

// ID returns the session's sequence number: 1 for the first session of the
// table, increasing in creation order.
func (s *Session) ID() uint32 {
	s.t.mu.RLock()
	defer s.t.mu.RUnlock()
	return s.seq
}

// AddOpen records that a file, pipe or device was opened on the session.
// It counts as activity.
func (s *Session) AddOpen() {
	s.opens.Add(1)
	s.Touch()
}

// RemoveOpen records that an open was closed. The count never goes below
// zero. It counts as activity.
func (s *Session) RemoveOpen() {
	for {
		n := s.opens.Load()
		if n <= 0 || s.opens.CompareAndSwap(n, n-1) {
			break
		}
	}
	s.Touch()
}

// Touch records activity on the session, resetting its idle time.
func (s *Session) Touch() { s.lastActive.Store(s.t.now()) }

// Close removes the session from the table (a logoff, or the connection
// went away). It does not call Spec.OnClose; the Observer hears of it with
// CloseLogoff. Closing twice is harmless.
func (s *Session) Close() {
	if s.removed.Load() {
		return
	}
	s.t.mu.Lock()
	removed := s.t.removeLocked(s)
	s.t.mu.Unlock()
	if removed {
		s.t.reportClose(s, CloseLogoff)
	}
}

// Closed reports whether the session has left the table.
func (s *Session) Closed() bool { return s.removed.Load() }

// info builds the full level-502 view of s at time now (ns since epoch).
func (s *Session) info(now int64, style CnameStyle) Info {
	opens := s.opens.Load()
	if opens > int64(^uint32(0)) {
		opens = int64(^uint32(0))
	}
	return Info{
		ClientName: s.client.style(style),
		UserName:   s.user,
		NumOpens:   uint32(opens),
		Time:       seconds(now - s.created),
		IdleTime:   seconds(now - s.lastActive.Load()),
		UserFlags:  s.flags,
		ClientType: s.cltype,
		Transport:  s.transport,
	}
}

// Info returns the session's current SESSION_INFO_502 view.
func (s *Session) Info() Info { return s.info(s.t.now(), s.t.cname) }

// seconds converts a duration in nanoseconds to whole seconds, saturating
// at 0xFFFFFFFF and clamping negative values (a clock stepping back) to 0.
func seconds(ns int64) uint32 {
	if ns <= 0 {
		return 0
	}
	sec := ns / int64(time.Second)
	if sec >= int64(TimeUnknown) {
		return TimeUnknown
	}
	return uint32(sec)
}
