package ndr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriterStringBytes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "01000000 00000000 01000000 0000 0000"},
		{"server name", `\\FS`, "05000000 00000000 05000000 5c005c0046005300 0000 0000"},
		{"even units with NUL", "bob", "04000000 00000000 04000000 62006f006200 0000"},
		{"non-BMP", "a\U0001F600", "04000000 00000000 04000000 6100 3dd8 00de 0000"},
		{"latin1", "é", "02000000 00000000 02000000 e900 0000"},
		{"invalid UTF-8 byte", "\xff", "02000000 00000000 02000000 fdff 0000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter(nil)
			w.String(tc.in)
			w.Uint32(0xffffffff) // shows the padding before a 4-aligned item
			want := append(unhex(t, tc.want), 0xff, 0xff, 0xff, 0xff)
			if !bytes.Equal(w.Bytes(), want) {
				t.Fatalf("String(%q) = %x, want %x", tc.in, w.Bytes(), want)
			}
			if got := StringSize(tc.in); got != len(want)-4 {
				t.Errorf("StringSize(%q) = %d, want %d", tc.in, got, len(want))
			}
		})
	}
}

func TestWriterAlignmentRelativeToBase(t *testing.T) {
	// A 3-byte prefix (think: a header) must not shift the stub's alignment.
	w := NewWriter([]byte{0xee, 0xee, 0xee})
	w.Uint8(1)
	w.Uint32(0x11223344)
	w.Uint16(0x5566)
	w.Uint32(7)
	want := unhex(t, "eeeeee 01000000 44332211 6655 0000 07000000")
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("got %x, want %x", w.Bytes(), want)
	}
	if w.Len() != len(want)-3 {
		t.Errorf("Len = %d, want %d", w.Len(), len(want)-3)
	}
}

func TestWriterReferents(t *testing.T) {
	var w Writer
	ids := []uint32{w.Pointer(true), w.Pointer(false), w.Pointer(true)}
	if ids[0] != 0x00020000 || ids[1] != 0 || ids[2] != 0x00020004 {
		t.Fatalf("ids = %#x", ids)
	}
	w.SetReferentBase(0x100)
	if id := w.Referent(); id != 0x100 {
		t.Fatalf("after SetReferentBase: %#x", id)
	}
	if id := w.Referent(); id != 0x104 {
		t.Fatalf("second: %#x", id)
	}
	w.Reset(nil)
	if id := w.Referent(); id != 0x100 {
		t.Fatalf("Reset keeps the base and restarts: %#x", id)
	}
}

func TestWriterStringNoAllocWhenPresized(t *testing.T) {
	s := `\Device\NetbiosSmb`
	buf := make([]byte, 0, 4*StringSize(s))
	allocs := testing.AllocsPerRun(100, func() {
		w := Writer{}
		w.Reset(buf[:0])
		for range 4 {
			w.String(s)
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v, want 0", allocs)
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "ab", "abc", `\\10.0.0.5`, "Grüße", "日本語", "x\U0010FFFFy", strings.Repeat("z", 1025)} {
		w := NewWriter(nil)
		w.String(s)
		w.Uint32(0xdeadbeef)
		r := NewReader(w.Bytes())
		got, err := r.String()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
		v, err := r.Uint32()
		if err != nil || v != 0xdeadbeef {
			t.Fatalf("%q: trailing value %#x, %v", s, v, err)
		}
		if r.Remaining() != 0 {
			t.Fatalf("%q: %d bytes left", s, r.Remaining())
		}
	}
}

func TestStringDecodeRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"ok", "04000000 00000000 04000000 62006f006200 0000", "bob", nil},
		{"max above actual is legal", "10000000 00000000 04000000 62006f006200 0000", "bob", nil},
		{"offset not zero", "04000000 01000000 04000000 62006f006200 0000", "", ErrOffset},
		{"actual above max", "03000000 00000000 04000000 62006f006200 0000", "", ErrCount},
		{"actual zero", "00000000 00000000 00000000", "", ErrUnterminated},
		{"no terminator", "03000000 00000000 03000000 62006f006200", "", ErrUnterminated},
		{"huge counts", "ffffffff 00000000 ffffffff 6200 0000", "", ErrShort},
		{"huge max, small actual", "ffffffff 00000000 01000000 0000", "", nil},
		{"odd length", "02000000 00000000 02000000 6200 00", "", ErrShort},
		{"embedded NUL ends the value", "04000000 00000000 04000000 6100 0000 6200 0000", "a", nil},
		{"unpaired high surrogate", "03000000 00000000 03000000 00d8 6100 0000", "\uFFFDa", nil},
		{"unpaired low surrogate", "02000000 00000000 02000000 00dc 0000", "\uFFFD", nil},
		{"surrogate pair", "03000000 00000000 03000000 3dd8 00de 0000", "\U0001F600", nil},
		{"short header", "04000000 00000000", "", ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.in)
			got, err := NewReader(b).String()
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err %T is not *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if err := NewReader(b).SkipString(); err != nil {
				t.Fatalf("SkipString: %v", err)
			}
		})
	}
}

func TestReaderTruncatedEverywhere(t *testing.T) {
	w := NewWriter(nil)
	w.Uint32(1)
	w.UniqueString(new(`\\host`))
	w.Uint16(2)
	w.Uint32(3)
	full := w.Bytes()
	read := func(b []byte) error {
		r := NewReader(b)
		if _, err := r.Uint32(); err != nil {
			return err
		}
		if _, err := r.UniqueString("name"); err != nil {
			return err
		}
		if _, err := r.Uint16(); err != nil {
			return err
		}
		_, err := r.Uint32()
		return err
	}
	if err := read(full); err != nil {
		t.Fatalf("full: %v", err)
	}
	for n := range len(full) {
		err := read(full[:n])
		if !errors.Is(err, ErrShort) {
			t.Fatalf("truncated to %d: err = %v, want ErrShort", n, err)
		}
	}
}

func TestCheckCount(t *testing.T) {
	r := NewReader(make([]byte, 16))
	if err := r.CheckCount("a", 4, 4); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckCount("a", 5, 4); !errors.Is(err, ErrCount) {
		t.Fatalf("5*4 in 16: %v", err)
	}
	if err := r.CheckCount("a", 0xffffffff, 32); !errors.Is(err, ErrCount) {
		t.Fatalf("huge: %v", err)
	}
	b := unhex(t, "ffffffff")
	if _, err := NewReader(b).MaxCount("array", 4); !errors.Is(err, ErrCount) {
		t.Fatalf("MaxCount huge: %v", err)
	}
	b = unhex(t, "02000000 11111111 22222222")
	if n, err := NewReader(b).MaxCount("array", 4); err != nil || n != 2 {
		t.Fatalf("MaxCount = %d, %v", n, err)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := NewReader([]byte{1, 2}).Uint32As("EntriesRead")
	var e *Error
	if !errors.As(err, &e) || e.Offset != 0 || e.What != "EntriesRead" {
		t.Fatalf("err = %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "EntriesRead") || !strings.Contains(msg, "offset 0") {
		t.Fatalf("message %q", msg)
	}
}

func TestStringUnits(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 1, "日本": 2, "\U0001F600": 2, "\xff\xfe": 2} {
		if got := StringUnits(s); got != want {
			t.Errorf("StringUnits(%q) = %d, want %d", s, got, want)
		}
	}
}

// FuzzReaderString checks that String never panics, that SkipString agrees
// with it, and that an accepted value re-encodes and decodes to itself.
func FuzzReaderString(f *testing.F) {
	f.Add(unhex(f, "04000000 00000000 04000000 62006f006200 0000"))
	f.Add(unhex(f, "01000000 00000000 01000000 0000 0000"))
	f.Add(unhex(f, "03000000 00000000 03000000 3dd8 00de 0000"))
	f.Add(unhex(f, "03000000 00000000 03000000 00d8 6100 0000"))
	f.Add(unhex(f, "ffffffff 00000000 ffffffff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		s, err := r.String()
		skipErr := NewReader(b).SkipString()
		if (err == nil) != (skipErr == nil) {
			t.Fatalf("String err %v, SkipString err %v", err, skipErr)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		if s2, err := NewReader(b).AppendString([]byte("p")); err != nil || string(s2) != "p"+s {
			t.Fatalf("AppendString %q, %v; String %q", s2, err, s)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		if r.Offset() > len(b) {
			t.Fatalf("offset %d beyond %d", r.Offset(), len(b))
		}
		w := NewWriter(nil)
		w.String(s)
		w.Align(4)
		if len(w.Bytes()) != StringSize(s) {
			t.Fatalf("size %d, StringSize %d", len(w.Bytes()), StringSize(s))
		}
		s2, err := NewReader(w.Bytes()).String()
		if err != nil || s2 != s {
			t.Fatalf("re-decode %q -> %q, %v", s, s2, err)
		}
	})
}

func TestWriterPresizedNonASCII(t *testing.T) {
	// Exactly sized for two non-ASCII strings and a trailing uint32: the
	// optimistic ASCII path must not grow the buffer.
	a, b := "日本語", "Grüße\U0001F600"
	size := StringSize(a) + StringSize(b) + 4
	buf := make([]byte, 0, size)
	w := NewWriter(buf)
	w.String(a)
	w.String(b)
	w.Uint32(1)
	if len(w.Bytes()) != size || &w.Bytes()[0] != &buf[:1][0] {
		t.Fatalf("len %d (want %d), reallocated %v", len(w.Bytes()), size, &w.Bytes()[0] != &buf[:1][0])
	}
	r := NewReader(w.Bytes())
	if s, err := r.String(); err != nil || s != a {
		t.Fatalf("%q %v", s, err)
	}
	if s, err := r.String(); err != nil || s != b {
		t.Fatalf("%q %v", s, err)
	}
}

func TestWriterGrows(t *testing.T) {
	w := NewWriter(make([]byte, 0, 1))
	var want []byte
	for i := range 100 {
		w.Uint32(uint32(i))
		want = append(want, byte(i), 0, 0, 0)
		w.String("x")
		want = append(want, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'x', 0, 0, 0)
	}
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("got %x", w.Bytes())
	}
}

func TestAppendString(t *testing.T) {
	w := NewWriter(nil)
	in := []string{"alpha", "", "日本", "b😀"}
	for _, s := range in {
		w.String(s)
	}
	r := NewReader(w.Bytes())
	buf := []byte("x")
	var err error
	for range in {
		if buf, err = r.AppendString(buf); err != nil {
			t.Fatal(err)
		}
	}
	if want := "x" + strings.Join(in, ""); string(buf) != want {
		t.Fatalf("got %q, want %q", buf, want)
	}
	if _, err := NewReader([]byte{1}).AppendString(nil); !errors.Is(err, ErrShort) {
		t.Fatalf("short: %v", err)
	}
}

// FuzzReaderOps runs a sequence of reads chosen by the input's first bytes
// over the rest: no read may panic, move backwards, pass the end, or fail
// with anything but an *Error.
func FuzzReaderOps(f *testing.F) {
	f.Add([]byte{2, 3, 7, 0xff}, unhex(f, "01000000 04000000 00000000 04000000 62006f006200 0000 00000200 01000000 00000000 01000000 0000"))
	f.Add([]byte{4, 2, 2, 1, 0, 5, 6}, unhex(f, "02000000 11111111 22222222 3333 44 00"))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		r := NewReader(data)
		for _, op := range ops {
			before := r.Offset()
			var err error
			switch op % 8 {
			case 0:
				_, err = r.Uint8()
			case 1:
				_, err = r.Uint16()
			case 2:
				_, err = r.Uint32()
			case 3:
				_, err = r.String()
			case 4:
				_, err = r.MaxCount("count", 4)
			case 5:
				err = r.Align(4)
			case 6:
				err = r.SkipString()
			case 7:
				_, err = r.UniqueString("ptr")
			}
			if r.Offset() < before || r.Offset() > len(data) || r.Remaining() < 0 {
				t.Fatalf("op %d: offset %d -> %d of %d", op%8, before, r.Offset(), len(data))
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("op %d: error %T", op%8, err)
				}
				return
			}
		}
	})
}
