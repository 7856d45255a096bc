package srvs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netsession/netsession/ndr"
)

// seed adds every testdata stub whose name matches one of the filters.
func seed(f *testing.F, match func(name string) bool) {
	n := 0
	for _, file := range allStubFiles(f) {
		if match(file) {
			f.Add(readHex(f, file))
			n++
		}
	}
	if n == 0 {
		f.Fatal("no seeds")
	}
}

func isEnumRequest(name string) bool {
	return strings.HasSuffix(name, "-request.hex") && !strings.Contains(name, "sessdel") && !strings.Contains(name, "del-")
}

func isEnumResponse(name string) bool {
	return strings.Contains(name, "response") && !strings.Contains(name, "sessdel") && !strings.Contains(name, "del-")
}

func isDelRequest(name string) bool {
	return strings.HasSuffix(name, "-request.hex") && (strings.Contains(name, "sessdel") || strings.Contains(name, "del-"))
}

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	var e *ndr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *ndr.Error", err, err)
	}
}

// stub is a decoded NetrSession* stub type T, through its pointer.
type stub[T any] interface {
	*T
	UnmarshalNDR([]byte) error
	Size() int
}

// roundTrip checks one fuzz input: decoding never panics and fails only
// with an *ndr.Error; whatever decodes encodes (with the exact Size) and
// decodes to the same value.
func roundTrip[T any, P stub[T]](t *testing.T, b []byte, marshal func(P) ([]byte, error)) {
	var v T
	if err := P(&v).UnmarshalNDR(b); err != nil {
		checkDecodeErr(t, err)
		return
	}
	enc, err := marshal(&v)
	if err != nil {
		t.Fatalf("a decoded stub does not encode: %v", err)
	}
	if len(enc) != P(&v).Size() {
		t.Fatalf("Size %d, encoded %d", P(&v).Size(), len(enc))
	}
	var v2 T
	if err := P(&v2).UnmarshalNDR(enc); err != nil {
		t.Fatalf("re-decode: %v\n%x", err, enc)
	}
	if diff := cmp.Diff(v, v2); diff != "" {
		t.Fatalf("round trip (-first +second):\n%s", diff)
	}
}

func FuzzDecodeSessionEnumRequest(f *testing.F) {
	seed(f, isEnumRequest)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, func(q *SessionEnumRequest) ([]byte, error) { return q.MarshalNDR(), nil })
	})
}

func FuzzDecodeSessionEnumResponse(f *testing.F) {
	seed(f, isEnumResponse)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, (*SessionEnumResponse).MarshalNDR)
	})
}

func FuzzDecodeSessionDelRequest(f *testing.F) {
	seed(f, isDelRequest)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, func(q *SessionDelRequest) ([]byte, error) { return q.MarshalNDR(), nil })
	})
}

// FuzzDecodeSessionDelResponse: the 4-byte status.
func FuzzDecodeSessionDelResponse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{8, 9, 0, 0})
	f.Add([]byte{5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p SessionDelResponse
		if err := p.UnmarshalNDR(b); err != nil {
			checkDecodeErr(t, err)
			if len(b) >= 4 {
				t.Fatalf("%d bytes rejected: %v", len(b), err)
			}
			return
		}
		if enc := p.MarshalNDR(); string(enc) != string(b[:4]) {
			t.Fatalf("re-encode %x, want %x", enc, b[:4])
		}
	})
}
