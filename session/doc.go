// Package session keeps the sessions of a server and answers the
// SESSION_INFO levels 0, 1, 2, 10 and 502 with the semantics of
// NetSessionEnum, NetSessionGetInfo and NetSessionDel (MS-SRVS
// NetrSessionEnum and NetrSessionDel).
//
// # Two sides
//
// The feeding side is an SMB server: Table.Open when a session setup
// completes, then on the returned *Session: AddOpen and RemoveOpen as files,
// pipes and devices come and go, Touch on activity, Close on logoff or
// disconnect. Activity updates are lock-free atomics; Open and Close take
// the table's lock briefly.
//
// The query side is the RPC layer: Table.Enum, Table.GetInfo and
// Table.Delete, each with a context and the Caller's identity, judged by
// the table's Authorizer. Failures are returned as a Status, which is an
// error.
//
// # Embedding the table
//
// A Go SMB server adopts the table with a handful of calls:
//
//   - New(Options{...}) once; Options.Observer hears of every session that
//     opens and closes, with a CloseReason (logoff, deleted by an
//     administrator, table closed), without the table's locks held;
//   - Open(Spec{...}) per session setup. Spec.Created, LastActive and
//     Opens restore a session that did not begin now (a seed file, a
//     simulated fleet, a server reloading its state); Table.Now gives the
//     clock to date them against;
//   - the Session methods as above;
//   - srvs.Handler{Table: table} to answer NetrSessionEnum and
//     NetrSessionDel. The handler serves the Sessions interface, which
//     *Table implements, so another store can take its place.
//
// Who may do what is an Authorizer: a function of the caller, the Action
// (enumerate, get info, delete) and the level, returning nil or the
// Status to answer. The Policy presets (PolicyModern, PolicyLegacy,
// PolicyOpen) and ParsePolicy's tables are Authorizers; AuthorizerFunc
// makes one of any function, which may defer to a preset.
//
// Code in the same process that needs every session, a seed dumper or a
// metrics exporter, calls Table.Snapshot: no caller, no access check. It
// must never be reachable from the network.
//
// # Who owns Level and Info
//
// This package does. A level and the members it carries, in the order the
// SESSION_INFO structures declare them (Level.Fields), are the vocabulary
// of the Win32 calls the table implements: the Authorizer rules on levels,
// the table projects Info onto them, and a CLI, a scanner or an embedding
// server use them without speaking NDR. This package is the lowest layer,
// so all of them can. How a level goes on the wire (four bytes per member,
// referent IDs, deferred strings, sizes) is the srvs package's alone:
// srvs.SessionInfo is an alias of Info, so a table's result goes into a
// response without a copy, and the table pages by the srvs.EntrySize a
// caller passes in EnumQuery.Size, never by a byte rule of its own.
//
// # Decisions
//
// Where the protocol leaves a choice open, this package decides as follows.
//
// Client names. A session's client is stored normalised: an IP address
// without brackets or zone, written canonically, IPv4-mapped IPv6 shown as
// IPv4; a NetBIOS name kept as given. It is presented (CnameStyle) the way
// Windows sends it, `\\10.0.0.5`, `\\[fe80::1]`, `\\WKS1`, or bare, `10.0.0.5`,
// `fe80::1`, `WKS1`, the way Samba sends it.
//
// Matching. Qualifiers and sessions are compared after the same
// normalisation on both sides (the leading `\\`, brackets and zone removed,
// 4-in-6 unmapped), case-insensitively. A NULL and an empty qualifier are
// the same: no qualifier.
//
// Order of checks. Syntax first (level, then the `\\` form of the client
// name, then name lengths), then access, then matching. Not-found codes are
// never returned before the access check, so a denied caller learns nothing
// about who is connected. When a qualifier matches nothing, Enum answers
// NERR_ClientNameNotFound if a client qualifier was given and
// NERR_UserNotFound otherwise; Delete always answers
// NERR_ClientNameNotFound. Delete with neither name is
// ERROR_INVALID_PARAMETER (the specification allows it or 0x908; deleting
// everything, as Samba does, is too dangerous to be the default).
//
// Access. The default Authorizer is a Policy: a table of operation
// (enumeration at each level, deletion) by caller class (anonymous, guest, user, Server Operators,
// Administrators). Presets: modern (Windows Server 2019 and later: all
// operations need Administrators or Server Operators; the default), legacy
// (levels 0 and 10 for any authenticated non-guest caller, the rest for
// Administrators and Server Operators), open (everything for everyone).
//
// Paging. PreferedMaximumLength is a budget, and EnumQuery.Size says what
// one entry costs against it. The srvsvc handler supplies srvs.EntrySize,
// so that over the wire the budget is in NDR bytes: per entry the fixed
// part (4, 24, 28, 16, 32 bytes for levels 0, 1, 2, 10, 502) plus, for each
// string the level carries, 12 + 2·(UTF-16 units with NUL) rounded up to 4.
// Without a Size every entry costs 1. The wire layout is defined in srvs
// alone; this package knows no byte of it. MAX_PREFERRED_LENGTH means
// everything. Entries are
// never split; a call returns at least one entry while any remain, and
// ERROR_MORE_DATA when more remain. TotalEntries counts the matches from the
// resume position on. The resume handle is an opaque cursor: the creation
// sequence number (1, 2, 3, ...) of the last entry returned; entries come in
// creation order, so a session that exists for the whole enumeration is
// returned exactly once however many others open and close between pages.
// The handle is 0 after the last page. Should the 32-bit counter ever run
// out, the live sessions are renumbered from 1 (outstanding handles then
// lose their meaning, which Win32 permits).
//
// Times. time and idle_time are whole seconds from an injected Clock,
// saturating at 0xFFFFFFFF; a clock that steps backwards yields 0.
//
// Level 1 carries time, idle_time and user_flags as well as the three fields
// the specification's prose names: the structure has them and Windows
// fills them.
package session
