package epm

import (
	"fmt"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ndr"
)

// Opnums of the endpoint mapper interface used here.
const (
	OpEptLookup = 2
	OpEptMap    = 3
	// NumOpnums is the number of operations of the ept interface (0 to 7).
	NumOpnums = 8
)

// Status values of ept_map (error_status_t).
const (
	StatusOK            uint32 = 0
	StatusNotRegistered uint32 = 0x16c9a0d6 // EPT_S_NOT_REGISTERED
)

// Syntax is the endpoint mapper interface, e1af8308-5d1f-11c9-91a4-08002b14a0fa
// version 3.0.
func Syntax() dcerpc.SyntaxID {
	return dcerpc.SyntaxID{UUID: dcerpc.UUID{0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa}, Major: 3}
}

// Handle is an ept_lookup_handle_t context handle on the wire: 4 octets of
// attributes and a 16-octet UUID. This mapper keeps no lookup state, so it
// always answers with the zero handle.
type Handle [20]byte

// MapRequest is the stub of an ept_map call (opnum 3).
type MapRequest struct {
	// Object is the object UUID; nil when the pointer is NULL.
	Object *dcerpc.UUID
	// Tower is the tower_octet_string of map_tower; nil when the pointer
	// is NULL.
	Tower     []byte
	Handle    Handle
	MaxTowers uint32
}

// maxTowerLen bounds a tower in a request or response.
const maxTowerLen = 4096

// readTower reads the pointee of a twr_p_t: the conformance, tower_length
// (equal to it) and the octets, aliasing b.
func readTower(r *ndr.Reader, b []byte) ([]byte, error) {
	n, err := r.MaxCount("tower max_count", 1)
	if err != nil {
		return nil, err
	}
	l, err := r.Uint32()
	if err != nil {
		return nil, err
	}
	if l != n {
		return nil, fmt.Errorf("epm: tower_length %d differs from its conformance %d", l, n)
	}
	if n > maxTowerLen {
		return nil, fmt.Errorf("epm: tower of %d octets (at most %d)", n, maxTowerLen)
	}
	off := r.Offset()
	if err := r.Skip(int(n)); err != nil {
		return nil, err
	}
	return b[off : off+int(n) : off+int(n)], nil
}

// readUUID reads the 16-byte wire UUID at the reader's offset in b.
func readUUID(r *ndr.Reader, b []byte) (dcerpc.UUID, error) {
	off := r.Offset()
	if err := r.Skip(16); err != nil {
		return dcerpc.UUID{}, err
	}
	return uuidFromWire(b[off:]), nil
}

// readUUIDRef reads the UUID behind a non-NULL pointer already read.
func readUUIDRef(r *ndr.Reader, b []byte) (*dcerpc.UUID, error) {
	u, err := readUUID(r, b)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func writeTower(w *ndr.Writer, t []byte) {
	w.Uint32(uint32(len(t)))
	w.Uint32(uint32(len(t)))
	for _, c := range t {
		w.Uint8(c)
	}
}

// UnmarshalNDR decodes an ept_map request stub. The result aliases b.
func (m *MapRequest) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	p, err := r.Pointer("object")
	if err != nil {
		return err
	}
	*m = MapRequest{}
	if p != 0 {
		if m.Object, err = readUUIDRef(r, b); err != nil {
			return err
		}
	}
	p, err = r.Pointer("map_tower")
	if err != nil {
		return err
	}
	if p != 0 {
		if m.Tower, err = readTower(r, b); err != nil {
			return err
		}
		if m.Tower == nil {
			m.Tower = []byte{}
		}
	}
	if err := r.Align(4); err != nil {
		return err
	}
	off := r.Offset()
	if err := r.Skip(len(m.Handle)); err != nil {
		return err
	}
	copy(m.Handle[:], b[off:])
	if m.MaxTowers, err = r.Uint32(); err != nil {
		return err
	}
	return nil
}

// MarshalNDR encodes the request stub.
func (m *MapRequest) MarshalNDR() []byte {
	w := ndr.NewWriter(make([]byte, 0, 128))
	w.Pointer(m.Object != nil)
	if m.Object != nil {
		for _, c := range uuidWire(nil, *m.Object) {
			w.Uint8(c)
		}
	}
	w.Pointer(m.Tower != nil)
	if m.Tower != nil {
		writeTower(w, m.Tower)
	}
	w.Align(4)
	for _, c := range m.Handle {
		w.Uint8(c)
	}
	w.Uint32(m.MaxTowers)
	return w.Bytes()
}

// MapResponse is the stub of an ept_map answer.
type MapResponse struct {
	Handle Handle
	// MaxTowers is the conformance of the towers array: the request's
	// max_towers.
	MaxTowers uint32
	// Towers are the tower_octet_strings found (num_towers of them).
	Towers [][]byte
	Status uint32
}

// MarshalNDR encodes the response stub.
func (m *MapResponse) MarshalNDR() []byte {
	w := ndr.NewWriter(make([]byte, 0, 64+len(m.Towers)*96))
	writeResultsHead(w, m.Handle, len(m.Towers), m.MaxTowers)
	for range m.Towers {
		w.Pointer(true)
	}
	for _, t := range m.Towers {
		writeTower(w, t)
		w.Align(4)
	}
	w.Uint32(m.Status)
	return w.Bytes()
}

// writeResultsHead writes what ept_map and ept_lookup answers begin with:
// the context handle, the count of results, then the conformant-varying
// array header (max_count at least the count, offset 0, actual count).
func writeResultsHead(w *ndr.Writer, h Handle, n int, maxCount uint32) {
	for _, c := range h {
		w.Uint8(c)
	}
	w.Uint32(uint32(n))
	w.Uint32(max(maxCount, uint32(n)))
	w.Uint32(0)
	w.Uint32(uint32(n))
}

// UnmarshalNDR decodes an ept_map response stub. The towers alias b.
func (m *MapResponse) UnmarshalNDR(b []byte) error {
	r := ndr.NewReader(b)
	*m = MapResponse{}
	off := r.Offset()
	if err := r.Skip(len(m.Handle)); err != nil {
		return err
	}
	copy(m.Handle[:], b[off:])
	num, err := r.Uint32()
	if err != nil {
		return err
	}
	if m.MaxTowers, err = r.Uint32(); err != nil {
		return err
	}
	offset, err := r.Uint32()
	if err != nil {
		return err
	}
	actual, err := r.Uint32()
	if err != nil {
		return err
	}
	if offset != 0 || actual != num || actual > m.MaxTowers {
		return fmt.Errorf("epm: towers array with offset %d, actual count %d, max count %d for %d towers", offset, actual, m.MaxTowers, num)
	}
	if err := r.CheckCount("tower pointers", actual, 4); err != nil {
		return err
	}
	present := make([]bool, actual)
	for i := range present {
		p, err := r.Pointer("tower")
		if err != nil {
			return err
		}
		present[i] = p != 0
	}
	for _, ok := range present {
		if !ok {
			continue
		}
		t, err := readTower(r, b)
		if err != nil {
			return err
		}
		if err := r.Align(4); err != nil {
			return err
		}
		m.Towers = append(m.Towers, t)
	}
	if m.Status, err = r.Uint32(); err != nil {
		return err
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("epm: %d octets after the status", r.Remaining())
	}
	return nil
}
