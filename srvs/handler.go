package srvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
)

// NumOpnums is the number of operations in the srvsvc interface (opnums 0
// to 53). Opnums at or above it are outside the interface; those below it
// that this package does not implement are answered with
// nca_s_op_rng_error as well.
const NumOpnums = 54

// Syntax is the srvsvc abstract syntax: the interface UUID, version 3.0.
func Syntax() dcerpc.SyntaxID {
	return dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID(InterfaceUUID), Major: InterfaceVersionMajor, Minor: InterfaceVersionMinor}
}

// Handler serves NetrSessionEnum (opnum 12) and NetrSessionDel (opnum 13)
// from a session store, a *session.Table or any other session.Sessions.
// The store's Authorizer and the caller identity the DCE/RPC layer
// established decide what a caller may see.
//
// Every outcome the table reports (access denied, invalid level, not
// found, more data) is a normal response carrying the status, in the full
// out-parameter layout. Only a stub that cannot be decoded is a fault
// (bad stub data, 0x6F7), and only an opnum other than 12 and 13 is
// nca_s_op_rng_error.
type Handler struct {
	// Table answers the calls: a *session.Table, or any other
	// session.Sessions. It must not be nil. The handler asks it with the
	// call's context and caller and prices entries with EntrySize.
	Table session.Sessions
	// Logger receives one debug record per call; nil discards.
	Logger *slog.Logger
	// Server answers NetrServerGetInfo (opnum 21) at levels 100 and 101;
	// nil means DefaultServerInfo("NETSESSION").
	Server *ServerInfo
	// Shares answers NetrShareEnum (opnum 15) at levels 0 and 1; nil means
	// DefaultShares (IPC$ alone).
	Shares []Share
	// Compat makes NetrSessionEnum and NetrSessionDel answer as another
	// implementation does (see CompatSamba417); the zero value keeps the
	// session table's semantics.
	Compat Compat

	// entries holds entry slices (*[]session.Info) for the table to fill,
	// reused across calls once their answer is encoded; stubs the
	// NetrSessionEnum answers (*[]byte) the server gave back once written
	// (ReleaseStub).
	entries, stubs sync.Pool
}

// ReleaseStub implements dcerpc.StubReleaser: a written answer's memory
// holds a later NetrSessionEnum answer.
func (h *Handler) ReleaseStub(stub []byte) {
	if cap(stub) == 0 || cap(stub) > maxPooledStub {
		return
	}
	stub = stub[:0]
	h.stubs.Put(&stub)
}

// maxPooledStub bounds the answers whose memory the handler keeps for
// reuse: that of a larger table is left to the collector.
const maxPooledStub = 4 << 20

// maxPooledEntries bounds the entry slices the handler keeps for reuse:
// a table of more sessions gets a fresh slice for each call.
const maxPooledEntries = 1 << 14

// Interface returns the registration for a dcerpc.Server.
func (h *Handler) Interface() dcerpc.Interface {
	return dcerpc.Interface{Syntax: Syntax(), Handler: h, NumOpnums: NumOpnums}
}

// ServeRPC implements dcerpc.Handler.
func (h *Handler) ServeRPC(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	switch call.Opnum {
	case OpNetrSessionEnum:
		return h.sessionEnum(ctx, call)
	case OpNetrSessionDel:
		return h.sessionDel(ctx, call)
	case OpNetrShareEnum:
		return h.shareEnum(ctx, call)
	case OpNetrServerGetInfo:
		return h.serverGetInfo(ctx, call)
	}
	return nil, dcerpc.ErrOpRange
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// statusOf turns a table error into the NET_API_STATUS to send.
func statusOf(err error) (uint32, error) {
	var st session.Status
	if errors.As(err, &st) {
		return uint32(st), nil
	}
	return 0, fmt.Errorf("srvs: session table: %w", err)
}

func (h *Handler) sessionEnum(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	var req SessionEnumRequest
	if err := req.UnmarshalNDR(call.Stub); err != nil {
		return nil, fmt.Errorf("%w: NetrSessionEnum: %v", dcerpc.ErrBadStub, err)
	}
	if h.Compat == CompatSamba417 {
		return h.sambaSessionEnum(ctx, call, &req)
	}
	q := session.EnumQuery{
		Level:      req.Level,
		Client:     deref(req.ClientName),
		User:       deref(req.UserName),
		PrefMaxLen: req.PrefMaxLen,
		Size:       EntrySize,
	}
	if req.ResumeHandle != nil {
		q.Resume = *req.ResumeHandle
	}
	if p, _ := h.entries.Get().(*[]session.Info); p != nil {
		q.Entries = *p
	}
	res, err := h.Table.Enum(ctx, call.Caller, q)
	defer h.recycle(q.Entries, res.Entries)
	var resp SessionEnumResponse
	if err != nil {
		status, ierr := statusOf(err)
		if ierr != nil {
			return nil, ierr
		}
		// The skeleton echoes the level, an empty container and the resume
		// handle as sent; TotalEntries is 0.
		resp = req.Response(status)
	} else {
		resp = req.Response(uint32(res.Status()))
		// A client that sent a NULL container still gets one: a unique
		// [in,out] pointer may become non-NULL on the way out.
		resp.NoContainer = false
		if len(res.Entries) > 0 {
			resp.Entries = res.Entries
		}
		resp.TotalEntries = res.TotalEntries
		if resp.ResumeHandle != nil {
			*resp.ResumeHandle = res.Resume
		}
	}
	h.log(ctx, call, "NetrSessionEnum", resp.Status, slog.Uint64("level", uint64(req.Level)), slog.Int("entries", len(resp.Entries)))
	// The bound AppendNDR sizes its output by (exact for ASCII names): a
	// pooled buffer that holds it is written in place, with no pass to
	// count UTF-16 units.
	size := resp.sizeBound()
	buf, _ := h.stubs.Get().(*[]byte)
	if buf == nil || cap(*buf) < size {
		return resp.AppendNDR(make([]byte, 0, size))
	}
	return resp.AppendNDR((*buf)[:0])
}

// recycle keeps the entries of an encoded answer for the next call: those
// the store wrote into the slice it was given, or any a *session.Table
// returned (a new slice of the caller's); not those of a store that may
// hand out storage of its own.
func (h *Handler) recycle(given, got []session.Info) {
	_, table := h.Table.(*session.Table)
	switch {
	case cap(got) == 0 || cap(got) > maxPooledEntries:
		got = given
	case !table && (cap(given) == 0 || &given[:1][0] != &got[:1][0]):
		got = given
	}
	if cap(got) == 0 {
		return
	}
	// The names the old entries point to stay reachable until the slice
	// is reused or the pool drops it at a collection: not worth clearing.
	got = got[:0]
	h.entries.Put(&got)
}

func (h *Handler) sessionDel(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	var req SessionDelRequest
	if err := req.UnmarshalNDR(call.Stub); err != nil {
		return nil, fmt.Errorf("%w: NetrSessionDel: %v", dcerpc.ErrBadStub, err)
	}
	var resp SessionDelResponse
	if h.Compat == CompatSamba417 {
		status, n, err := h.sambaSessionDel(ctx, call.Caller, deref(req.ClientName), deref(req.UserName))
		if err != nil {
			return nil, err
		}
		resp.Status = status
		h.log(ctx, call, "NetrSessionDel", resp.Status, slog.Int("closed", n), slog.String("compat", h.Compat.String()))
		return resp.MarshalNDR(), nil
	}
	n, err := h.Table.Delete(ctx, call.Caller, deref(req.ClientName), deref(req.UserName))
	if err != nil {
		status, ierr := statusOf(err)
		if ierr != nil {
			return nil, ierr
		}
		resp.Status = status
	}
	h.log(ctx, call, "NetrSessionDel", resp.Status, slog.Int("closed", n))
	return resp.MarshalNDR(), nil
}

func (h *Handler) log(ctx context.Context, call *dcerpc.Call, op string, status uint32, attrs ...slog.Attr) {
	if h.Logger == nil || !h.Logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs = append(attrs,
		slog.String("op", op),
		slog.String("status", session.Status(status).Error()),
		slog.String("caller", call.Caller.User),
		slog.String("remote", call.RemoteAddr),
	)
	h.Logger.LogAttrs(ctx, slog.LevelDebug, "srvsvc call", attrs...)
}

// shareEnum answers NetrShareEnum: every share at levels 0 and 1 in one
// page (the list is short and fixed); other levels ERROR_INVALID_LEVEL.
// Any caller may enumerate shares, as on Windows.
func (h *Handler) shareEnum(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	var req ShareEnumRequest
	if err := req.UnmarshalNDR(call.Stub); err != nil {
		return nil, fmt.Errorf("%w: NetrShareEnum: %v", dcerpc.ErrBadStub, err)
	}
	shares := h.Shares
	if shares == nil {
		shares = DefaultShares()
	}
	resp := ShareEnumResponse{Level: req.Level, ResumeHandle: req.ResumeHandle}
	switch {
	case req.Level > 1:
		resp.Status = uint32(session.StatusInvalidLevel)
	case req.ResumeHandle != nil && *req.ResumeHandle >= uint32(len(shares)):
		zero := uint32(0)
		resp.ResumeHandle = &zero
	default:
		from := uint32(0)
		if req.ResumeHandle != nil {
			from = *req.ResumeHandle
			end := uint32(len(shares))
			resp.ResumeHandle = &end
		}
		resp.Shares = shares[from:]
		resp.TotalEntries = uint32(len(shares))
	}
	h.log(ctx, call, "NetrShareEnum", resp.Status, slog.Uint64("level", uint64(req.Level)), slog.Int("entries", len(resp.Shares)))
	return resp.MarshalNDR(), nil
}

// serverGetInfo answers NetrServerGetInfo at levels 100 and 101; other
// levels ERROR_INVALID_LEVEL with a NULL arm.
func (h *Handler) serverGetInfo(ctx context.Context, call *dcerpc.Call) ([]byte, error) {
	var req ServerGetInfoRequest
	if err := req.UnmarshalNDR(call.Stub); err != nil {
		return nil, fmt.Errorf("%w: NetrServerGetInfo: %v", dcerpc.ErrBadStub, err)
	}
	info := h.Server
	if info == nil {
		d := DefaultServerInfo("NETSESSION")
		info = &d
	}
	resp := ServerGetInfoResponse{Level: req.Level}
	if req.Level == 100 || req.Level == 101 {
		resp.Info = info
	} else {
		resp.Status = uint32(session.StatusInvalidLevel)
	}
	h.log(ctx, call, "NetrServerGetInfo", resp.Status, slog.Uint64("level", uint64(req.Level)))
	return resp.MarshalNDR(), nil
}
