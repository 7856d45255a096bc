package srvs

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsession/netsession/ndr"
)

type unmarshaler interface{ UnmarshalNDR([]byte) error }

// decoderFor picks the decoder for a testdata file by its name.
func decoderFor(name string) func() unmarshaler {
	base := filepath.Base(name)
	isResp := strings.Contains(base, "response")
	switch {
	case strings.HasPrefix(base, "sessdel") || strings.HasPrefix(base, "del-"):
		if isResp {
			return func() unmarshaler { return new(SessionDelResponse) }
		}
		return func() unmarshaler { return new(SessionDelRequest) }
	case isResp:
		return func() unmarshaler { return new(SessionEnumResponse) }
	default:
		return func() unmarshaler { return new(SessionEnumRequest) }
	}
}

func allStubFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{sambaDir, "handbuilt"} {
		ents, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".hex") {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(files) < 55 {
		t.Fatalf("only %d stub files", len(files))
	}
	return files
}

// TestTruncatedEverywhere cuts every stub at every length: each prefix
// must fail with an *ndr.Error, never panic or succeed.
func TestTruncatedEverywhere(t *testing.T) {
	for _, f := range allStubFiles(t) {
		b := readHex(t, f)
		newDec := decoderFor(f)
		if err := newDec().UnmarshalNDR(b); err != nil {
			t.Fatalf("%s: full stub: %v", f, err)
		}
		for n := range len(b) {
			err := newDec().UnmarshalNDR(b[:n])
			var e *ndr.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s cut to %d bytes: err = %v, want *ndr.Error", f, n, err)
			}
			if !errors.Is(err, ndr.ErrShort) && !errors.Is(err, ndr.ErrCount) {
				t.Fatalf("%s cut to %d bytes: err = %v, want ErrShort or ErrCount", f, n, err)
			}
		}
	}
}

func put32(b []byte, off int, v uint32) []byte {
	b = append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

func TestMalformed(t *testing.T) {
	resp := readHex(t, "handbuilt/enum-response-level1.hex") // §4.2 layout
	req := readHex(t, "handbuilt/enum-request-level1.hex")   // §4.1 layout
	del := readHex(t, "handbuilt/del-request.hex")           // §4.5 layout

	// A level-1 request whose container holds one entry (the §4.2
	// response's InfoStruct, cut to its first element), built by hand.
	withEntry := unhex(t, `00000000 00000000 00000000
		01000000 01000000 00000200 01000000 04000200 01000000
		08000200 00000000 00000000 00000000 00000000 00000000
		04000000 00000000 04000000 62006f00 62000000
		ffffffff 00000000`)

	tests := []struct {
		name string
		in   []byte
		dec  unmarshaler
		want error // nil: must decode
	}{
		{"response ok", resp, new(SessionEnumResponse), nil},
		{"response tag != level", put32(resp, 0x04, 2), new(SessionEnumResponse), ndr.ErrMismatch},
		{"response EntriesRead != max_count", put32(resp, 0x0c, 3), new(SessionEnumResponse), ndr.ErrMismatch},
		{"response max_count != EntriesRead", put32(resp, 0x14, 1), new(SessionEnumResponse), ndr.ErrMismatch},
		{"response huge counts", put32(put32(resp, 0x0c, 0xffffffff), 0x14, 0xffffffff), new(SessionEnumResponse), ndr.ErrCount},
		{"response counts just too big", put32(put32(resp, 0x0c, 8), 0x14, 8), new(SessionEnumResponse), ndr.ErrCount},
		{"response NULL Buffer with EntriesRead 2", put32(resp, 0x10, 0), new(SessionEnumResponse), ndr.ErrMismatch},
		{"response string actual > max", put32(resp, 0x50, 12), new(SessionEnumResponse), ndr.ErrCount},
		{"response string offset != 0", put32(resp, 0x4c, 1), new(SessionEnumResponse), ndr.ErrOffset},
		{"response string huge", put32(put32(resp, 0x48, 0x7fffffff), 0x50, 0x7fffffff), new(SessionEnumResponse), ndr.ErrShort},
		{"response string unterminated", put32(resp, 0x54+20, 0x00780078), new(SessionEnumResponse), ndr.ErrUnterminated},
		{"response string actual 0", put32(put32(resp, 0x48, 0), 0x50, 0), new(SessionEnumResponse), ndr.ErrUnterminated},

		{"request ok", req, new(SessionEnumRequest), nil},
		{"request tag != level", put32(req, 0x28, 2), new(SessionEnumRequest), ndr.ErrMismatch},
		{"request ServerName actual > max", put32(req, 0x0c, 6), new(SessionEnumRequest), ndr.ErrCount},
		{"request ServerName offset != 0", put32(req, 0x08, 2), new(SessionEnumRequest), ndr.ErrOffset},
		{"request ServerName unterminated", put32(req, 0x18, 0x00000053), new(SessionEnumRequest), ndr.ErrUnterminated},
		{"request NULL Buffer with EntriesRead 5", put32(req, 0x30, 5), new(SessionEnumRequest), nil},
		{"request entry ok", withEntry, new(SessionEnumRequest), nil},
		{"request entry max_count != EntriesRead", put32(withEntry, 0x20, 2), new(SessionEnumRequest), ndr.ErrMismatch},
		{"request entry huge counts", put32(put32(withEntry, 0x18, 0xffffffff), 0x20, 0xffffffff), new(SessionEnumRequest), ndr.ErrCount},
		{"request entry bad string", put32(withEntry, 0x40, 1), new(SessionEnumRequest), ndr.ErrOffset},

		{"del ok", del, new(SessionDelRequest), nil},
		{"del string offset != 0", put32(del, 0x0c, 1), new(SessionDelRequest), ndr.ErrOffset},
		{"del string huge", put32(put32(del, 0x08, 0xffffffff), 0x10, 0xffffffff), new(SessionDelRequest), ndr.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dec.UnmarshalNDR(tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var e *ndr.Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not *ndr.Error", err)
			}
		})
	}
}

// A NULL string pointer inside an entry is legal: the strings that follow
// are those of the non-NULL pointers only, and the NULL one decodes as "".
func TestResponseNullEntryString(t *testing.T) {
	stub := unhex(t, `0a000000 0a000000 00000200 01000000 04000200 01000000
		00000000 08000200 05000000 06000000
		04000000 00000000 04000000 62006f00 62000000
		01000000 00000000 00000000`)
	var p SessionEnumResponse
	if err := p.UnmarshalNDR(stub); err != nil {
		t.Fatal(err)
	}
	want := SessionInfo{UserName: "bob", Time: 5, IdleTime: 6}
	if len(p.Entries) != 1 || p.Entries[0] != want || p.TotalEntries != 1 {
		t.Fatalf("got %+v", p)
	}
}
