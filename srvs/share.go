package srvs

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/ndr"
	"github.com/netsession/netsession/session"
)

// OpNetrShareEnum is the operation number of NetrShareEnum.
const OpNetrShareEnum uint16 = 15

// Share types (shi1_type).
const (
	ShareTypeDisk    uint32 = 0x00000000 // STYPE_DISKTREE
	ShareTypeIPC     uint32 = 0x00000003 // STYPE_IPC
	ShareTypeSpecial uint32 = 0x80000000 // STYPE_SPECIAL: an administrative ($) share
)

// Share is one entry of a NetrShareEnum answer (SHARE_INFO_1; level 0
// carries only the name).
type Share struct {
	Name   string
	Type   uint32
	Remark string
}

// DefaultShares is what a server with nothing but named pipes lists: the
// IPC$ share, typed STYPE_IPC | STYPE_SPECIAL, with the remark Windows
// gives it.
func DefaultShares() []Share {
	return []Share{{Name: "IPC$", Type: ShareTypeIPC | ShareTypeSpecial, Remark: "Remote IPC"}}
}

// ShareEnumRequest holds the [in] parameters of NetrShareEnum. Only the
// level, the presence of the container and the resume handle matter to a
// server; an array a client sends in the container is validated and
// ignored.
type ShareEnumRequest struct {
	ServerName   *string
	Level        uint32
	NoContainer  bool // the union arm's container pointer was NULL
	PrefMaxLen   uint32
	ResumeHandle *uint32
}

// UnmarshalNDR decodes the request stub.
func (q *ShareEnumRequest) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	var err error
	if q.ServerName, err = r.UniqueString("ServerName"); err != nil {
		return err
	}
	if q.Level, err = r.Uint32As("Level"); err != nil {
		return err
	}
	tag, err := r.Uint32As("union tag")
	if err != nil {
		return err
	}
	if tag != q.Level {
		return r.Mismatch(r.Offset()-4, "union tag", tag, q.Level)
	}
	switch q.Level {
	case 0, 1, 2, 501, 502, 503:
		ptr, err := r.Pointer("container")
		if err != nil {
			return err
		}
		q.NoContainer = ptr == 0
		if ptr != 0 {
			if err := skipShareContainer(r, q.Level); err != nil {
				return err
			}
		}
	}
	if q.PrefMaxLen, err = r.Uint32As("PreferedMaximumLength"); err != nil {
		return err
	}
	ptr, err := r.Pointer("ResumeHandle")
	if err != nil {
		return err
	}
	if ptr != 0 {
		v, err := r.Uint32As("ResumeHandle")
		if err != nil {
			return err
		}
		q.ResumeHandle = &v
	}
	return nil
}

// skipShareContainer validates a container a client sent: a count and a
// NULL buffer in practice. A non-NULL buffer is accepted only at levels 0
// and 1, whose layouts this package knows.
func skipShareContainer(r *ndr.Reader, level uint32) error {
	n, err := r.Uint32As("EntriesRead")
	if err != nil {
		return err
	}
	ptr, err := r.Pointer("Buffer")
	if err != nil || ptr == 0 {
		return err
	}
	if level > 1 {
		return fmt.Errorf("srvs: NetrShareEnum: input array at level %d: %w", level, ErrInvalid)
	}
	mc, err := r.MaxCount("Buffer", 4*int(level+1))
	if err != nil {
		return err
	}
	if mc != n {
		return r.Mismatch(r.Offset()-4, "Buffer max_count", mc, n)
	}
	var strs []bool
	for i := uint32(0); i < n; i++ {
		p, err := r.Pointer("shi_netname")
		if err != nil {
			return err
		}
		strs = append(strs, p != 0)
		if level == 1 {
			if _, err := r.Uint32As("shi1_type"); err != nil {
				return err
			}
			p, err := r.Pointer("shi1_remark")
			if err != nil {
				return err
			}
			strs = append(strs, p != 0)
		}
	}
	for _, present := range strs {
		if present {
			if err := r.SkipString(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ShareEnumResponse holds the [out] parameters of NetrShareEnum.
type ShareEnumResponse struct {
	Level        uint32
	Shares       []Share
	TotalEntries uint32
	ResumeHandle *uint32
	Status       uint32
}

// MarshalNDR encodes the response stub. Levels 0 and 1 carry the shares;
// at any other level the union arm is written with a NULL container (or,
// for a level without an arm, not at all), as a server that does not serve
// the level answers it.
func (p *ShareEnumResponse) MarshalNDR() []byte {
	w := ndr.NewWriter(make([]byte, 0, 64+64*len(p.Shares)))
	w.Uint32(p.Level)
	w.Uint32(p.Level)
	switch p.Level {
	case 0, 1:
		w.Pointer(true)
		w.Uint32(uint32(len(p.Shares)))
		if w.Pointer(len(p.Shares) > 0) != 0 {
			w.Uint32(uint32(len(p.Shares)))
			for _, s := range p.Shares {
				w.Pointer(true)
				if p.Level == 1 {
					w.Uint32(s.Type)
					w.Pointer(true)
				}
			}
			for _, s := range p.Shares {
				w.String(s.Name)
				if p.Level == 1 {
					w.String(s.Remark)
				}
			}
		}
	case 2, 501, 502, 503:
		w.Pointer(false)
	}
	w.Uint32(p.TotalEntries)
	if p.ResumeHandle != nil {
		w.Pointer(true)
		w.Uint32(*p.ResumeHandle)
	} else {
		w.Pointer(false)
	}
	w.Uint32(p.Status)
	return w.Bytes()
}

// UnmarshalNDR decodes a response stub at levels 0 and 1 (a client's view).
func (p *ShareEnumResponse) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	var err error
	if p.Level, err = r.Uint32As("Level"); err != nil {
		return err
	}
	tag, err := r.Uint32As("union tag")
	if err != nil {
		return err
	}
	if tag != p.Level {
		return r.Mismatch(r.Offset()-4, "union tag", tag, p.Level)
	}
	p.Shares = nil
	switch p.Level {
	case 0, 1:
		ptr, err := r.Pointer("container")
		if err != nil {
			return err
		}
		if ptr != 0 {
			n, err := r.Uint32As("EntriesRead")
			if err != nil {
				return err
			}
			bp, err := r.Pointer("Buffer")
			if err != nil {
				return err
			}
			if bp != 0 {
				if p.Shares, err = readShares(r, p.Level, n); err != nil {
					return err
				}
			}
		}
	case 2, 501, 502, 503:
		if _, err := r.Pointer("container"); err != nil {
			return err
		}
	}
	if p.TotalEntries, err = r.Uint32As("TotalEntries"); err != nil {
		return err
	}
	ptr, err := r.Pointer("ResumeHandle")
	if err != nil {
		return err
	}
	p.ResumeHandle = nil
	if ptr != 0 {
		v, err := r.Uint32As("ResumeHandle")
		if err != nil {
			return err
		}
		p.ResumeHandle = &v
	}
	if p.Status, err = r.Uint32As("WERROR"); err != nil {
		return err
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("srvs: NetrShareEnum response: %d trailing bytes: %w", r.Remaining(), ErrInvalid)
	}
	return nil
}

func readShares(r *ndr.Reader, level, n uint32) ([]Share, error) {
	mc, err := r.MaxCount("Buffer", 4*int(level*2+1))
	if err != nil {
		return nil, err
	}
	if mc != n {
		return nil, r.Mismatch(r.Offset()-4, "Buffer max_count", mc, n)
	}
	shares := make([]Share, n)
	type refs struct{ name, remark bool }
	present := make([]refs, n)
	for i := range shares {
		p, err := r.Pointer("shi_netname")
		if err != nil {
			return nil, err
		}
		present[i].name = p != 0
		if level == 1 {
			if shares[i].Type, err = r.Uint32As("shi1_type"); err != nil {
				return nil, err
			}
			p, err := r.Pointer("shi1_remark")
			if err != nil {
				return nil, err
			}
			present[i].remark = p != 0
		}
	}
	for i := range shares {
		if present[i].name {
			if shares[i].Name, err = r.String(); err != nil {
				return nil, err
			}
		}
		if present[i].remark {
			if shares[i].Remark, err = r.String(); err != nil {
				return nil, err
			}
		}
	}
	return shares, nil
}

// MarshalNDR encodes the request stub (a client's view): an empty
// container at levels 0 and 1 unless NoContainer.
func (q *ShareEnumRequest) MarshalNDR() []byte {
	w := ndr.NewWriter(nil)
	w.UniqueString(q.ServerName)
	w.Uint32(q.Level)
	w.Uint32(q.Level)
	switch q.Level {
	case 0, 1, 2, 501, 502, 503:
		if w.Pointer(!q.NoContainer) != 0 {
			w.Uint32(0)
			w.Pointer(false)
		}
	}
	w.Uint32(q.PrefMaxLen)
	if q.ResumeHandle != nil {
		w.Pointer(true)
		w.Uint32(*q.ResumeHandle)
	} else {
		w.Pointer(false)
	}
	return w.Bytes()
}

// ShareEnum calls NetrShareEnum at level 0 or 1 and returns every share
// in one call. A returned status other than success is a *StatusError.
func (c *Client) ShareEnum(ctx context.Context, level uint32) ([]Share, error) {
	resume := uint32(0)
	req := ShareEnumRequest{ServerName: optional(c.ServerName), Level: level, PrefMaxLen: session.MaxPreferredLength, ResumeHandle: &resume}
	out, err := c.rpc.Call(ctx, OpNetrShareEnum, req.MarshalNDR())
	if err != nil {
		return nil, err
	}
	var resp ShareEnumResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		return nil, fmt.Errorf("srvs: NetrShareEnum response: %w", err)
	}
	if resp.Status != 0 {
		return nil, &StatusError{Op: "NetrShareEnum", Level: level, Status: session.Status(resp.Status)}
	}
	return resp.Shares, nil
}
