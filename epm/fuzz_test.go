package epm

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"github.com/netsession/netsession/dcerpc"
)

// FuzzDecodeFloors checks that the tower decoder never panics and that
// whatever it accepts re-encodes to the same octets.
func FuzzDecodeFloors(f *testing.F) {
	good, _ := hex.DecodeString(wantTower)
	f.Add(good)
	var req MapRequest
	if err := req.UnmarshalNDR(readHex(f, "impacket-ept-map-request.hex")); err == nil {
		f.Add(req.Tower)
	}
	f.Add([]byte{0, 0})
	f.Add([]byte{1, 0, 1, 0, 0x0b, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		floors, err := DecodeFloors(b)
		if err != nil {
			return
		}
		if got := AppendFloors(nil, floors); !bytes.Equal(got, b) {
			t.Fatalf("re-encode %x of %x", got, b)
		}
		if tw, err := tcpTowerFromFloors(floors); err == nil {
			if _, err := ParseTCPTower(tw.Marshal()); err != nil {
				t.Fatalf("own tower refused: %v", err)
			}
		}
	})
}

// FuzzMapRequest feeds arbitrary ept_map stubs to the handler: it answers
// or refuses with bad stub data, never panics, and every answer decodes.
func FuzzMapRequest(f *testing.F) {
	f.Add(readHex(f, "impacket-ept-map-request.hex"))
	f.Add(readHex(f, "rpcclient-ept-map-request.hex"))
	obj := dcerpc.UUID{}
	f.Add((&MapRequest{Object: &obj, Tower: TCPTower{Interface: srvsvc, Transfer: dcerpc.NDR20}.Marshal(), MaxTowers: 4}).MarshalNDR())
	h := &Handler{Endpoints: []Endpoint{{Interface: srvsvc, Port: 1}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptMap, Stub: b})
		if err != nil {
			return
		}
		var resp MapResponse
		if err := resp.UnmarshalNDR(out); err != nil {
			t.Fatalf("own answer %x does not decode: %v", out, err)
		}
	})
}

// FuzzMapResponse checks the client-side decoder of ept_map answers.
func FuzzMapResponse(f *testing.F) {
	good, _ := hex.DecodeString(wantTower)
	f.Add((&MapResponse{MaxTowers: 4, Towers: [][]byte{good}}).MarshalNDR())
	f.Add((&MapResponse{MaxTowers: 1, Status: StatusNotRegistered}).MarshalNDR())
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp MapResponse
		if err := resp.UnmarshalNDR(b); err != nil {
			return
		}
		if !bytes.Equal(resp.MarshalNDR(), b) && len(resp.Towers) == int(resp.MaxTowers) {
			// Padding octets and NULL tower pointers may differ; the
			// decoded value must at least survive a second round.
			var again MapResponse
			if err := again.UnmarshalNDR(resp.MarshalNDR()); err != nil {
				t.Fatalf("re-encoded answer refused: %v", err)
			}
		}
	})
}

// FuzzLookupRequest feeds arbitrary ept_lookup stubs to the handler.
func FuzzLookupRequest(f *testing.F) {
	f.Add(readHex(f, "rpcclient-ept-lookup-request.hex"))
	h := &Handler{Endpoints: []Endpoint{{Interface: srvsvc, Port: 1, Annotation: "x"}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var q LookupRequest
		qerr := q.UnmarshalNDR(b)
		out, err := h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptLookup, Stub: b})
		if (err == nil) != (qerr == nil) {
			t.Fatalf("decoder %v, handler %v", qerr, err)
		}
		if err == nil && len(out) < 40 {
			t.Fatalf("short answer %x", out)
		}
	})
}
