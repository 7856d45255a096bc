package epm

import (
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ndr"
)

// LookupRequest is the stub of an ept_lookup call (opnum 2).
type LookupRequest struct {
	InquiryType uint32
	Object      *dcerpc.UUID
	// Interface is interface_id (UUID, major and minor version); nil when
	// the pointer is NULL.
	Interface  *dcerpc.SyntaxID
	VersOption uint32
	Handle     Handle
	MaxEntries uint32
}

// UnmarshalNDR decodes an ept_lookup request stub.
func (q *LookupRequest) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	*q = LookupRequest{}
	var err error
	if q.InquiryType, err = r.Uint32(); err != nil {
		return err
	}
	p, err := r.Pointer("object")
	if err != nil {
		return err
	}
	if p != 0 {
		if q.Object, err = readUUIDRef(r, b); err != nil {
			return err
		}
	}
	if p, err = r.Pointer("interface_id"); err != nil {
		return err
	}
	if p != 0 {
		var s dcerpc.SyntaxID
		if s.UUID, err = readUUID(r, b); err != nil {
			return err
		}
		if s.Major, err = r.Uint16(); err != nil {
			return err
		}
		if s.Minor, err = r.Uint16(); err != nil {
			return err
		}
		q.Interface = &s
	}
	if q.VersOption, err = r.Uint32(); err != nil {
		return err
	}
	off := r.Offset()
	if err := r.Skip(len(q.Handle)); err != nil {
		return err
	}
	copy(q.Handle[:], b[off:])
	q.MaxEntries, err = r.Uint32()
	return err
}

// LookupEntry is one ept_entry_t of an ept_lookup answer.
type LookupEntry struct {
	Object     dcerpc.UUID
	Tower      []byte
	Annotation string // at most 63 characters, sent NUL-terminated
}

// LookupResponse is the stub of an ept_lookup answer.
type LookupResponse struct {
	Handle     Handle
	MaxEntries uint32
	Entries    []LookupEntry
	Status     uint32
}

// MarshalNDR encodes the response stub.
func (p *LookupResponse) MarshalNDR() []byte {
	w := ndr.NewWriter(make([]byte, 0, 64+len(p.Entries)*160))
	writeResultsHead(w, p.Handle, len(p.Entries), p.MaxEntries)
	for _, e := range p.Entries {
		for _, c := range uuidWire(nil, e.Object) {
			w.Uint8(c)
		}
		w.Pointer(e.Tower != nil)
		a := e.Annotation
		if len(a) > 63 {
			a = a[:63]
		}
		w.Uint32(0)
		w.Uint32(uint32(len(a) + 1))
		for i := range len(a) {
			w.Uint8(a[i])
		}
		w.Uint8(0)
		w.Align(4)
	}
	for _, e := range p.Entries {
		if e.Tower != nil {
			writeTower(w, e.Tower)
			w.Align(4)
		}
	}
	w.Uint32(p.Status)
	return w.Bytes()
}

// lookupDone is the entry handle of a lookup that has returned
// everything: the next call with it ends the enumeration.
func lookupDone() Handle {
	return Handle{0, 0, 0, 0, 'n', 'e', 't', 's', 'e', 's', 's', 'i', 'o', 'n', '-', 'e', 'p', 'm', 0, 1}
}

// lookup answers ept_lookup from the endpoint list: every endpoint (or
// those of the interface asked for) in one answer with a non-zero entry
// handle, then, for that handle, no entries and EPT_S_NOT_REGISTERED, which
// ends a client's loop. Nothing is kept between calls.
func (h *Handler) lookup(q *LookupRequest) LookupResponse {
	resp := LookupResponse{MaxEntries: q.MaxEntries, Status: StatusNotRegistered}
	if q.Handle != (Handle{}) {
		return resp
	}
	for _, e := range h.Endpoints {
		if q.Interface != nil && (q.Interface.UUID != e.Interface.UUID || q.Interface.Major != e.Interface.Major) {
			continue
		}
		if uint32(len(resp.Entries)) == q.MaxEntries {
			break
		}
		t := TCPTower{Interface: e.Interface, Transfer: dcerpc.NDR20, Port: e.Port, Addr: e.Addr}
		resp.Entries = append(resp.Entries, LookupEntry{Tower: t.Marshal(), Annotation: e.Annotation})
	}
	if len(resp.Entries) > 0 {
		resp.Status = StatusOK
		resp.Handle = lookupDone()
	}
	return resp
}
