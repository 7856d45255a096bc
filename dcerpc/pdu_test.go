package dcerpc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeCapturedBind(t *testing.T) {
	for _, name := range []string{"impacket-bind.hex", "rpcclient-bind.hex"} {
		t.Run(name, func(t *testing.T) {
			raw := readHex(t, name)
			p, err := DecodePDU(raw)
			if err != nil {
				t.Fatal(err)
			}
			b, ok := p.(*Bind)
			if !ok {
				t.Fatalf("decoded %T", p)
			}
			want := &Bind{
				Header:      Header{Version: 5, Type: PTypeBind, Flags: FlagFirstFrag | FlagLastFrag, DataRep: [4]byte{0x10}, FragLength: 72, CallID: 1},
				MaxXmitFrag: 4280, MaxRecvFrag: 4280,
				Contexts: []ContextElem{{ContextID: 0, AbstractSyntax: srvsvcSyntax, TransferSyntaxes: []SyntaxID{NDR20}}},
			}
			if d := cmp.Diff(want, b); d != "" {
				t.Fatalf("bind (-want +got):\n%s", d)
			}
			again := mustMarshal(t, b)
			if !bytes.Equal(again, raw) {
				t.Fatalf("re-encoded bind differs:\n got % x\nwant % x", again, raw)
			}
		})
	}
}

func TestDecodeCapturedBindAck(t *testing.T) {
	raw := readHex(t, "samba-bind-ack.hex")
	p, err := DecodePDU(raw)
	if err != nil {
		t.Fatal(err)
	}
	a := p.(*BindAck)
	if a.SecondaryAddr != `\pipe\srvsvc` || a.MaxXmitFrag != 4280 || a.MaxRecvFrag != 4280 || a.AssocGroupID != 0x4b70 {
		t.Fatalf("bind_ack fields: %+v", a)
	}
	if d := cmp.Diff([]ContextResultElem{{Result: ResultAcceptance, TransferSyntax: NDR20}}, a.Results); d != "" {
		t.Fatal(d)
	}
	if again := mustMarshal(t, a); !bytes.Equal(again, raw) {
		t.Fatalf("re-encoded bind_ack differs:\n got % x\nwant % x", again, raw)
	}
}

func TestDecodeCapturedRequestsAndResponses(t *testing.T) {
	tests := []struct {
		file      string
		typ       PType
		flags     Flags
		callID    uint32
		allocHint uint32
		opnum     uint16
		stubLen   int
	}{
		{"impacket-request-opnum12.hex", PTypeRequest, 3, 1, 44, 12, 44},
		{"rpcclient-request-opnum12.hex", PTypeRequest, 3, 2, 72, 12, 72},
		{"impacket-request-opnum13.hex", PTypeRequest, 3, 1, 72, 13, 72},
		{"samba-response-frag1.hex", PTypeResponse, 1, 1, 5372, 0, 4256},
		{"samba-response-frag2.hex", PTypeResponse, 2, 1, 1116, 0, 1116},
		{"samba-response-opnum13.hex", PTypeResponse, 3, 1, 4, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readHex(t, tt.file)
			p, err := DecodePDU(raw)
			if err != nil {
				t.Fatal(err)
			}
			h := p.Hdr()
			if h.Type != tt.typ || h.Flags != tt.flags || h.CallID != tt.callID {
				t.Fatalf("header %+v", h)
			}
			var hint uint32
			var stub []byte
			switch q := p.(type) {
			case *Request:
				hint, stub = q.AllocHint, q.Stub
				if q.Opnum != tt.opnum {
					t.Errorf("opnum %d, want %d", q.Opnum, tt.opnum)
				}
			case *Response:
				hint, stub = q.AllocHint, q.Stub
			}
			if hint != tt.allocHint || len(stub) != tt.stubLen {
				t.Errorf("alloc_hint %d stub %d, want %d %d", hint, len(stub), tt.allocHint, tt.stubLen)
			}
			if again := mustMarshal(t, p); !bytes.Equal(again, raw) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
}

// TestRoundTrip encodes every PDU type, with and without a verifier, and
// checks decode(encode(x)) == x, sizes and auth padding.
func TestRoundTrip(t *testing.T) {
	av := func() *AuthVerifier {
		return &AuthVerifier{Type: AuthTypeNTLM, Level: AuthLevelIntegrity, ContextID: 7, Value: []byte("0123456789abcdef")}
	}
	obj := MustParseUUID("00112233-4455-6677-8899-aabbccddeeff")
	pdus := []PDU{
		bindPDU(1, ctxElem(0, srvsvcSyntax, NDR20, NDR64), ctxElem(1, srvsvcSyntax, BindTimeFeatureSyntax(3))),
		&Bind{Header: Header{Type: PTypeAlterContext, Flags: 3, CallID: 2}, MaxXmitFrag: 5840, MaxRecvFrag: 5840,
			AssocGroupID: 9, Contexts: []ContextElem{ctxElem(3, testSyntax, NDR20)}, Auth: av()},
		&BindAck{Header: Header{Flags: 3, CallID: 1}, MaxXmitFrag: 4280, MaxRecvFrag: 4280, AssocGroupID: 5,
			SecondaryAddr: "49152", Results: []ContextResultElem{{Result: ResultAcceptance, TransferSyntax: NDR20},
				{Result: ResultProviderRejection, Reason: ReasonTransferSyntaxesNotSupported}}, Auth: av()},
		&BindAck{Header: Header{Type: PTypeAlterContextResp, Flags: 3, CallID: 4}, MaxXmitFrag: 4280, MaxRecvFrag: 4280,
			Results: []ContextResultElem{{Result: ResultNegotiateAck, Reason: 2}}},
		&BindNak{Header: Header{Flags: 3, CallID: 1}, Reason: NakReasonAuthTypeNotRecognized, Versions: []Version{{5, 0}}},
		&Request{Header: Header{Flags: 3, CallID: 5}, AllocHint: 3, ContextID: 1, Opnum: 12, Stub: []byte{1, 2, 3}},
		&Request{Header: Header{Flags: 3 | FlagObjectUUID, CallID: 5}, AllocHint: 3, Opnum: 1, Object: obj, Stub: []byte{1, 2, 3}, Auth: av()},
		&Response{Header: Header{Flags: 1, CallID: 6}, AllocHint: 100, Stub: pattern(33), Auth: av()},
		&Response{Header: Header{Flags: 2, CallID: 6}, AllocHint: 100, Stub: pattern(32), Auth: av()},
		&FaultPDU{Header: Header{Flags: 3 | FlagDidNotExecute, CallID: 6}, Status: StatusUnknownInterface},
		&Auth3{Header: Header{Flags: 3, CallID: 7}, Auth: av()},
		&Shutdown{Header: Header{Flags: 3}},
		&CoCancel{Header: Header{Flags: 3, CallID: 8}},
		&Orphaned{Header: Header{Flags: 3, CallID: 8}, Auth: av()},
	}
	for _, p := range pdus {
		t.Run(p.ptype().String(), func(t *testing.T) {
			b := mustMarshal(t, p)
			if len(b) != p.Size() || int(p.Hdr().FragLength) != len(b) {
				t.Fatalf("size %d, Size() %d, frag_length %d", len(b), p.Size(), p.Hdr().FragLength)
			}
			if a := p.verifier(); a != nil {
				trailer := len(b) - len(a.Value) - authTrailerLen
				if p.stubPad() {
					if (trailer-HeaderLen-fixedBody(p))%16 != 0 {
						t.Fatalf("stub+pad not a multiple of 16 (trailer at %d)", trailer)
					}
				} else if trailer%4 != 0 {
					t.Fatalf("trailer at %d not 4-aligned", trailer)
				}
			}
			q, err := DecodePDU(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(p, q, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); d != "" {
				t.Fatalf("round trip (-sent +decoded):\n%s", d)
			}
		})
	}
}

func TestMarshalToShortBuffer(t *testing.T) {
	r := &Request{Header: Header{Flags: 3}, Stub: pattern(10)}
	if _, err := r.MarshalTo(make([]byte, r.Size()-1)); err == nil {
		t.Fatal("MarshalTo into a short buffer succeeded")
	}
	big := &Response{Stub: make([]byte, 70000)}
	if _, err := Marshal(big); err == nil {
		t.Fatal("a fragment over 65535 octets encoded")
	}
}

func TestDecodeErrors(t *testing.T) {
	good := readHex(t, "impacket-bind.hex")
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:15]},
		{"version 4", mut(func(b []byte) []byte { b[0] = 4; return b })},
		{"minor 2", mut(func(b []byte) []byte { b[1] = 2; return b })},
		{"big endian", mut(func(b []byte) []byte { b[4] = 0; return b })},
		{"ebcdic", mut(func(b []byte) []byte { b[4] = 0x11; return b })},
		{"vax floats", mut(func(b []byte) []byte { b[5] = 1; return b })},
		{"frag_length 15", mut(func(b []byte) []byte { b[8], b[9] = 15, 0; return b })},
		{"frag_length longer", mut(func(b []byte) []byte { b[8]++; return b })},
		{"frag_length shorter", mut(func(b []byte) []byte { b[8]--; return b[:len(b)-1] })},
		{"auth_length over frag", mut(func(b []byte) []byte { b[10] = 200; return b })},
		{"auth pad over body", func() []byte {
			b := mustMarshal(t, &Auth3{Header: Header{Flags: 3}, Auth: &AuthVerifier{Type: 10, Level: 2, Value: []byte{1}}})
			b[HeaderLen+4+2] = 100
			return b
		}()},
		{"context count lies", mut(func(b []byte) []byte { b[24] = 200; return b })},
		{"transfer count lies", mut(func(b []byte) []byte { b[30] = 9; return b })},
		{"unknown type", mut(func(b []byte) []byte { b[2] = 42; return b })},
		{"request body short", func() []byte {
			b := mustMarshal(t, &Shutdown{Header: Header{Flags: 3}})
			b[2] = byte(PTypeRequest)
			return b
		}()},
		{"auth3 without verifier", func() []byte {
			b := mustMarshal(t, &Shutdown{Header: Header{Flags: 3}})
			b[2] = byte(PTypeAuth3)
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePDU(tt.b)
			if err == nil {
				t.Fatalf("decoded %T without error", p)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestUUID(t *testing.T) {
	u, err := ParseUUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
	if err != nil || u != NDR20.UUID || u.String() != "8a885d04-1ceb-11c9-9fe8-08002b104860" {
		t.Fatalf("%v %v %s", u, err, u)
	}
	var w [16]byte
	u.putWire(w[:])
	if want := []byte{0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}; !bytes.Equal(w[:], want) {
		t.Fatalf("wire % x", w)
	}
	if uuidFromWire(w[:]) != u {
		t.Fatal("wire round trip")
	}
	for _, bad := range []string{"", "8a885d04-1ceb-11c9-9fe8-08002b10486", "8a885d04x1ceb-11c9-9fe8-08002b104860", "zz885d04-1ceb-11c9-9fe8-08002b104860"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) succeeded", bad)
		}
	}
	if f, ok := isBindTimeFeature(BindTimeFeatureSyntax(3)); !ok || f != 3 {
		t.Fatalf("feature syntax: %v %v", f, ok)
	}
	if _, ok := isBindTimeFeature(NDR20); ok {
		t.Fatal("NDR20 taken for a feature syntax")
	}
}

func FuzzDecodePDU(f *testing.F) {
	for _, name := range []string{"impacket-bind.hex", "rpcclient-bind.hex", "samba-bind-ack.hex",
		"impacket-request-opnum12.hex", "impacket-request-opnum13.hex", "samba-response-frag2.hex", "samba-response-opnum13.hex"} {
		f.Add(readHex(f, name))
	}
	av := &AuthVerifier{Type: AuthTypeNTLM, Level: AuthLevelPrivacy, ContextID: 1, Value: pattern(16)}
	f.Add(mustMarshal(f, &Request{Header: Header{Flags: 3 | FlagObjectUUID}, Stub: pattern(5), Auth: av}))
	f.Add(mustMarshal(f, &BindNak{Header: Header{Flags: 3}, Versions: []Version{{5, 0}}}))
	f.Add(mustMarshal(f, &FaultPDU{Header: Header{Flags: 3}, Status: StatusProtoError}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePDU(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Whatever decodes must encode again, to a PDU that decodes to the
		// same value.
		out, err := Marshal(p)
		if err != nil {
			return // e.g. a decoded bind_ack whose secondary address lacks its NUL grows past 65535
		}
		q, err := DecodePDU(out)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", p, err)
		}
		if q.Hdr().Type != p.Hdr().Type || q.Hdr().CallID != p.Hdr().CallID {
			t.Fatalf("re-decoded header %+v, was %+v", q.Hdr(), p.Hdr())
		}
	})
}
