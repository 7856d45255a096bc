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
	// them; the table's style decides.
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

func sambaAllowed(t *session.Table, c session.Caller, level session.Level) bool {
	op, ok := session.EnumOp(level)
	if !ok {
		op = session.OpEnum1
	}
	return t.Policy().Allowed(op, session.ClassOf(c))
}

func (h *Handler) sambaSessionEnum(ctx context.Context, call *dcerpc.Call, req *SessionEnumRequest) ([]byte, error) {
	var resp SessionEnumResponse
	switch {
	case !sambaAllowed(h.Table, call.Caller, req.Level):
		resp = req.Response(uint32(session.StatusAccessDenied))
	case req.Level != 0 && req.Level != 1:
		resp = req.Response(uint32(session.StatusInvalidLevel))
	case req.NoContainer:
		resp = req.Response(uint32(session.StatusSuccess))
	default:
		res, err := h.Table.Enum(call.Caller, session.EnumQuery{Level: req.Level, PrefMaxLen: session.MaxPreferredLength})
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
func (h *Handler) sambaSessionDel(c session.Caller, client, user string) (uint32, int, error) {
	if !h.Table.Policy().Allowed(session.OpDelete, session.ClassOf(c)) {
		return uint32(session.StatusAccessDenied), 0, nil
	}
	client = strings.TrimPrefix(client, `\\`)
	if client != "" {
		client = `\\` + client
	}
	var n int
	var err error
	if client != "" || user != "" {
		n, err = h.Table.Delete(c, client, user)
	} else {
		n, err = h.deleteAll(c)
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

// deleteAll closes every session, one (client, user) pair at a time.
func (h *Handler) deleteAll(c session.Caller) (int, error) {
	// The caller may delete (checked above); listing uses a caller that
	// the enumeration policy admits at level 1 when the policy admits
	// administrators at all.
	lister := session.Caller{User: "compat-delete", Groups: []string{session.GroupAdministrators}}
	res, err := h.Table.Enum(lister, session.EnumQuery{Level: session.Level1, PrefMaxLen: session.MaxPreferredLength})
	if err != nil {
		return 0, err
	}
	total := 0
	seen := make(map[[2]string]bool)
	for _, e := range res.Entries {
		k := [2]string{strings.ToLower(session.NormalizeClient(e.ClientName)), strings.ToLower(e.UserName)}
		if seen[k] {
			continue
		}
		seen[k] = true
		n, err := h.Table.Delete(c, `\\`+session.NormalizeClient(e.ClientName), e.UserName)
		total += n
		var st session.Status
		if err != nil && !errors.As(err, &st) {
			return total, err
		}
	}
	return total, nil
}
