package wire

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netsession/netsession/internal/tokenfile"
)

// captured reads the client messages captured from rpcclient and impacket
// talking to Samba.
func captured(t testing.TB) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	files, err := filepath.Glob(filepath.Join("testdata", "requests-*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	for _, name := range files {
		msgs, err := tokenfile.ReadHex(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 {
			out[filepath.Base(name)] = msgs
		}
	}
	return out
}

// decode runs the decoder of msg's command; it reports whether one exists.
func decode(msg []byte) (bool, error) {
	if string(msg[:4]) == ProtocolSMB1 {
		_, err := SMB1Dialects(msg)
		return true, err
	}
	h, err := ParseHeader(msg)
	if err != nil {
		return true, err
	}
	switch h.Command {
	case CmdNegotiate:
		r, err := ParseNegotiateRequest(msg)
		if err == nil {
			for _, c := range r.Contexts {
				switch c.Type {
				case CtxPreauthIntegrity:
					_, err = ParseIDList(c.Data, 2)
				case CtxSigning, CtxEncryption:
					_, err = ParseIDList(c.Data, 0)
				}
			}
		}
		return true, err
	case CmdSessionSetup:
		_, err = ParseSessionSetupRequest(msg)
	case CmdLogoff, CmdTreeDisconnect, CmdEcho, CmdCancel:
		err = ParseSmall(msg, "small")
	case CmdTreeConnect:
		_, err = ParseTreeConnectRequest(msg)
	case CmdCreate:
		_, err = ParseCreateRequest(msg)
	case CmdClose:
		_, err = ParseCloseRequest(msg)
	case CmdFlush:
		_, err = ParseFlushRequest(msg)
	case CmdRead:
		_, err = ParseReadRequest(msg)
	case CmdWrite:
		_, err = ParseWriteRequest(msg)
	case CmdIoctl:
		var r *IoctlRequest
		if r, err = ParseIoctlRequest(msg); err == nil && r.CtlCode == FsctlValidateNegotiateInfo {
			_, err = ParseValidateNegotiateInfo(r.Input)
		}
	case CmdQueryInfo:
		_, err = ParseQueryInfoRequest(msg)
	default:
		return false, nil
	}
	return true, err
}

func TestCapturedRequestsDecode(t *testing.T) {
	for file, msgs := range captured(t) {
		for i, m := range msgs {
			if ok, err := decode(m); !ok || err != nil {
				t.Errorf("%s #%d: decoder %v, %v", file, i, ok, err)
			}
		}
	}
	rpc := captured(t)["requests-rpcclient.hex"]
	neg, err := ParseNegotiateRequest(rpc[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(neg.Dialects, 0x0311) {
		t.Errorf("rpcclient dialects %x", neg.Dialects)
	}
	if data, ok := neg.Context(CtxPreauthIntegrity); !ok {
		t.Error("no preauth context")
	} else if algs, err := ParseIDList(data, 2); err != nil || !slices.Contains(algs, HashSHA512) {
		t.Errorf("preauth algorithms %v %v", algs, err)
	}
	if data, ok := neg.Context(CtxSigning); !ok {
		t.Error("no signing context")
	} else if algs, err := ParseIDList(data, 0); err != nil || !slices.Contains(algs, 2) {
		t.Errorf("signing algorithms %v %v", algs, err)
	}
	tc, err := ParseTreeConnectRequest(rpc[3])
	if err != nil || !strings.HasSuffix(tc.Path, `\IPC$`) {
		t.Errorf("tree connect %+v %v", tc, err)
	}
	cr, err := ParseCreateRequest(rpc[4])
	if err != nil || cr.Name != "srvsvc" {
		t.Errorf("create %+v %v", cr, err)
	}
	io, err := ParseIoctlRequest(rpc[5])
	if err != nil || io.CtlCode != FsctlPipeTransceive || io.Input[0] != 5 || io.Input[2] != 11 {
		t.Errorf("ioctl %+v %v", io, err)
	}
	imp := captured(t)["requests-impacket.hex"]
	ds, err := SMB1Dialects(imp[0])
	if err != nil || !slices.Contains(ds, "SMB 2.002") || !slices.Contains(ds, "SMB 2.???") {
		t.Errorf("SMB1 dialects %q %v", ds, err)
	}
	w, err := ParseWriteRequest(imp[6])
	if err != nil || len(w.Data) < 16 || w.Data[2] != 11 {
		t.Errorf("write %+v %v", w, err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{
		{CreditCharge: 1, Command: CmdIoctl, Credit: 31, Flags: FlagSigned, NextCommand: 0, MessageID: 7, TreeID: 5, SessionID: 0x400000000001, Signature: [16]byte{1, 2}},
		{Status: 0x103, Command: CmdRead, Flags: FlagAsyncCommand | FlagServerToRedir, MessageID: 9, AsyncID: 77, SessionID: 3},
	} {
		b := h.Append(nil)
		got, err := ParseHeader(b)
		if err != nil || got != h {
			t.Errorf("%+v -> %+v %v", h, got, err)
		}
	}
}

func TestNegotiateResponseLayout(t *testing.T) {
	r := NegotiateResponse{Dialect: 0x0311, SecurityBuffer: []byte{0x60, 1, 2}, Contexts: []NegotiateContext{{Type: 1, Data: []byte{1, 0, 0, 0, 1, 0}}, {Type: 8, Data: []byte{1, 0, 2, 0}}}}
	b := r.Append(make([]byte, HeaderSize))
	if le.Uint16(b[HeaderSize+56:]) != 128 || le.Uint16(b[HeaderSize+58:]) != 3 {
		t.Fatal("security buffer offset/length")
	}
	off := int(le.Uint32(b[HeaderSize+60:]))
	if off%8 != 0 || le.Uint16(b[off:]) != 1 || le.Uint16(b[HeaderSize+6:]) != 2 {
		t.Fatalf("context offset %d", off)
	}
	second := (off + 8 + 6 + 7) &^ 7
	if le.Uint16(b[second:]) != 8 || len(b) != second+8+4 {
		t.Fatalf("second context at %d, length %d", second, len(b))
	}
}

func seed(f *testing.F) {
	for _, msgs := range captured(f) {
		for _, m := range msgs {
			f.Add(m)
		}
	}
}

// FuzzHeader: decoding never panics, and what decodes re-encodes to a
// header that decodes to the same value.
func FuzzHeader(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		h2, err := ParseHeader(h.Append(nil))
		if err != nil || h2 != h {
			t.Fatalf("round trip %+v -> %+v %v", h, h2, err)
		}
	})
}

// FuzzRequests feeds every command decoder (chosen by the header's
// command, which the fuzzer varies too) and checks that decoded buffers
// stay inside the message.
func FuzzRequests(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		_, _ = decode(b)
		if len(b) >= HeaderSize {
			for cmd := uint16(0); cmd < NumCommands; cmd++ {
				m := append([]byte(nil), b...)
				copy(m, ProtocolSMB2)
				le.PutUint16(m[4:], HeaderSize)
				le.PutUint16(m[12:], cmd)
				_, _ = decode(m)
			}
		}
	})
}

// FuzzNegotiateContexts covers the context payload decoders.
func FuzzNegotiateContexts(f *testing.F) {
	f.Add([]byte{1, 0, 32, 0, 1, 0}, 2)
	f.Add([]byte{2, 0, 1, 0, 2, 0}, 0)
	f.Fuzz(func(t *testing.T, b []byte, skip int) {
		if skip < 0 || skip > 8 {
			return
		}
		ids, err := ParseIDList(b, skip)
		if err == nil && 2+skip+2*len(ids) > len(b) {
			t.Fatal("ids beyond data")
		}
		_, _ = ParseValidateNegotiateInfo(b)
	})
}
