package dcerpc

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// FuzzServeConn feeds arbitrary bytes to a server connection: it must
// neither crash nor hang, and ServeConn must return once the peer is gone.
func FuzzServeConn(f *testing.F) {
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

	f.Fuzz(func(t *testing.T, data []byte) {
		s := newTestServer(t)
		s.MaxReassembledSize = 1 << 16
		s.Auth = map[AuthType]AuthAcceptor{authTypeToy: &toyAcceptor{users: map[string]string{"alice": "k"}}}
		s.IdleTimeout, s.ReadTimeout, s.HandshakeTimeout, s.WriteTimeout = time.Second, time.Second, time.Second, time.Second
		a, b := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(context.Background(), a) }()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for {
				p, err := readPDU(b)
				if err != nil {
					return
				}
				// Whatever the server says must be a well-formed answer.
				switch p.(type) {
				case *BindAck, *BindNak, *Response, *FaultPDU:
				default:
					t.Errorf("server sent %T", p)
				}
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
