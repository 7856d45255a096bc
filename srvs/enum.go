package srvs

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/netsession/netsession/ndr"
	"github.com/netsession/netsession/session"
)

// SessionEnumRequest holds the [in] parameters of NetrSessionEnum
// (opnum 12).
//
// A nil string pointer is a NULL pointer on the wire; a pointer to "" is
// an empty string. The two are distinct on the wire; the protocol treats
// both as "no qualifier" for ClientName and UserName.
type SessionEnumRequest struct {
	ServerName *string // SRVSVC_HANDLE, usually \\name; servers ignore it
	ClientName *string // qualifier: sessions from this client only
	UserName   *string // qualifier: sessions of this user only

	// Level is InfoStruct.Level. The union discriminant on the wire must
	// equal it. A level without a union arm (anything but 0, 1, 2, 10 and
	// 502) is carried with an empty arm, as Samba's IDL does, so that a
	// server can answer ERROR_INVALID_LEVEL instead of failing to decode.
	Level session.Level
	// NoContainer reports a NULL container pointer in the union arm
	// (only meaningful for known levels). The normal case, false, is a
	// container with EntriesRead 0 and a NULL Buffer. Entries a client
	// puts in its container are validated and then ignored.
	NoContainer bool

	PrefMaxLen uint32 // PreferedMaximumLength; MaxPreferredLength = everything

	// ResumeHandle is nil for a NULL pointer, otherwise it points to the
	// handle value (0 to start from the beginning).
	ResumeHandle *uint32
}

// Size returns the exact encoded size of q in bytes.
func (q *SessionEnumRequest) Size() int {
	n := uniqueStringSize(q.ServerName) + uniqueStringSize(q.ClientName) + uniqueStringSize(q.UserName)
	n += 8 // Level, discriminant
	if q.Level.Valid() {
		n += 4 // container pointer
		if !q.NoContainer {
			n += 8 // EntriesRead, Buffer
		}
	}
	n += 4 + 4 // PreferedMaximumLength, ResumeHandle pointer
	if q.ResumeHandle != nil {
		n += 4
	}
	return n
}

// MarshalNDR returns the stub data of q.
func (q *SessionEnumRequest) MarshalNDR() []byte {
	return q.AppendNDR(nil)
}

// AppendNDR appends the stub data of q to dst, with alignment relative to
// len(dst), and returns the extended slice. Referent IDs are numbered
// from ndr.DefaultReferentBase. It grows dst at most once.
func (q *SessionEnumRequest) AppendNDR(dst []byte) []byte {
	var w ndr.Writer
	w.Reset(slices.Grow(dst, q.Size()))
	writeNames(&w, q.ServerName, q.ClientName, q.UserName)
	w.Uint32(uint32(q.Level))
	w.Uint32(uint32(q.Level))
	if q.Level.Valid() {
		if w.Pointer(!q.NoContainer) != 0 {
			w.Uint32(0)      // EntriesRead
			w.Pointer(false) // Buffer
		}
	}
	w.Uint32(q.PrefMaxLen)
	if w.Pointer(q.ResumeHandle != nil) != 0 {
		w.Uint32(*q.ResumeHandle)
	}
	return w.Bytes()
}

// UnmarshalNDR decodes NetrSessionEnum request stub data into q.
//
// It accepts any non-zero referent IDs, NULL or empty strings, a NULL
// container pointer, a container holding entries (checked for
// consistency and bounds, then dropped; a NULL Buffer with a non-zero
// EntriesRead is tolerated because nothing depends on it), an unknown
// level with an empty arm and a NULL resume handle. It rejects a union
// discriminant different from Level and an array max_count different
// from EntriesRead. Bytes after the last parameter are ignored. Errors
// are *ndr.Error values.
func (q *SessionEnumRequest) UnmarshalNDR(b []byte) error {
	*q = SessionEnumRequest{}
	r := ndr.NewReader(b)
	var err error
	if q.ServerName, q.ClientName, q.UserName, err = readNames(r); err != nil {
		return err
	}
	if q.Level, err = readLevel(r); err != nil {
		return err
	}
	if l, ok := layoutFor(q.Level); ok {
		p, err := r.Pointer("container pointer")
		if err != nil {
			return err
		}
		if p == 0 {
			q.NoContainer = true
		} else if err := skipContainer(r, b, l); err != nil {
			return err
		}
	}
	if q.PrefMaxLen, err = r.Uint32As("PreferedMaximumLength"); err != nil {
		return err
	}
	q.ResumeHandle, err = readUniqueUint32(r, "ResumeHandle pointer", "ResumeHandle")
	return err
}

// Response returns the response skeleton for q that §4.4 of the protocol
// notes prescribes for every outcome: Level echoed, the container echoed
// (present unless q's was NULL) with no entries, ResumeHandle NULL if
// q's was, else pointing to a copy of q's value, TotalEntries 0 and the
// given status. A handler fills in entries, totals and the new resume
// value on success. When q's container was NULL the skeleton has
// NoContainer set, which cannot carry entries: a handler that answers
// such a request with entries clears it first (Samba instead answers
// success with nothing filled in).
func (q *SessionEnumRequest) Response(status uint32) SessionEnumResponse {
	p := SessionEnumResponse{Level: q.Level, NoContainer: q.NoContainer, Status: status}
	if q.ResumeHandle != nil {
		v := *q.ResumeHandle
		p.ResumeHandle = &v
	}
	return p
}

// SessionEnumResponse holds the [out] parameters of NetrSessionEnum and
// its return value.
//
// Every outcome, errors included, uses the full layout: Level and the
// union discriminant, the arm (for a known level: the container pointer
// and, if present, EntriesRead and Buffer), TotalEntries, ResumeHandle
// and Status. An unknown level has an empty arm and no entries. No
// entries are encoded as EntriesRead 0 and a NULL Buffer.
type SessionEnumResponse struct {
	Level       session.Level
	NoContainer bool          // NULL container pointer; requires no Entries
	Entries     []SessionInfo // EntriesRead = len(Entries); nil when there are none
	// TotalEntries is the number of entries that could have been
	// enumerated from the resume position (a hint).
	TotalEntries uint32
	ResumeHandle *uint32 // nil for a NULL pointer
	Status       uint32  // NET_API_STATUS
}

// Size returns the exact encoded size of p in bytes (for a value that
// encodes without error).
func (p *SessionEnumResponse) Size() int {
	n := 8 // Level, discriminant
	if l, ok := layoutFor(p.Level); ok {
		n += 4 // container pointer
		if !p.NoContainer {
			n += 8 // EntriesRead, Buffer
			if len(p.Entries) > 0 {
				n += 4 + l.fixed()*len(p.Entries) // max_count, fixed parts
				n += stringsSize(l.set(), p.Entries, true)
			}
		}
	}
	n += 4 + 4 + 4 // TotalEntries, ResumeHandle pointer, status
	if p.ResumeHandle != nil {
		n += 4
	}
	return n
}

// stringsSize is the size of the strings of members f of the entries:
// exact (ndr.StringSize), or with every octet counted as one UTF-16 unit
// (a bound, exact for ASCII, known without reading the strings).
func stringsSize(f field, entries []SessionInfo, exact bool) int {
	n := 0
	for i := range entries {
		n += entryStrings(f, &entries[i], exact)
	}
	return n
}

// entryStrings is stringsSize for one entry.
func entryStrings(f field, e *SessionInfo, exact bool) int {
	size := func(s string) int {
		if exact {
			return ndr.StringSize(s)
		}
		return ndr.StringSizeUnits(len(s))
	}
	n := 0
	if f.Has(session.FieldClientName) {
		n += size(e.ClientName)
	}
	if f.Has(session.FieldUserName) {
		n += size(e.UserName)
	}
	if f.Has(session.FieldClientType) {
		n += size(e.ClientType)
	}
	if f.Has(session.FieldTransport) {
		n += size(e.Transport)
	}
	return n
}

func (p *SessionEnumResponse) check() error {
	if len(p.Entries) == 0 {
		return nil
	}
	if !p.Level.Valid() {
		return fmt.Errorf("%w: %d entries at level %d, which has no info container", ErrInvalid, len(p.Entries), p.Level)
	}
	if p.NoContainer {
		return fmt.Errorf("%w: %d entries with a NULL container", ErrInvalid, len(p.Entries))
	}
	if uint64(len(p.Entries)) > math.MaxUint32 {
		return fmt.Errorf("%w: %d entries", ErrInvalid, len(p.Entries))
	}
	return nil
}

// MarshalNDR returns the stub data of p. Errors wrap ErrInvalid.
func (p *SessionEnumResponse) MarshalNDR() ([]byte, error) {
	return p.AppendNDR(nil)
}

// AppendNDR appends the stub data of p to dst, with alignment relative to
// len(dst), and returns the extended slice. It grows dst at most once,
// so encoding costs at most one allocation however many entries there
// are, and none when dst has Size() octets to spare. A buffer it
// allocates is sized for the strings' octets: exactly the size for ASCII
// names, a little more for others. Referent IDs are numbered
// from ndr.DefaultReferentBase in wire order. Errors wrap ErrInvalid and
// leave dst unchanged.
//
// Every item of the response is four octets or a string padded to four,
// so the encoder writes each at its offset in the right-sized buffer with
// no alignment or growth bookkeeping (strings by ndr.PutString): levels 1
// and 502 in one pass over the entries, the fixed part and the strings of
// each at two offsets; the others in a pass for the fixed parts and
// another for the strings.
func (p *SessionEnumResponse) AppendNDR(dst []byte) ([]byte, error) {
	if err := p.check(); err != nil {
		return dst, err
	}
	// Room for the strings as if every octet were one UTF-16 unit, which
	// they never exceed and ASCII names meet exactly: known without a
	// pass over the strings. Only a buffer with some room already, but
	// not that much, is measured exactly, so that one sized with Size is
	// used in place.
	size := p.sizeBound()
	start := len(dst)
	if spare := cap(dst) - start; spare > 0 && spare < size {
		size = min(size, p.Size())
	}
	var out []byte
	if cap(dst)-start >= size {
		out = dst[:start+size]
	} else {
		out = make([]byte, start+size)
		copy(out, dst)
	}
	b := out[start:]
	ref := ndr.DefaultReferentBase
	binary.LittleEndian.PutUint32(b[0:], uint32(p.Level))
	binary.LittleEndian.PutUint32(b[4:], uint32(p.Level))
	o := 8
	if l, ok := layoutFor(p.Level); ok {
		if p.NoContainer {
			binary.LittleEndian.PutUint32(b[o:], 0)
			o += 4
		} else {
			n := uint32(len(p.Entries))
			binary.LittleEndian.PutUint32(b[o:], ref) // container pointer
			ref += 4
			binary.LittleEndian.PutUint32(b[o+4:], n)
			o += 8
			if n == 0 {
				binary.LittleEndian.PutUint32(b[o:], 0) // Buffer
				o += 4
			} else {
				binary.LittleEndian.PutUint32(b[o:], ref) // Buffer
				ref += 4
				binary.LittleEndian.PutUint32(b[o+4:], n) // max_count
				o += 8
				o, ref = putEntries(b, o, ref, l, p.Entries)
			}
		}
	}
	binary.LittleEndian.PutUint32(b[o:], p.TotalEntries)
	o += 4
	if p.ResumeHandle != nil {
		binary.LittleEndian.PutUint32(b[o:], ref)
		binary.LittleEndian.PutUint32(b[o+4:], *p.ResumeHandle)
		o += 8
	} else {
		binary.LittleEndian.PutUint32(b[o:], 0)
		o += 4
	}
	binary.LittleEndian.PutUint32(b[o:], p.Status)
	return out[:start+o+4], nil
}

// sizeBound is Size with every string counted as one UTF-16 unit per
// octet: exact for ASCII names, more than enough for any.
func (p *SessionEnumResponse) sizeBound() int {
	l, ok := layoutFor(p.Level)
	if !ok || p.NoContainer || len(p.Entries) == 0 {
		return p.Size()
	}
	n := stringsSize(l.set(), p.Entries, false)
	n += 8 + 4 + 8 + 4 + l.fixed()*len(p.Entries) + 12 // up to max_count; TotalEntries, ResumeHandle pointer, status
	if p.ResumeHandle != nil {
		n += 4
	}
	return n
}

// putEntries writes the entries at b[o:], their fixed parts (each member
// a DWORD, or a string's referent ID) followed by their deferred strings,
// those of each entry in member order. It returns the offset after them
// and the next referent ID. Levels 1 and 502, what clients ask for, are
// written in one pass over the entries, the row and the strings of each
// at two offsets (the strings start where the fixed parts end); the
// others in two passes through the layout.
func putEntries(b []byte, o int, ref uint32, l layout, entries []SessionInfo) (int, uint32) {
	le := binary.LittleEndian
	set := l.set()
	if set != session.Level502.Fields() && set != session.Level1.Fields() {
		o, ref = putFixed(b, o, ref, l, entries)
		return putStrings(b, o, l, entries), ref
	}
	// Level 502 is level 1 followed by two more strings, the client type
	// and the transport, which most entries share (an empty client type,
	// one transport): the two are encoded once, and their octets copied
	// as one block while the next entry's are the same.
	w, step := 24, uint32(8)
	is502 := set == session.Level502.Fields()
	if is502 {
		w, step = 32, 16
	}
	var last struct {
		ct, tr string
		at, n  int
	}
	last.at = -1
	so := o + w*len(entries)
	for i := range entries {
		e := &entries[i]
		row := b[o : o+w]
		le.PutUint32(row[0:], ref)
		le.PutUint32(row[4:], ref+4)
		le.PutUint32(row[8:], e.NumOpens)
		le.PutUint32(row[12:], e.Time)
		le.PutUint32(row[16:], e.IdleTime)
		le.PutUint32(row[20:], e.UserFlags)
		so += ndr.PutString(b[so:], e.ClientName)
		so += ndr.PutString(b[so:], e.UserName)
		if is502 {
			le.PutUint32(row[24:], ref+8)
			le.PutUint32(row[28:], ref+12)
			if last.at >= 0 && e.ClientType == last.ct && e.Transport == last.tr {
				so += copy(b[so:], b[last.at:last.at+last.n])
			} else {
				at := so
				so += ndr.PutString(b[so:], e.ClientType)
				so += ndr.PutString(b[so:], e.Transport)
				last.ct, last.tr, last.at, last.n = e.ClientType, e.Transport, at, so-at
			}
		}
		ref += step
		o += w
	}
	return so, ref
}

// putFixed writes the fixed parts of the entries at b[o:] through the
// layout, and returns the offset after them and the next referent ID.
func putFixed(b []byte, o int, ref uint32, l layout, entries []SessionInfo) (int, uint32) {
	le := binary.LittleEndian
	fields := l.fields[:l.n]
	for i := range entries {
		e := &entries[i]
		row := b[o : o+4*len(fields)]
		for j, f := range fields {
			v := ref
			if isString(f) {
				ref += 4
			} else {
				v = scalar(e, f)
			}
			le.PutUint32(row[4*j:], v)
		}
		o += len(row)
	}
	return o, ref
}

// putStrings writes the deferred strings of the entries at b[o:], those
// of each entry in member order (levels 0, 2 and 10: level 1 and 502 go
// through putEntries), and returns the offset after them. Level 2's client
// type, which most entries share, is encoded once and copied after that.
func putStrings(b []byte, o int, l layout, entries []SessionInfo) int {
	fields := l.fields[:l.n]
	var ct encoded
	for i := range entries {
		e := &entries[i]
		for _, f := range fields {
			switch {
			case !isString(f):
			case f == session.FieldClientType:
				o += ct.put(b, o, e.ClientType)
			default:
				o += ndr.PutString(b[o:], str(e, f))
			}
		}
	}
	return o
}

// encoded remembers where a string was last encoded in the buffer.
type encoded struct {
	s      string
	at, n  int
	filled bool
}

// put writes s at b[o:], copying its last encoding when it is the same
// string, and returns the octets written.
func (c *encoded) put(b []byte, o int, s string) int {
	if c.filled && s == c.s {
		return copy(b[o:], b[c.at:c.at+c.n])
	}
	n := ndr.PutString(b[o:], s)
	*c = encoded{s: s, at: o, n: n, filled: true}
	return n
}

// UnmarshalNDR decodes NetrSessionEnum response stub data into p.
//
// It accepts any non-zero referent IDs, a NULL container, a NULL resume
// handle, an unknown level with an empty arm, NULL string pointers in
// entries (decoded as "") and a non-NULL Buffer with zero entries. It
// rejects a union discriminant different from Level, an array max_count
// different from EntriesRead, and a non-zero EntriesRead with a NULL
// Buffer. Counts are checked against the data before anything is
// allocated. The entries' strings share one backing string, so a decoded
// response costs a handful of allocations whatever its size (and any one
// string keeps that backing alive). Bytes after the status are ignored. Errors are
// *ndr.Error values.
func (p *SessionEnumResponse) UnmarshalNDR(b []byte) error {
	*p = SessionEnumResponse{}
	r := ndr.NewReader(b)
	var err error
	if p.Level, err = readLevel(r); err != nil {
		return err
	}
	if l, ok := layoutFor(p.Level); ok {
		cp, err := r.Pointer("container pointer")
		if err != nil {
			return err
		}
		if cp == 0 {
			p.NoContainer = true
		} else if p.Entries, err = readContainer(r, b, l); err != nil {
			return err
		}
	}
	if p.TotalEntries, err = r.Uint32As("TotalEntries"); err != nil {
		return err
	}
	if p.ResumeHandle, err = readUniqueUint32(r, "ResumeHandle pointer", "ResumeHandle"); err != nil {
		return err
	}
	p.Status, err = r.Uint32As("status")
	return err
}

// readLevel reads InfoStruct.Level and the union discriminant and checks
// that they agree.
func readLevel(r *ndr.Reader) (session.Level, error) {
	level, err := r.Uint32As("InfoStruct.Level")
	if err != nil {
		return 0, err
	}
	at := r.Offset()
	tag, err := r.Uint32As("union discriminant")
	if err != nil {
		return 0, err
	}
	if tag != level {
		return 0, r.Mismatch(at, "union discriminant", tag, level)
	}
	return session.Level(level), nil
}

func readUniqueUint32(r *ndr.Reader, ptrWhat, what string) (*uint32, error) {
	ptr, err := r.Pointer(ptrWhat)
	if err != nil || ptr == 0 {
		return nil, err
	}
	v, err := r.Uint32As(what)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// readArrayHeader reads a container's EntriesRead and Buffer pointer and,
// when the Buffer is present, the array's max_count, checked to equal
// EntriesRead and to fit the remaining data. It returns the element count
// and whether the Buffer was present.
func readArrayHeader(r *ndr.Reader, l layout, nullBufferOK bool) (uint32, bool, error) {
	entriesRead, err := r.Uint32As("EntriesRead")
	if err != nil {
		return 0, false, err
	}
	bp, err := r.Pointer("Buffer pointer")
	if err != nil {
		return 0, false, err
	}
	if bp == 0 {
		if entriesRead != 0 && !nullBufferOK {
			return 0, false, r.Mismatch(r.Offset()-4, "Buffer pointer (NULL with EntriesRead > 0)", 0, entriesRead)
		}
		return 0, false, nil
	}
	at := r.Offset()
	n, err := r.MaxCount("array max_count", l.fixed())
	if err != nil {
		return 0, false, err
	}
	if n != entriesRead {
		return 0, false, r.Mismatch(at, "array max_count", n, entriesRead)
	}
	return n, true, nil
}

// readContainer decodes the pointee of a container pointer at a known
// level: EntriesRead, the Buffer and its elements with their deferred
// strings.
func readContainer(r *ndr.Reader, b []byte, l layout) ([]SessionInfo, error) {
	n, present, err := readArrayHeader(r, l, false)
	if err != nil || !present || n == 0 {
		return nil, err
	}
	fields := l.fields[:l.n]
	fixedAt := r.Offset()
	entries := make([]SessionInfo, n) // n*fixed bytes are known to be present
	for i := range entries {
		e := &entries[i]
		for _, f := range fields {
			v, err := r.Uint32()
			if err != nil {
				return nil, err
			}
			if !isString(f) {
				setScalar(e, f, v)
			}
		}
	}
	// Second pass: the referent IDs are re-read from the fixed parts
	// (already bounds-checked) to know which strings follow. The texts
	// are decoded into one buffer (sized for the ASCII case: a byte for
	// every two bytes of the rest of the stub), converted to a string
	// once, and handed out as substrings.
	text := make([]byte, 0, r.Remaining()/2)
	var ends []int
	for i := range entries {
		at := fixedAt + i*l.fixed()
		for j, f := range fields {
			if isString(f) && binary.LittleEndian.Uint32(b[at+4*j:]) != 0 {
				if text, err = r.AppendString(text); err != nil {
					return nil, err
				}
				if ends == nil {
					ends = make([]int, 0, int(n)*l.strings())
				}
				ends = append(ends, len(text))
			}
		}
	}
	all, k, from := string(text), 0, 0
	for i := range entries {
		e := &entries[i]
		at := fixedAt + i*l.fixed()
		for j, f := range fields {
			if isString(f) && binary.LittleEndian.Uint32(b[at+4*j:]) != 0 {
				*strPtr(e, f) = all[from:ends[k]]
				from = ends[k]
				k++
			}
		}
	}
	return entries, nil
}

// skipContainer validates a container sent in a request and skips it.
func skipContainer(r *ndr.Reader, b []byte, l layout) error {
	n, present, err := readArrayHeader(r, l, true)
	if err != nil || !present || n == 0 {
		return err
	}
	fixedAt := r.Offset()
	if err := r.Skip(int(n) * l.fixed()); err != nil {
		return err
	}
	for i := range int(n) {
		at := fixedAt + i*l.fixed()
		for j, f := range l.fields[:l.n] {
			if isString(f) && binary.LittleEndian.Uint32(b[at+4*j:]) != 0 {
				if err := r.SkipString(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func uniqueStringSize(s *string) int {
	if s == nil {
		return 4
	}
	return 4 + ndr.StringSize(*s)
}
