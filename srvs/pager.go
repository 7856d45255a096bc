package srvs

import (
	"context"
	"fmt"
	"io"

	"github.com/netsession/netsession/session"
)

// DefaultMaxPages is the bound on the pages of one enumeration when
// Client.MaxPages is 0.
const DefaultMaxPages = 100_000

// Pager walks the pages of one NetrSessionEnum enumeration, one call per
// Next. It follows the resume handle while the server answers
// ERROR_MORE_DATA, and only then (Samba returns a non-zero handle after a
// complete read), and it stops a server that keeps answering
// ERROR_MORE_DATA without moving on. EnumAll collects its pages; a caller
// that wants each page as it comes, to hand entries on at once or to give
// every call its own deadline, drives a Pager itself:
//
//	p := c.Pager(level, "", "", session.MaxPreferredLength)
//	for !p.Done() {
//		page, err := p.Next(ctx)
//		if err != nil {
//			return err
//		}
//		use(page.Entries)
//	}
//
// A Pager is not safe for concurrent use.
type Pager struct {
	c        *Client
	req      SessionEnumRequest
	resume   uint32
	maxPages int
	pages    int
	// stalled: the last page was ERROR_MORE_DATA with no entries and the
	// resume handle it was asked with, or it was the maxPages-th.
	stalled bool
	done    bool
}

// Pager returns a Pager over the sessions at level. client and user are
// qualifiers ("" for none; a client name should carry its leading `\\`),
// prefMaxLen is the per-call budget (MaxPreferredLength for everything in
// one call). The request carries c.ServerName, and the enumeration is
// bounded by c.MaxPages. No call is made until Next.
func (c *Client) Pager(level session.Level, client, user string, prefMaxLen uint32) *Pager {
	p := &Pager{
		c: c,
		req: SessionEnumRequest{
			ServerName: optional(c.ServerName),
			ClientName: optional(client),
			UserName:   optional(user),
			Level:      level,
			PrefMaxLen: prefMaxLen,
		},
		maxPages: c.MaxPages,
	}
	p.req.ResumeHandle = &p.resume
	if p.maxPages <= 0 {
		p.maxPages = DefaultMaxPages
	}
	return p
}

// Next makes the next call and returns its page:
//
//   - with a nil error, page.Entries are sessions to use, and Done
//     reports whether the page completed the enumeration;
//   - with a *StatusError when the server answered a failure status; page
//     is the decoded answer (Level, TotalEntries as sent) and the
//     enumeration is over;
//   - nil with ErrNoProgress, without a call, when the previous page was
//     ERROR_MORE_DATA with no entries and an unchanged resume handle, or
//     when MaxPages pages have been read and the server still has more;
//   - nil with the RPC's error when the call failed (transport, fault,
//     undecodable answer).
//
// After any error, and after the page that completed the enumeration,
// Done is true and Next returns nil, io.EOF.
func (p *Pager) Next(ctx context.Context) (*SessionEnumResponse, error) {
	if p.done {
		return nil, io.EOF
	}
	if p.stalled {
		p.done = true
		if p.pages >= p.maxPages {
			return nil, fmt.Errorf("%w: still more after %d pages", ErrNoProgress, p.pages)
		}
		return nil, ErrNoProgress
	}
	page, err := p.c.SessionEnum(ctx, &p.req)
	if err != nil {
		p.done = true
		return nil, err
	}
	p.pages++
	switch st := session.Status(page.Status); st {
	case session.StatusSuccess:
		p.done = true
		return page, nil
	case session.StatusMoreData:
	default:
		p.done = true
		return page, &StatusError{Op: "NetrSessionEnum", Level: uint32(p.req.Level), Status: st}
	}
	next := uint32(0)
	if page.ResumeHandle != nil {
		next = *page.ResumeHandle
	}
	p.stalled = len(page.Entries) == 0 && next == p.resume || p.pages >= p.maxPages
	p.resume = next
	return page, nil
}

// Done reports whether the enumeration is over: a page completed it or
// Next returned an error.
func (p *Pager) Done() bool { return p.done }

// Pages returns the number of calls the server answered, whatever their
// status.
func (p *Pager) Pages() int { return p.pages }
