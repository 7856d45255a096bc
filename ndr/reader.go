package ndr

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Reader decodes NDR20 little-endian data from a byte slice. It never
// reads outside the slice: every method checks the remaining length first
// and returns an *Error instead.
//
// Offsets and alignment are relative to the start of the slice, which
// must be the start of the stub. Padding bytes are skipped without
// looking at their values (some peers fill them with non-zero bytes).
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Offset returns the current position.
func (r *Reader) Offset() int { return r.off }

// Remaining returns the number of bytes left.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

func (r *Reader) fail(off int, what string, err error, detail string) error {
	return &Error{Offset: off, What: what, Err: err, Detail: detail}
}

func (r *Reader) short(what string, need int) error {
	return r.fail(r.off, what, ErrShort, fmt.Sprintf("need %d bytes, have %d", need, r.Remaining()))
}

// Align skips padding up to the next multiple of n (a power of two).
func (r *Reader) Align(n int) error {
	pad := -r.off & (n - 1)
	if pad > r.Remaining() {
		return r.short("alignment padding", pad)
	}
	r.off += pad
	return nil
}

// Skip advances over n bytes.
func (r *Reader) Skip(n int) error {
	if n < 0 || n > r.Remaining() {
		return r.short("skipped bytes", n)
	}
	r.off += n
	return nil
}

// Uint8 reads one byte.
func (r *Reader) Uint8() (uint8, error) {
	if r.Remaining() < 1 {
		return 0, r.short("uint8", 1)
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

// Uint16 aligns to 2 and reads a uint16.
func (r *Reader) Uint16() (uint16, error) {
	if err := r.Align(2); err != nil {
		return 0, err
	}
	if r.Remaining() < 2 {
		return 0, r.short("uint16", 2)
	}
	v := binary.LittleEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

// Uint32 aligns to 4 and reads a uint32.
func (r *Reader) Uint32() (uint32, error) {
	return r.uint32("uint32")
}

// Uint32As is Uint32 with a name for the field in error reports.
func (r *Reader) Uint32As(what string) (uint32, error) {
	return r.uint32(what)
}

func (r *Reader) uint32(what string) (uint32, error) {
	if err := r.Align(4); err != nil {
		return 0, err
	}
	if r.Remaining() < 4 {
		return 0, r.short(what, 4)
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// Pointer reads a unique-pointer referent ID; 0 means NULL. Any non-zero
// value is accepted and carries no meaning.
func (r *Reader) Pointer(what string) (uint32, error) {
	return r.uint32(what)
}

// Mismatch returns an *Error with cause ErrMismatch at offset off, for
// callers that find two decoded values disagreeing.
func (r *Reader) Mismatch(off int, what string, got, want uint32) error {
	return r.fail(off, what, ErrMismatch, fmt.Sprintf("got %d, want %d", got, want))
}

// CheckCount reports an ErrCount *Error unless count elements of
// elemSize bytes each fit in the remaining data. Call it before
// allocating anything sized by a count read from the wire.
func (r *Reader) CheckCount(what string, count uint32, elemSize int) error {
	if elemSize > 0 && uint64(count)*uint64(elemSize) > uint64(r.Remaining()) {
		return r.fail(r.off, what, ErrCount,
			fmt.Sprintf("%d elements of %d bytes, %d bytes left", count, elemSize, r.Remaining()))
	}
	return nil
}

// MaxCount reads the max_count (conformance) of a conformant array whose
// elements take at least elemSize bytes each, and checks with CheckCount
// that they can fit.
func (r *Reader) MaxCount(what string, elemSize int) (uint32, error) {
	n, err := r.uint32(what)
	if err != nil {
		return 0, err
	}
	return n, r.CheckCount(what, n, elemSize)
}

// stringHeader reads and validates the header of a conformant-varying
// UTF-16 string and returns the position of its code units and their
// number (including the NUL), checked to be present in full.
func (r *Reader) stringHeader() (start, units int, err error) {
	if err := r.Align(4); err != nil {
		return 0, 0, err
	}
	at := r.off
	if r.Remaining() < 12 {
		return 0, 0, r.short("string header", 12)
	}
	maxCount := binary.LittleEndian.Uint32(r.b[at:])
	offset := binary.LittleEndian.Uint32(r.b[at+4:])
	actual := binary.LittleEndian.Uint32(r.b[at+8:])
	if offset != 0 {
		return 0, 0, r.fail(at+4, "string offset", ErrOffset, fmt.Sprintf("offset %d", offset))
	}
	if actual > maxCount {
		return 0, 0, r.fail(at+8, "string actual_count", ErrCount,
			fmt.Sprintf("actual %d > max %d", actual, maxCount))
	}
	left := uint64(r.Remaining() - 12)
	if uint64(actual)*2 > left {
		return 0, 0, r.fail(at+8, "string actual_count", ErrShort,
			fmt.Sprintf("%d code units, %d bytes left", actual, left))
	}
	if actual == 0 {
		return 0, 0, r.fail(at+8, "string actual_count", ErrUnterminated, "actual 0")
	}
	start = at + 12
	n := int(actual)
	if binary.LittleEndian.Uint16(r.b[start+2*(n-1):]) != 0 {
		return 0, 0, r.fail(start+2*(n-1), "string terminator", ErrUnterminated, "")
	}
	r.off = start + 2*n
	return start, n, nil
}

// String reads a conformant-varying UTF-16LE string ([string]
// wchar_t*) and returns it as UTF-8 without the terminator.
//
// Rules (see the package documentation): offset must be 0, actual_count
// must not exceed max_count, the units must be present before anything
// is allocated, and the last unit must be NUL (strict: a missing
// terminator is ErrUnterminated). max_count may exceed actual_count. The
// value ends at the first NUL, as a C reader would see it. Unpaired
// surrogates become U+FFFD. Trailing padding is not consumed; the next
// aligned read skips it.
func (r *Reader) String() (string, error) {
	start, n, err := r.stringHeader()
	if err != nil {
		return "", err
	}
	return decodeUTF16(r.b[start : start+2*(n-1)]), nil
}

// SkipString validates a string like String and skips it without
// allocating.
func (r *Reader) SkipString() error {
	_, _, err := r.stringHeader()
	return err
}

// UniqueString reads a top-level [unique, string] pointer: a referent ID
// and, when it is not NULL, the string right after it. NULL gives nil.
func (r *Reader) UniqueString(what string) (*string, error) {
	p, err := r.uint32(what)
	if err != nil || p == 0 {
		return nil, err
	}
	s, err := r.String()
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// AppendString decodes a string like String and appends its UTF-8 text
// to dst. Decoding many strings into one buffer and converting it to a
// string once costs a few allocations instead of one per string.
func (r *Reader) AppendString(dst []byte) ([]byte, error) {
	start, n, err := r.stringHeader()
	if err != nil {
		return dst, err
	}
	return appendUTF16(dst, r.b[start:start+2*(n-1)]), nil
}

// decodeUTF16 converts little-endian UTF-16 bytes (an even number) to
// UTF-8, stopping at the first NUL unit.
func decodeUTF16(b []byte) string {
	var scratch [128]byte // typical names fit: one allocation, the string
	return string(appendUTF16(scratch[:0], b))
}

// appendUTF16 appends the UTF-8 form of little-endian UTF-16 bytes (an
// even number) to dst, stopping at the first NUL unit. Unpaired
// surrogates become U+FFFD.
func appendUTF16(dst, b []byte) []byte {
	n := len(b) / 2
	dst = slices.Grow(dst, n)
	// Names are nearly always ASCII: narrow four units at a time while
	// they are ASCII and none is the NUL.
	i := 0
	for ; i+4 <= n; i += 4 {
		x := binary.LittleEndian.Uint64(b[2*i:])
		if x&0xFF80FF80FF80FF80 != 0 || (x-0x0001000100010001)&^x&0x8000800080008000 != 0 {
			break
		}
		dst = append(dst, byte(x), byte(x>>16), byte(x>>32), byte(x>>48))
	}
	for ; i < n; i++ {
		u := rune(binary.LittleEndian.Uint16(b[2*i:]))
		switch {
		case u == 0:
			return dst
		case u < utf8.RuneSelf:
			dst = append(dst, byte(u))
			continue
		}
		// A high surrogate followed by a low one (the NUL ends the
		// string, so it pairs with nothing).
		if utf16.IsSurrogate(u) && u < 0xDC00 && i+1 < n {
			u2 := rune(binary.LittleEndian.Uint16(b[2*i+2:]))
			if r := utf16.DecodeRune(u, u2); r != utf8.RuneError {
				dst = utf8.AppendRune(dst, r)
				i++
				continue
			}
		}
		if utf16.IsSurrogate(u) {
			u = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, u)
	}
	return dst
}
