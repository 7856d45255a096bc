package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzServeConn feeds arbitrary bytes to a server connection: it must
// neither crash nor hang, and ServeConn must return once the peer is gone.
func FuzzServeConn(f *testing.F) {
	addAssociationSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzServer(t)
		a, b := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(context.Background(), a, ConnConfig{}) }()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for {
				p, err := readPDU(b)
				if err != nil {
					return
				}
				checkAnswer(t, p)
			}
		}()
		b.SetWriteDeadline(time.Now().Add(time.Second))
		b.Write(data)
		time.Sleep(time.Millisecond)
		b.Close()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("ServeConn did not return after the peer closed")
		}
		<-drained
	})
}

// FuzzMessageConn feeds arbitrary bytes to a message association, whole
// and in pieces: it must not crash, every answer must be well formed,
// the answers (their types and call ids) must not depend on how the
// bytes were split, and once Write fails the association stays closed.
func FuzzMessageConn(f *testing.F) {
	addAssociationSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzServer(t)
		run := func(piece int) (answers []string, failed bool) {
			p := newMsgPipe(t, s, context.Background())
			for off := 0; off < len(data); off += piece {
				if err := p.m.Write(data[off:min(off+piece, len(data))]); err != nil {
					failed = true
					if err := p.m.Write([]byte{5}); !errors.Is(err, net.ErrClosed) {
						t.Fatalf("write after a failed one: %v", err)
					}
					break
				}
				if n := len(p.m.buf); n > MinFragSize+piece && n > DefaultMaxRecvFrag {
					t.Fatalf("%d octets held for an incomplete PDU", n)
				}
			}
			for _, a := range p.answers(t) {
				checkAnswer(t, a)
				answers = append(answers, fmt.Sprintf("%T/%d", a, a.Hdr().CallID))
			}
			return answers, failed
		}
		whole, wholeFailed := run(max(len(data), 1))
		piece := 1 + len(data)%23
		split, splitFailed := run(piece)
		if wholeFailed != splitFailed || !slices.Equal(whole, split) {
			t.Fatalf("whole: %v (failed %v); in pieces of %d: %v (failed %v)", whole, wholeFailed, piece, split, splitFailed)
		}
	})
}

// fuzzServer is the server of the association fuzz targets: small limits,
// the toy authentication, short timeouts.
func fuzzServer(t *testing.T) *Server {
	s := newTestServer(t)
	s.Limits.MaxReassembledSize = 1 << 16
	s.Auth = map[AuthType]AuthAcceptor{authTypeToy: &toyAcceptor{users: map[string]string{"alice": "k"}}}
	s.Timeouts.Idle, s.Timeouts.Read, s.Timeouts.Handshake, s.Timeouts.Write = time.Second, time.Second, time.Second, time.Second
	return s
}

// checkAnswer fails unless p is something a server may send.
func checkAnswer(t *testing.T, p PDU) {
	switch p.(type) {
	case *BindAck, *BindNak, *Response, *FaultPDU:
	default:
		t.Errorf("server sent %T", p)
	}
}

// addAssociationSeeds adds real and hand-built PDU sequences.
func addAssociationSeeds(f *testing.F) {
	bind := readHex(f, "impacket-bind.hex")
	f.Add(append(bytes.Clone(bind), readHex(f, "impacket-request-opnum12.hex")...))
	f.Add(append(readHex(f, "rpcclient-bind.hex"), readHex(f, "rpcclient-request-opnum12.hex")...))
	b := bindPDU(1, ctxElem(0, testSyntax, NDR20), ctxElem(1, testSyntax, BindTimeFeatureSyntax(3)))
	b.MaxRecvFrag = MinFragSize
	seq := mustMarshal(f, b)
	for i, fl := range []Flags{FlagFirstFrag, 0, FlagLastFrag} {
		seq = append(seq, mustMarshal(f, &Request{Header: Header{Flags: fl, CallID: 2}, Stub: pattern(100 * (i + 1))})...)
	}
	seq = append(seq, mustMarshal(f, &Request{Header: Header{Flags: 3, CallID: 3}, Opnum: 1, Stub: le32(4000)})...)
	seq = append(seq, mustMarshal(f, &Bind{Header: Header{Type: PTypeAlterContext, Flags: 3, CallID: 4},
		Contexts: []ContextElem{ctxElem(5, srvsvcSyntax, NDR64, NDR20)}})...)
	seq = append(seq, mustMarshal(f, &Orphaned{Header: Header{Flags: 3, CallID: 9}})...)
	f.Add(seq)
	f.Add(append(bytes.Clone(bind), mustMarshal(f, &Auth3{Header: Header{Flags: 3}, Auth: &AuthVerifier{Type: authTypeToy, Level: 5, Value: []byte("RESP:")}})...))
	f.Add([]byte{5, 0, 11, 3, 0x10, 0, 0, 0, 0xff, 0xff})
}

func FuzzParseUUID(f *testing.F) {
	f.Add("8a885d04-1ceb-11c9-9fe8-08002b104860")
	f.Add("4b324fc8-1670-01d3-1278-5a47bf6ee188")
	f.Add("6CB71C2C-9812-4540-0300-000000000000")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUUID(s)
		if err != nil {
			return
		}
		if !strings.EqualFold(u.String(), s) {
			t.Fatalf("%q parsed to %s", s, u)
		}
		var w [16]byte
		u.putWire(w[:])
		if uuidFromWire(w[:]) != u {
			t.Fatal("wire round trip")
		}
	})
}

// FuzzClient feeds arbitrary server answers to a binding and calling
// client: it must return (an error or a result), never panic or hang.
func FuzzClient(f *testing.F) {
	ack := readHex(f, "samba-bind-ack.hex")
	f.Add(append(bytes.Clone(ack), readHex(f, "samba-response-opnum13.hex")...))
	f.Add(append(append(bytes.Clone(ack), readHex(f, "samba-response-frag1.hex")...), readHex(f, "samba-response-frag2.hex")...))
	f.Add(append(bytes.Clone(ack), mustMarshal(f, &FaultPDU{Header: Header{Flags: 3, CallID: 2}, Status: StatusOpRangeError})...))
	f.Add(mustMarshal(f, &BindNak{Header: Header{Flags: 3, CallID: 1}, Versions: []Version{{5, 0}}}))
	f.Fuzz(func(t *testing.T, answer []byte) {
		a, b := net.Pipe()
		go func() {
			// Read whatever the client sends, answer with the input, hang up.
			go io.Copy(io.Discard, a)
			a.Write(answer)
			a.Close()
		}()
		defer b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cl := NewClient(b, ClientConfig{MaxResponseSize: 1 << 16})
		if err := cl.Bind(ctx, srvsvcSyntax); err != nil {
			return
		}
		cl.Call(ctx, 13, []byte("stub"))
		if ctx.Err() != nil {
			t.Fatal("client hung until the deadline")
		}
	})
}
