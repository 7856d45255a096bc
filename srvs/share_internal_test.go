package srvs

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A NetrShareEnum level 1 response as Windows lays it out: container,
// count, array pointer, conformant array of fixed parts, then the strings
// in element order.
const shareEnum1Hex = `01000000 01000000 00000200 01000000 04000200 01000000
08000200 03000080 0c000200
05000000 00000000 05000000 49005000 43002400 0000 0000
0b000000 00000000 0b000000 52006500 6d006f00 74006500 20004900 50004300 0000 0000
01000000 10000200 01000000 00000000`

func TestShareEnumResponseGolden(t *testing.T) {
	one := uint32(1)
	resp := ShareEnumResponse{Level: 1, Shares: DefaultShares(), TotalEntries: 1, ResumeHandle: &one}
	got := resp.MarshalNDR()
	want := unhex(t, shareEnum1Hex)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
	var back ShareEnumResponse
	if err := back.UnmarshalNDR(got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resp, back); diff != "" {
		t.Error(diff)
	}
}

func TestShareEnumRequestRoundTrip(t *testing.T) {
	name := `\\127.0.0.1`
	r := uint32(0)
	for _, q := range []ShareEnumRequest{
		{ServerName: &name, Level: 1, PrefMaxLen: 0xffffffff, ResumeHandle: &r},
		{Level: 0, PrefMaxLen: 16, NoContainer: true},
		{Level: 2, PrefMaxLen: 16},
		{Level: 7, PrefMaxLen: 16},
	} {
		var back ShareEnumRequest
		if err := back.UnmarshalNDR(q.MarshalNDR()); err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if diff := cmp.Diff(q, back); diff != "" {
			t.Error(diff)
		}
	}
}

func TestServerGetInfoRoundTrip(t *testing.T) {
	i := DefaultServerInfo("FS1")
	i.Comment = "c"
	for _, p := range []ServerGetInfoResponse{
		{Level: 100, Info: &ServerInfo{PlatformID: 500, Name: "FS1"}},
		{Level: 101, Info: &i},
		{Level: 102, Status: 0x7c},
	} {
		var back ServerGetInfoResponse
		if err := back.UnmarshalNDR(p.MarshalNDR()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, back); diff != "" {
			t.Error(diff)
		}
	}
}

func FuzzShareEnumRequest(f *testing.F) {
	name := "x"
	r := uint32(3)
	f.Add((&ShareEnumRequest{ServerName: &name, Level: 1, ResumeHandle: &r}).MarshalNDR())
	f.Add((&ShareEnumRequest{Level: 0}).MarshalNDR())
	f.Fuzz(func(t *testing.T, b []byte) {
		var q ShareEnumRequest
		if q.UnmarshalNDR(b) != nil {
			return
		}
		var back ShareEnumRequest
		if err := back.UnmarshalNDR(q.MarshalNDR()); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}

func FuzzShareEnumResponse(f *testing.F) {
	f.Add(unhexF(shareEnum1Hex))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p ShareEnumResponse
		if p.UnmarshalNDR(b) != nil {
			return
		}
		var back ShareEnumResponse
		if err := back.UnmarshalNDR(p.MarshalNDR()); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}

func FuzzServerGetInfo(f *testing.F) {
	i := DefaultServerInfo("FS1")
	f.Add((&ServerGetInfoRequest{Level: 101}).MarshalNDR(), (&ServerGetInfoResponse{Level: 101, Info: &i}).MarshalNDR())
	f.Fuzz(func(t *testing.T, req, resp []byte) {
		var q ServerGetInfoRequest
		_ = q.UnmarshalNDR(req)
		var p ServerGetInfoResponse
		if p.UnmarshalNDR(resp) != nil {
			return
		}
		var back ServerGetInfoResponse
		if err := back.UnmarshalNDR(p.MarshalNDR()); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}

func unhexF(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}
