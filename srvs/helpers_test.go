package srvs

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsession/netsession/ndr"
)

// readHex reads a whitespace-separated hex file from testdata.
func readHex(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return unhex(t, string(raw))
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonicalizer rewrites a stub so that two encodings of the same value
// compare equal: every non-zero referent ID becomes the next ID of the
// sequence 0x00020000, 0x00020004, ... in wire order, and every
// alignment padding byte becomes zero. It walks the structure with the
// ndr primitives and its own copy of the element layouts, independently
// of the codec under test.
type canonicalizer struct {
	b    []byte
	r    *ndr.Reader
	refs uint32
}

func newCanonicalizer(b []byte) *canonicalizer {
	c := &canonicalizer{b: append([]byte(nil), b...)}
	c.r = ndr.NewReader(c.b)
	return c
}

func (c *canonicalizer) align() error {
	start := c.r.Offset()
	if err := c.r.Align(4); err != nil {
		return err
	}
	clear(c.b[start:c.r.Offset()])
	return nil
}

func (c *canonicalizer) u32() (uint32, error) {
	if err := c.align(); err != nil {
		return 0, err
	}
	return c.r.Uint32()
}

func (c *canonicalizer) ptr() (uint32, error) {
	if err := c.align(); err != nil {
		return 0, err
	}
	at := c.r.Offset()
	v, err := c.r.Uint32()
	if err != nil || v == 0 {
		return v, err
	}
	id := 0x00020000 + 4*c.refs
	c.refs++
	c.b[at], c.b[at+1], c.b[at+2], c.b[at+3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
	return v, nil
}

func (c *canonicalizer) str() error {
	if err := c.align(); err != nil {
		return err
	}
	return c.r.SkipString()
}

func (c *canonicalizer) ustr() error {
	p, err := c.ptr()
	if err != nil || p == 0 {
		return err
	}
	return c.str()
}

// u32Ref reads a unique pointer to a DWORD and the DWORD when the
// pointer is not NULL.
func (c *canonicalizer) u32Ref() error {
	p, err := c.ptr()
	if err != nil || p == 0 {
		return err
	}
	_, err = c.u32()
	return err
}

// elementStrings gives, per level, which members of an element are string
// pointers (true) or DWORDs (false), in wire order.
func elementStrings(level uint32) ([]bool, bool) {
	const S, D = true, false
	switch level {
	case 0:
		return []bool{S}, true
	case 1:
		return []bool{S, S, D, D, D, D}, true
	case 2:
		return []bool{S, S, D, D, D, D, S}, true
	case 10:
		return []bool{S, S, D, D}, true
	case 502:
		return []bool{S, S, D, D, D, D, S, S}, true
	}
	return nil, false
}

func (c *canonicalizer) infoStruct() error {
	level, err := c.u32()
	if err != nil {
		return err
	}
	if _, err := c.u32(); err != nil { // discriminant
		return err
	}
	members, ok := elementStrings(level)
	if !ok {
		return nil
	}
	cp, err := c.ptr()
	if err != nil || cp == 0 {
		return err
	}
	if _, err := c.u32(); err != nil { // EntriesRead
		return err
	}
	bp, err := c.ptr()
	if err != nil || bp == 0 {
		return err
	}
	n, err := c.u32()
	if err != nil {
		return err
	}
	var present []bool
	for range n {
		for _, isStr := range members {
			if isStr {
				p, err := c.ptr()
				if err != nil {
					return err
				}
				present = append(present, p != 0)
			} else if _, err := c.u32(); err != nil {
				return err
			}
		}
	}
	for _, ok := range present {
		if ok {
			if err := c.str(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *canonicalizer) done() ([]byte, error) {
	if err := c.align(); err != nil {
		return nil, err
	}
	return c.b[:c.r.Offset()], nil
}

func canonicalEnumRequest(b []byte) ([]byte, error) {
	c := newCanonicalizer(b)
	for range 3 {
		if err := c.ustr(); err != nil {
			return nil, err
		}
	}
	if err := c.infoStruct(); err != nil {
		return nil, err
	}
	if _, err := c.u32(); err != nil {
		return nil, err
	}
	if err := c.u32Ref(); err != nil {
		return nil, err
	}
	return c.done()
}

func canonicalEnumResponse(b []byte) ([]byte, error) {
	c := newCanonicalizer(b)
	if err := c.infoStruct(); err != nil {
		return nil, err
	}
	if _, err := c.u32(); err != nil { // TotalEntries
		return nil, err
	}
	if err := c.u32Ref(); err != nil {
		return nil, err
	}
	if _, err := c.u32(); err != nil { // status
		return nil, err
	}
	return c.done()
}

func canonicalDelRequest(b []byte) ([]byte, error) {
	c := newCanonicalizer(b)
	for range 3 {
		if err := c.ustr(); err != nil {
			return nil, err
		}
	}
	// The stub ends right after the last item: no trailing padding.
	return c.b[:c.r.Offset()], nil
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
