package srvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
)

// Compat selects a peer whose srvsvc answers a Handler imitates, for
// testing tools against "a Samba server" without one.
type Compat uint8

const (
	// CompatNone answers with the session table's own semantics (Windows
	// as the specification describes it).
	CompatNone Compat = iota
	// CompatSamba417 answers NetrSessionEnum and NetrSessionDel as Samba
	// 4.17's smbd does:
	//   - the access check comes first, for every level (unknown ones are
	//     judged as level 1);
	//   - only levels 0 and 1 are served; 2, 10, 502 and unknown levels get
	//     ERROR_INVALID_LEVEL (0x7C) with the request's union echoed;
	//   - ClientName, UserName and PreferedMaximumLength are ignored;
	//   - every session is listed from index *ResumeHandle (0 when NULL);
	//     TotalEntries counts all sessions; the resume handle comes back as
	//     TotalEntries when the input was below it, else 0, and a NULL one
	//     stays NULL;
	//   - a NULL container gets success with nothing filled in;
	//   - NetrSessionDel takes the client name with or without `\\`,
	//     treats a NULL or empty name as a wildcard (both absent: every
	//     session), and answers ERROR_ACCESS_DENIED (5) when nothing
	//     matched.
	// Client names should be bare (session.CnameBare), as Samba sends
	// them; the table's style decides. The wildcard deletion lists the
	// sessions with the store's trusted read (session.Table.Snapshot); a
	// store without one answers it as a deletion that matched nothing.
	CompatSamba417
)

// ParseCompat parses "" or "none" and "samba-4.17".
func ParseCompat(s string) (Compat, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return CompatNone, nil
	case "samba-4.17", "samba4.17", "samba":
		return CompatSamba417, nil
	}
	return CompatNone, fmt.Errorf("srvs: unknown compatibility profile %q (want none or samba-4.17)", s)
}

// String returns "none" or "samba-4.17".
func (c Compat) String() string {
	switch c {
	case CompatNone:
		return "none"
	case CompatSamba417:
		return "samba-4.17"
	}
	return fmt.Sprintf("compat(%d)", uint8(c))
}

// sambaAllowed asks the store's Authorizer as Samba asks its own, before
// anything else and for any level (an unknown one is judged as level 1).
// It returns the status to answer when the caller is refused.
func sambaAllowed(ctx context.Context, ss session.Sessions, c session.Caller, a session.Action, level session.Level) (uint32, bool, error) {
	if a != session.ActionDelete && !level.Valid() {
		level = session.Level1
	}
	err := ss.Authorize(ctx, c, a, level)
	if err == nil {
		return 0, true, nil
	}
	status, ierr := statusOf(err)
	return status, false, ierr
}

func (h *Handler) sambaSessionEnum(ctx context.Context, call *dcerpc.Call, req *SessionEnumRequest) ([]byte, error) {
	status, ok, err := sambaAllowed(ctx, h.Table, call.Caller, session.ActionEnum, req.Level)
	if err != nil {
		return nil, err
	}
	var resp SessionEnumResponse
	switch {
	case !ok:
		resp = req.Response(status)
	case req.Level != 0 && req.Level != 1:
		resp = req.Response(uint32(session.StatusInvalidLevel))
	case req.NoContainer:
		resp = req.Response(uint32(session.StatusSuccess))
	default:
		res, err := h.Table.Enum(ctx, call.Caller, session.EnumQuery{Level: req.Level, PrefMaxLen: session.MaxPreferredLength})
		if err != nil {
			status, ierr := statusOf(err)
			if ierr != nil {
				return nil, ierr
			}
			resp = req.Response(status)
			break
		}
		resp = req.Response(uint32(session.StatusSuccess))
		total := uint32(len(res.Entries))
		start := uint32(0)
		if req.ResumeHandle != nil {
			start = *req.ResumeHandle
		}
		if start < total {
			resp.Entries = res.Entries[start:]
		}
		resp.TotalEntries = total
		if resp.ResumeHandle != nil {
			*resp.ResumeHandle = 0
			if start < total {
				*resp.ResumeHandle = total
			}
		}
	}
	h.log(ctx, call, "NetrSessionEnum", resp.Status, slog.Uint64("level", uint64(req.Level)), slog.Int("entries", len(resp.Entries)), slog.String("compat", h.Compat.String()))
	return resp.AppendNDR(make([]byte, 0, resp.Size()))
}

// sambaSessionDel deletes as Samba does; it returns the status and the
// number of sessions closed.
func (h *Handler) sambaSessionDel(ctx context.Context, c session.Caller, client, user string) (uint32, int, error) {
	status, ok, err := sambaAllowed(ctx, h.Table, c, session.ActionDelete, 0)
	if err != nil || !ok {
		return status, 0, err
	}
	client = strings.TrimPrefix(client, `\\`)
	if client != "" {
		client = `\\` + client
	}
	var n int
	if client != "" || user != "" {
		n, err = h.Table.Delete(ctx, c, client, user)
	} else {
		n, err = h.deleteAll(ctx, c)
	}
	var st session.Status
	switch {
	case err == nil && n > 0:
		return 0, n, nil
	case err == nil, errors.As(err, &st):
		// Samba starts from ACCESS_DENIED and only a delivered shutdown
		// message changes it: no match (and any refusal) is 5.
		return uint32(session.StatusAccessDenied), n, nil
	}
	return 0, n, fmt.Errorf("srvs: session table: %w", err)
}

// snapshotter is a Sessions that can list every session without a caller
// (session.Table.Snapshot, the trusted in-process read).
type snapshotter interface {
	Snapshot() []session.Info
}

// deleteAll closes every session, one (client, user) pair at a time. The
// caller may delete (checked above); the list comes from the store's
// trusted read, so whether the caller may also enumerate does not matter.
// A store without one deletes nothing.
func (h *Handler) deleteAll(ctx context.Context, c session.Caller) (int, error) {
	lister, ok := h.Table.(snapshotter)
	if !ok {
		return 0, nil
	}
	total := 0
	seen := make(map[[2]string]bool)
	for _, e := range lister.Snapshot() {
		k := [2]string{strings.ToLower(session.NormalizeClient(e.ClientName)), strings.ToLower(e.UserName)}
		if seen[k] {
			continue
		}
		seen[k] = true
		n, err := h.Table.Delete(ctx, c, `\\`+session.NormalizeClient(e.ClientName), e.UserName)
		total += n
		var st session.Status
		if err != nil && !errors.As(err, &st) {
			return total, err
		}
	}
	return total, nil
}
