package srvs

import (
	"context"
	"errors"
	"fmt"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
)

// StatusError is a NET_API_STATUS that a method returned: the RPC itself
// succeeded and the server answered with a failure code. It is distinct
// from the dcerpc layer's errors (*dcerpc.Fault for a fault PDU,
// wrapped I/O errors for the transport). errors.Is matches the status, so
// errors.Is(err, session.StatusAccessDenied) works.
type StatusError struct {
	Op     string // "NetrSessionEnum" or "NetrSessionDel"
	Level  uint32 // the level asked for (NetrSessionEnum only)
	Status session.Status
}

func (e *StatusError) Error() string {
	if e.Op == "NetrSessionEnum" {
		return fmt.Sprintf("%v at level %d", e.Status, e.Level)
	}
	return e.Status.Error()
}

// Unwrap returns the status.
func (e *StatusError) Unwrap() error { return e.Status }

// ErrNoProgress is returned by EnumAll and Pager.Next when a server keeps
// answering ERROR_MORE_DATA without moving on: a page with no entries and
// the resume handle it was asked with, or more data still after
// MaxPages pages.
var ErrNoProgress = errors.New("srvs: server answered ERROR_MORE_DATA without progress")

// Client is the srvsvc client stub for the session methods, on a bound
// dcerpc.Client.
type Client struct {
	rpc *dcerpc.Client
	// ServerName is sent as the SRVSVC_HANDLE (servers ignore it); "" sends
	// a NULL pointer.
	ServerName string
	// MaxPages bounds the pages of one enumeration (EnumAll, Pager);
	// 0 means DefaultMaxPages.
	MaxPages int
}

// NewClient returns a stub on rpc, which must already be bound to Syntax()
// (see Bind).
func NewClient(rpc *dcerpc.Client) *Client { return &Client{rpc: rpc} }

// Bind binds rpc to the srvsvc interface and returns a stub on it.
func Bind(ctx context.Context, rpc *dcerpc.Client) (*Client, error) {
	if err := rpc.Bind(ctx, Syntax()); err != nil {
		return nil, err
	}
	return NewClient(rpc), nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SessionEnum makes one NetrSessionEnum call and returns the decoded
// response whatever its status. The error is non-nil only when the RPC
// failed (transport, fault, undecodable response).
func (c *Client) SessionEnum(ctx context.Context, req *SessionEnumRequest) (*SessionEnumResponse, error) {
	out, err := c.rpc.Call(ctx, OpNetrSessionEnum, req.MarshalNDR())
	if err != nil {
		return nil, err
	}
	var resp SessionEnumResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		return nil, fmt.Errorf("srvs: NetrSessionEnum response: %w", err)
	}
	return &resp, nil
}

// EnumResult is the outcome of EnumAll.
type EnumResult struct {
	Level        session.Level
	Entries      []SessionInfo
	TotalEntries uint32 // as the last page reported it
	Pages        int
}

// EnumAll lists sessions at one level: it collects the pages of
// c.Pager(level, client, user, prefMaxLen), so it follows the resume
// handle while the server answers ERROR_MORE_DATA (and only then: Samba
// returns a non-zero handle after a complete read). client and user are
// qualifiers ("" for none); a client name should carry its leading `\`.
// prefMaxLen is the per-call budget (MaxPreferredLength for everything in
// one call).
//
// A returned status other than success is a *StatusError; entries of the
// pages read before it are returned along with it.
func (c *Client) EnumAll(ctx context.Context, level session.Level, client, user string, prefMaxLen uint32) (*EnumResult, error) {
	res := &EnumResult{Level: level}
	for p := c.Pager(level, client, user, prefMaxLen); !p.Done(); {
		page, err := p.Next(ctx)
		if page != nil {
			res.Pages++
			res.Entries = append(res.Entries, page.Entries...)
			res.TotalEntries = page.TotalEntries
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// GetInfo is NetSessionGetInfo: NetrSessionEnum with both qualifiers, a
// NULL resume handle and no budget, returning the first entry that matches
// them. client and
// user are required (ERROR_INVALID_PARAMETER locally otherwise), and level
// must be 0, 1, 2 or 10 (ERROR_INVALID_LEVEL locally otherwise), as the
// Windows client library does.
func (c *Client) GetInfo(ctx context.Context, client, user string, level session.Level) (SessionInfo, error) {
	if level == session.Level502 || !level.Valid() {
		return SessionInfo{}, &StatusError{Op: "NetrSessionEnum", Level: uint32(level), Status: session.StatusInvalidLevel}
	}
	if client == "" || user == "" {
		return SessionInfo{}, &StatusError{Op: "NetrSessionEnum", Level: uint32(level), Status: session.StatusInvalidParameter}
	}
	resp, err := c.SessionEnum(ctx, &SessionEnumRequest{
		ServerName: optional(c.ServerName),
		ClientName: &client,
		UserName:   &user,
		Level:      level,
		PrefMaxLen: session.MaxPreferredLength,
	})
	if err != nil {
		return SessionInfo{}, err
	}
	if st := session.Status(resp.Status); !st.OK() {
		return SessionInfo{}, &StatusError{Op: "NetrSessionEnum", Level: uint32(level), Status: st}
	}
	// The first entry that really matches: a server that ignores the
	// qualifiers (Samba does) answers every session. A server that answers
	// success with no match gets the not-found the protocol asks for.
	for i := range resp.Entries {
		if resp.Entries[i].Matches(level, client, user) {
			return resp.Entries[i], nil
		}
	}
	return SessionInfo{}, &StatusError{Op: "NetrSessionEnum", Level: uint32(level), Status: session.StatusClientNameNotFound}
}

// Delete is NetrSessionDel. A non-zero status is a *StatusError.
func (c *Client) Delete(ctx context.Context, client, user string) error {
	req := SessionDelRequest{ServerName: optional(c.ServerName), ClientName: optional(client), UserName: optional(user)}
	out, err := c.rpc.Call(ctx, OpNetrSessionDel, req.MarshalNDR())
	if err != nil {
		return err
	}
	var resp SessionDelResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		return fmt.Errorf("srvs: NetrSessionDel response: %w", err)
	}
	if resp.Status != 0 {
		return &StatusError{Op: "NetrSessionDel", Status: session.Status(resp.Status)}
	}
	return nil
}
