package srvs

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/ndr"
	"github.com/netsession/netsession/session"
)

// OpNetrServerGetInfo is the operation number of NetrServerGetInfo.
const OpNetrServerGetInfo uint16 = 21

// Values of ServerInfo fields.
const (
	PlatformIDNT uint32 = 500 // PLATFORM_ID_NT

	ServerTypeWorkstation uint32 = 0x00000001 // SV_TYPE_WORKSTATION
	ServerTypeServer      uint32 = 0x00000002 // SV_TYPE_SERVER
	ServerTypeServerNT    uint32 = 0x00008000 // SV_TYPE_SERVER_NT
	ServerTypeNT          uint32 = 0x00001000 // SV_TYPE_NT
)

// ServerInfo is what NetrServerGetInfo reports at levels 100 and 101.
type ServerInfo struct {
	PlatformID   uint32
	Name         string
	VersionMajor uint32
	VersionMinor uint32
	Type         uint32
	Comment      string
}

// DefaultServerInfo describes a Windows NT 10.0 server named name.
func DefaultServerInfo(name string) ServerInfo {
	return ServerInfo{
		PlatformID:   PlatformIDNT,
		Name:         name,
		VersionMajor: 10,
		VersionMinor: 0,
		Type:         ServerTypeWorkstation | ServerTypeServer | ServerTypeNT | ServerTypeServerNT,
		Comment:      "",
	}
}

// ServerGetInfoRequest holds the [in] parameters of NetrServerGetInfo.
type ServerGetInfoRequest struct {
	ServerName *string
	Level      uint32
}

// UnmarshalNDR decodes the request stub.
func (q *ServerGetInfoRequest) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	var err error
	if q.ServerName, err = r.UniqueString("ServerName"); err != nil {
		return err
	}
	q.Level, err = r.Uint32As("Level")
	return err
}

// MarshalNDR encodes the request stub (a client's view).
func (q *ServerGetInfoRequest) MarshalNDR() []byte {
	w := ndr.NewWriter(nil)
	w.UniqueString(q.ServerName)
	w.Uint32(q.Level)
	return w.Bytes()
}

// ServerGetInfoResponse holds the [out] parameters of NetrServerGetInfo:
// the LPSERVER_INFO union (a pointer arm per level) and the status.
type ServerGetInfoResponse struct {
	Level  uint32
	Info   *ServerInfo // nil: NULL arm (a level not served)
	Status uint32
}

// MarshalNDR encodes the response stub. Info is written for levels 100 and
// 101; any other level gets a NULL arm pointer.
func (p *ServerGetInfoResponse) MarshalNDR() []byte {
	w := ndr.NewWriter(make([]byte, 0, 128))
	w.Uint32(p.Level)
	if p.Info == nil || (p.Level != 100 && p.Level != 101) {
		w.Pointer(false)
		w.Uint32(p.Status)
		return w.Bytes()
	}
	i := p.Info
	w.Pointer(true)
	w.Uint32(i.PlatformID)
	w.Pointer(true)
	if p.Level == 101 {
		w.Uint32(i.VersionMajor)
		w.Uint32(i.VersionMinor)
		w.Uint32(i.Type)
		w.Pointer(true)
	}
	w.String(i.Name)
	if p.Level == 101 {
		w.String(i.Comment)
	}
	w.Uint32(p.Status)
	return w.Bytes()
}

// UnmarshalNDR decodes a response stub at levels 100 and 101.
func (p *ServerGetInfoResponse) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	var err error
	if p.Level, err = r.Uint32As("Level"); err != nil {
		return err
	}
	ptr, err := r.Pointer("InfoStruct")
	if err != nil {
		return err
	}
	p.Info = nil
	if ptr != 0 {
		if p.Level != 100 && p.Level != 101 {
			return fmt.Errorf("srvs: NetrServerGetInfo level %d: %w", p.Level, ErrInvalid)
		}
		var i ServerInfo
		if i.PlatformID, err = r.Uint32As("platform_id"); err != nil {
			return err
		}
		np, err := r.Pointer("name")
		if err != nil {
			return err
		}
		var cp uint32
		if p.Level == 101 {
			for _, f := range []*uint32{&i.VersionMajor, &i.VersionMinor, &i.Type} {
				if *f, err = r.Uint32As("sv101"); err != nil {
					return err
				}
			}
			if cp, err = r.Pointer("comment"); err != nil {
				return err
			}
		}
		if np != 0 {
			if i.Name, err = r.String(); err != nil {
				return err
			}
		}
		if cp != 0 {
			if i.Comment, err = r.String(); err != nil {
				return err
			}
		}
		p.Info = &i
	}
	if p.Status, err = r.Uint32As("WERROR"); err != nil {
		return err
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("srvs: NetrServerGetInfo response: %d trailing bytes: %w", r.Remaining(), ErrInvalid)
	}
	return nil
}

// ServerGetInfo calls NetrServerGetInfo at level 100 or 101. A returned
// status other than success is a *StatusError.
func (c *Client) ServerGetInfo(ctx context.Context, level uint32) (*ServerInfo, error) {
	req := ServerGetInfoRequest{ServerName: optional(c.ServerName), Level: level}
	out, err := c.rpc.Call(ctx, OpNetrServerGetInfo, req.MarshalNDR())
	if err != nil {
		return nil, err
	}
	var resp ServerGetInfoResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		return nil, fmt.Errorf("srvs: NetrServerGetInfo response: %w", err)
	}
	if resp.Status != 0 {
		return nil, &StatusError{Op: "NetrServerGetInfo", Level: level, Status: session.Status(resp.Status)}
	}
	if resp.Info == nil {
		return nil, fmt.Errorf("srvs: NetrServerGetInfo: success without information: %w", ErrInvalid)
	}
	return resp.Info, nil
}
