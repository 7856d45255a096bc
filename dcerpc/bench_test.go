package dcerpc

import (
	"testing"
)

// BenchmarkCallRoundTrip is one small request and response over net.Pipe.
func BenchmarkCallRoundTrip(b *testing.B) {
	cl := boundClient(b, newTestServer(b))
	ctx := testCtx(b)
	stub := pattern(64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cl.Call(ctx, 0, stub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponse5MB fragments a 5 MB response into 5840-octet fragments
// and reassembles it on the client.
func BenchmarkResponse5MB(b *testing.B) {
	const size = 5 << 20
	s := newTestServer(b)
	s.Limits.MaxXmitFrag = 5840
	cl := boundClientWith(b, s, ClientConfig{MaxResponseSize: 8 << 20})
	ctx := testCtx(b)
	req := le32(size)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		out, err := cl.Call(ctx, 1, req)
		if err != nil || len(out) != size {
			b.Fatal(len(out), err)
		}
	}
}

// BenchmarkRequest5MB fragments a 5 MB request and reassembles it on the
// server.
func BenchmarkRequest5MB(b *testing.B) {
	const size = 5 << 20
	s := newTestServer(b)
	s.Limits.MaxReassembledSize = 8 << 20
	cl := boundClient(b, s)
	ctx := testCtx(b)
	in := pattern(size)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cl.Call(ctx, 2, in); err == nil {
			b.Fatal("expected the bad-stub fault")
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	raw := readHex(b, "impacket-request-opnum12.hex")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePDU(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalResponseFragment(b *testing.B) {
	r := &Response{Header: Header{Flags: 3, CallID: 1}, AllocHint: 4256, Stub: pattern(4256)}
	buf := make([]byte, r.Size())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.MarshalTo(buf); err != nil {
			b.Fatal(err)
		}
	}
}
