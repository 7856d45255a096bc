package dcerpc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// fakeServer runs script against the server end of a pipe and returns the
// client end.
func fakeServer(t *testing.T, script func(c net.Conn)) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer a.Close()
		script(a)
	}()
	t.Cleanup(func() {
		b.Close()
		<-done
	})
	return b
}

func ackFor(b *Bind, frag uint16, results ...ContextResultElem) *BindAck {
	return &BindAck{Header: Header{Flags: 3, CallID: b.CallID}, MaxXmitFrag: frag, MaxRecvFrag: frag,
		AssocGroupID: 1, SecondaryAddr: "135", Results: results}
}

var accepted = ContextResultElem{Result: ResultAcceptance, TransferSyntax: NDR20}

// TestClientAgainstScriptedServers checks how the client reacts to odd
// but possible, and to wrong, server behaviour.
func TestClientAgainstScriptedServers(t *testing.T) {
	ctx := testCtx(t)
	bindThen := func(frag uint16, then func(c net.Conn, req *Request)) func(c net.Conn) {
		return func(c net.Conn) {
			p, err := readPDU(c)
			if err != nil {
				return
			}
			c.Write(mustMarshal(t, ackFor(p.(*Bind), frag, accepted)))
			p, err = readPDU(c)
			if err != nil {
				return
			}
			if then != nil {
				then(c, p.(*Request))
			}
		}
	}
	t.Run("server raises the fragment size", func(t *testing.T) {
		// We propose 1432, the server announces and sends 2048 (as Samba
		// and Windows do).
		big := pattern(5000)
		c := fakeServer(t, bindThen(2048, func(c net.Conn, req *Request) {
			per := 2048 - 24
			for off := 0; off < len(big); off += per {
				n := min(per, len(big)-off)
				r := &Response{Header: Header{CallID: req.CallID}, AllocHint: uint32(len(big) - off), Stub: big[off : off+n]}
				if off == 0 {
					r.Flags |= FlagFirstFrag
				}
				if off+n == len(big) {
					r.Flags |= FlagLastFrag
				}
				c.Write(mustMarshal(t, r))
			}
		}))
		cl := NewClient(c, ClientConfig{MaxXmitFrag: MinFragSize, MaxRecvFrag: MinFragSize})
		if err := cl.Bind(ctx, testSyntax); err != nil {
			t.Fatal(err)
		}
		if n := cl.Negotiated(); n.MaxXmitFrag != MinFragSize || n.MaxRecvFrag != 2048 || n.SecondaryAddr != "135" {
			t.Fatalf("negotiated %+v", n)
		}
		out, err := cl.Call(ctx, 0, nil)
		if err != nil || !bytes.Equal(out, big) {
			t.Fatalf("%d octets, %v", len(out), err)
		}
	})
	t.Run("wrong call_id", func(t *testing.T) {
		c := fakeServer(t, bindThen(4280, func(c net.Conn, req *Request) {
			c.Write(mustMarshal(t, &Response{Header: Header{Flags: 3, CallID: req.CallID + 1}}))
		}))
		cl := NewClient(c, ClientConfig{})
		cl.Bind(ctx, testSyntax)
		if _, err := cl.Call(ctx, 0, nil); !errors.Is(err, ErrProtocol) {
			t.Fatalf("call: %v", err)
		}
		if _, err := cl.Call(ctx, 0, nil); !errors.Is(err, ErrClientBroken) {
			t.Fatalf("next call: %v", err)
		}
	})
	t.Run("response starts with a middle fragment", func(t *testing.T) {
		c := fakeServer(t, bindThen(4280, func(c net.Conn, req *Request) {
			c.Write(mustMarshal(t, &Response{Header: Header{Flags: FlagLastFrag, CallID: req.CallID}}))
		}))
		cl := NewClient(c, ClientConfig{})
		cl.Bind(ctx, testSyntax)
		if _, err := cl.Call(ctx, 0, nil); !errors.Is(err, ErrProtocol) {
			t.Fatalf("call: %v", err)
		}
	})
	t.Run("garbage answer", func(t *testing.T) {
		c := fakeServer(t, bindThen(4280, func(c net.Conn, req *Request) {
			c.Write([]byte{5, 0, 2, 3, 0x10, 0, 0, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0})
		}))
		cl := NewClient(c, ClientConfig{})
		cl.Bind(ctx, testSyntax)
		if _, err := cl.Call(ctx, 0, nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("call: %v", err)
		}
	})
	t.Run("server hangs up", func(t *testing.T) {
		c := fakeServer(t, bindThen(4280, nil))
		cl := NewClient(c, ClientConfig{})
		cl.Bind(ctx, testSyntax)
		_, err := cl.Call(ctx, 0, nil)
		var fe *Fault
		if err == nil || errors.As(err, &fe) || !errors.Is(err, io.EOF) {
			t.Fatalf("call: %v", err)
		}
	})
	t.Run("bind answered with a fault", func(t *testing.T) {
		c := fakeServer(t, func(c net.Conn) {
			p, _ := readPDU(c)
			c.Write(mustMarshal(t, &FaultPDU{Header: Header{Flags: 3, CallID: p.Hdr().CallID}, Status: StatusProtoError}))
		})
		var fe *Fault
		if err := NewClient(c, ClientConfig{}).Bind(ctx, testSyntax); !errors.As(err, &fe) || fe.Status != StatusProtoError {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("bind_ack with too few results", func(t *testing.T) {
		c := fakeServer(t, func(c net.Conn) {
			p, _ := readPDU(c)
			c.Write(mustMarshal(t, ackFor(p.(*Bind), 4280)))
		})
		if err := NewClient(c, ClientConfig{}).Bind(ctx, testSyntax); !errors.Is(err, ErrProtocol) {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("bind answered with a response", func(t *testing.T) {
		c := fakeServer(t, func(c net.Conn) {
			p, _ := readPDU(c)
			c.Write(mustMarshal(t, &Response{Header: Header{Flags: 3, CallID: p.Hdr().CallID}}))
		})
		if err := NewClient(c, ClientConfig{}).Bind(ctx, testSyntax); !errors.Is(err, ErrProtocol) {
			t.Fatalf("bind: %v", err)
		}
	})
	t.Run("shutdown PDUs are skipped", func(t *testing.T) {
		c := fakeServer(t, bindThen(4280, func(c net.Conn, req *Request) {
			c.Write(mustMarshal(t, &Shutdown{Header: Header{Flags: 3}}))
			c.Write(mustMarshal(t, &Response{Header: Header{Flags: 3, CallID: req.CallID}, Stub: []byte("ok")}))
		}))
		cl := NewClient(c, ClientConfig{})
		cl.Bind(ctx, testSyntax)
		if out, err := cl.Call(ctx, 0, nil); err != nil || string(out) != "ok" {
			t.Fatalf("call: %q %v", out, err)
		}
	})
}

func TestClientMisuse(t *testing.T) {
	ctx := testCtx(t)
	cl := NewClient(pipeConn(t, newTestServer(t)), ClientConfig{})
	if _, err := cl.Call(ctx, 0, nil); !errors.Is(err, ErrNotBound) {
		t.Fatalf("call before bind: %v", err)
	}
	if _, err := cl.AlterContext(ctx, testSyntax); !errors.Is(err, ErrNotBound) {
		t.Fatalf("alter_context before bind: %v", err)
	}
	if err := cl.Bind(ctx, testSyntax); err != nil {
		t.Fatal(err)
	}
	if err := cl.Bind(ctx, testSyntax); !errors.Is(err, ErrProtocol) {
		t.Fatalf("second bind: %v", err)
	}
}
