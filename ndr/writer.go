package ndr

import (
	"encoding/binary"
	"unicode/utf8"
)

// DefaultReferentBase is the first referent ID a Writer hands out unless
// told otherwise. Successive IDs step by 4 (0x00020000, 0x00020004, ...),
// the sequence Windows and Samba put on the wire.
const DefaultReferentBase uint32 = 0x00020000

// Writer appends NDR20 little-endian data to a byte slice.
//
// Alignment is relative to the length the slice had when the Writer was
// created (or last Reset), so a caller may put a PDU header in front of
// the stub and encode straight after it. Writing never fails; values that
// cannot be represented are the caller's concern (see String).
//
// The zero Writer is ready to use with an empty buffer and the default
// referent base.
type Writer struct {
	// buf is always resliced to its capacity; buf[:n] is the output.
	// Writing by index keeps the hot path free of slice-header stores.
	buf  []byte
	n    int
	base int

	refBase uint32 // 0 means DefaultReferentBase
	refs    uint32 // referent IDs handed out so far
}

// NewWriter returns a Writer that appends to buf. Its capacity is used
// before any reallocation, so pre-sizing buf with the exact encoded size
// makes encoding allocation-free.
func NewWriter(buf []byte) *Writer {
	w := &Writer{}
	w.Reset(buf)
	return w
}

// Reset makes w append to buf with alignment relative to len(buf) and
// restarts the referent sequence at its base.
func (w *Writer) Reset(buf []byte) {
	w.n = len(buf)
	w.buf = buf[:cap(buf)]
	w.base = w.n
	w.refs = 0
}

// SetReferentBase sets the first referent ID of the sequence and restarts
// it. The IDs are id, id+4, id+8, ...; id must not be 0.
func (w *Writer) SetReferentBase(id uint32) {
	w.refBase = id
	w.refs = 0
}

// Bytes returns the buffer: whatever it held before plus everything
// written.
func (w *Writer) Bytes() []byte { return w.buf[:w.n] }

// Len returns the number of stub bytes written, not counting what the
// buffer held before.
func (w *Writer) Len() int { return w.n - w.base }

// reserve makes room for k more bytes and returns them.
func (w *Writer) reserve(k int) []byte {
	if len(w.buf)-w.n < k {
		w.grow(k)
	}
	b := w.buf[w.n : w.n+k]
	w.n += k
	return b
}

func (w *Writer) grow(k int) {
	nb := append(w.buf[:w.n], make([]byte, k)...)
	w.buf = nb[:cap(nb)]
}

// Align appends zero bytes until the stub length is a multiple of n
// (n must be a power of two).
func (w *Writer) Align(n int) {
	if pad := -(w.n - w.base) & (n - 1); pad != 0 {
		clear(w.reserve(pad))
	}
}

// Uint8 appends v.
func (w *Writer) Uint8(v uint8) { w.reserve(1)[0] = v }

// Uint16 aligns to 2 and appends v.
func (w *Writer) Uint16(v uint16) {
	w.Align(2)
	binary.LittleEndian.PutUint16(w.reserve(2), v)
}

// Uint32 aligns to 4 and appends v.
func (w *Writer) Uint32(v uint32) {
	pad := -(w.n - w.base) & 3
	b := w.reserve(pad + 4)
	for i := range pad {
		b[i] = 0
	}
	binary.LittleEndian.PutUint32(b[pad:], v)
}

// Referent returns the next referent ID of w's sequence without writing
// anything.
func (w *Writer) Referent() uint32 {
	base := w.refBase
	if base == 0 {
		base = DefaultReferentBase
	}
	id := base + 4*w.refs
	w.refs++
	return id
}

// Pointer writes a unique or full pointer: a fresh referent ID when
// present is true, 0 (NULL) otherwise. It returns the value written. The
// caller writes the pointee afterwards, in place for a top-level pointer
// or deferred for an embedded one.
func (w *Writer) Pointer(present bool) uint32 {
	var id uint32
	if present {
		id = w.Referent()
	}
	w.Uint32(id)
	return id
}

// String writes s as a conformant-varying UTF-16LE string ([string]
// wchar_t*): max_count, offset 0, actual_count (both counts include the
// terminating NUL), then the code units and the NUL. Like any NDR item
// it leaves padding to the next item, which aligns itself; when that is
// a 4-aligned item (as everything after a string is in the session
// structures) the string and its padding take exactly StringSize(s)
// bytes.
//
// s is UTF-8; characters outside the BMP become surrogate pairs and
// invalid UTF-8 bytes become U+FFFD, each counted as in StringUnits. s
// should not contain U+0000: a receiver would see the text before it
// only.
func (w *Writer) String(s string) {
	w.Align(4)
	start := w.n
	// Optimistically assume ASCII, the common case: one pass that copies
	// and checks at once. Only when the room is there already, so that a
	// non-ASCII string never grows a buffer pre-sized with StringSize.
	if ascii := 12 + 2*(len(s)+1); len(w.buf)-w.n >= ascii {
		b := w.reserve(ascii)
		if putASCII(b[12:], s) {
			putStringHeader(b, uint32(len(s)+1))
			return
		}
		w.n = start
	}
	units := StringUnits(s)
	b := w.reserve(12 + 2*(units+1))
	putStringHeader(b, uint32(units+1))
	putUTF16(b[12:], s)
}

func putStringHeader(b []byte, n uint32) {
	binary.LittleEndian.PutUint64(b[0:], uint64(n)) // max_count, offset 0
	binary.LittleEndian.PutUint32(b[8:], n)
}

// putASCII writes s as UTF-16LE followed by a NUL into dst, which has
// room for exactly that, and reports whether s was all ASCII (if not,
// dst holds garbage). Eight characters at a time are widened by spreading
// their bits, with no per-byte branch; the last eight (or, for four to
// seven, the first and last four) are loaded where they end, overlapping
// what was written before with the same values, so names of common
// lengths take no loop over single characters.
func putASCII(dst []byte, s string) bool {
	n := len(s)
	dst = dst[:2*n+2]
	var or uint64
	switch {
	case n >= 8:
		for i := 0; i+8 < n; i += 8 {
			x := load8(s, i)
			or |= x
			binary.LittleEndian.PutUint64(dst[2*i:], widen4(uint32(x)))
			binary.LittleEndian.PutUint64(dst[2*i+8:], widen4(uint32(x>>32)))
		}
		x := load8(s, n-8)
		or |= x
		binary.LittleEndian.PutUint64(dst[2*n-16:], widen4(uint32(x)))
		binary.LittleEndian.PutUint64(dst[2*n-8:], widen4(uint32(x>>32)))
	case n >= 4:
		x, y := load4(s, 0), load4(s, n-4)
		or = uint64(x | y)
		binary.LittleEndian.PutUint64(dst[0:], widen4(x))
		binary.LittleEndian.PutUint64(dst[2*n-8:], widen4(y))
	default:
		for i := range n {
			c := s[i]
			or |= uint64(c)
			dst[2*i] = c
			dst[2*i+1] = 0
		}
	}
	dst[2*n] = 0
	dst[2*n+1] = 0
	return or&0x8080808080808080 == 0
}

// load8 returns the eight bytes of s at i, the first the lowest.
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// load4 returns the four bytes of s at i, the first the lowest.
func load4(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// widen4 spreads the four bytes of x into the low bytes of four 16-bit
// units.
func widen4(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	return (v | v<<8) & 0x00FF00FF00FF00FF
}

// PutString writes s into b as String does, its padding to a multiple
// of 4 included (zeroed), and returns the octets written: StringSize(s).
// b must have room for that many; an encoder that has summed StringSize
// over its strings writes each in place with no bounds bookkeeping of a
// Writer.
func PutString(b []byte, s string) int {
	if size := StringSizeUnits(len(s)); len(b) >= size && putASCII(b[12:], s) {
		putStringHeader(b, uint32(len(s)+1))
		if size > 14+2*len(s) {
			// The padding: one unit, as 2*(len(s)+1) is even.
			b[size-2], b[size-1] = 0, 0
		}
		return size
	}
	units := StringUnits(s)
	size := StringSizeUnits(units)
	putStringHeader(b, uint32(units+1))
	p := putUTF16(b[12:size], s)
	clear(p)
	return size
}

// putUTF16 writes s as UTF-16LE and a NUL at the start of p and returns
// the rest of p.
func putUTF16(p []byte, s string) []byte {
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			binary.LittleEndian.PutUint16(p, 0xD800+uint16(r>>10))
			binary.LittleEndian.PutUint16(p[2:], 0xDC00+uint16(r&0x3FF))
			p = p[4:]
			continue
		}
		binary.LittleEndian.PutUint16(p, uint16(r))
		p = p[2:]
	}
	p[0], p[1] = 0, 0
	return p[2:]
}

// UniqueString writes a top-level [unique, string] pointer: NULL when s is
// nil, else a referent ID followed at once by the string.
func (w *Writer) UniqueString(s *string) {
	if w.Pointer(s != nil) != 0 {
		w.String(*s)
	}
}

// StringUnits returns the number of UTF-16 code units s encodes to,
// without the terminating NUL: one per character of the Basic
// Multilingual Plane, two (a surrogate pair) per character beyond it, and
// one per invalid UTF-8 byte, which is sent as U+FFFD. It is the one
// implementation of this count: encoders size strings with it, and the
// srvs codec's entry sizes, by which the session table pages, build on
// StringSize.
func StringUnits(s string) int {
	// Names are nearly always ASCII: skip 8 bytes at a time while no byte
	// has its high bit set, then count the rest one character at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if s[i]|s[i+1]|s[i+2]|s[i+3]|s[i+4]|s[i+5]|s[i+6]|s[i+7] >= utf8.RuneSelf {
			break
		}
	}
	n := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			n += 2
		} else {
			n++ // RuneError (an invalid byte) is U+FFFD: one unit
		}
	}
	return n
}

// StringSize returns the number of bytes s takes on the wire when it
// starts 4-aligned and is followed by a 4-aligned item: the 12-byte header
// plus 2 bytes per code unit including the NUL, rounded up to a multiple
// of 4 for the padding. This is the figure encoders add up to pre-size
// their buffers.
func StringSize(s string) int {
	return StringSizeUnits(StringUnits(s))
}

// StringSizeUnits is StringSize for a string of the given number of code
// units (without the NUL).
func StringSizeUnits(units int) int {
	return 12 + (2*(units+1)+3)&^3
}
