package smb2

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/netsession/netsession/dcerpc"
)

// TestInlinePipeOpenRacesServerClose opens inline pipes while their DCE/RPC
// server closes every association: the association may end before
// OpenPipe returns, which must not race, and a closed pipe refuses
// writes and reads as disconnected.
func TestInlinePipeOpenRacesServerClose(t *testing.T) {
	for range 200 {
		srv := &dcerpc.Server{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 20 {
				srv.Close()
			}
		}()
		p, err := RPCService(srv).OpenPipe(context.Background(), PipeInfo{Name: "srvsvc", MaxBuffer: 4096})
		<-done
		if err != nil {
			continue // the server was closed first
		}
		p.Close()
		if err := p.Write([]byte{5, 0}); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write on a closed inline pipe: %v", err)
		}
		if _, st, wait := pollPipe(p, 100); st != StatusPipeDisconnected || wait != nil {
			t.Fatalf("read of a closed inline pipe: %v", st)
		}
	}
}

// An inline pipe answers the calls of one write only while its unread
// answers stay under the bound: the queue never holds more than the bound
// plus one answer, and reading takes the held calls up again.
func TestInlinePipeHoldsCalls(t *testing.T) {
	const answer = 3000
	srv := &dcerpc.Server{}
	sized := dcerpc.HandlerFunc(func(context.Context, *dcerpc.Call) ([]byte, error) { return make([]byte, answer), nil })
	syntax := dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("12345678-1234-abcd-ef00-0123456789ab"), Major: 1}
	if err := srv.Register(dcerpc.Interface{Syntax: syntax, Handler: sized}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const bound = 5000
	p, err := RPCService(srv).OpenPipe(context.Background(), PipeInfo{Name: "srvsvc", MaxBuffer: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	bind, _ := dcerpc.Marshal(&dcerpc.Bind{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag | dcerpc.FlagLastFrag, CallID: 1},
		MaxXmitFrag: 4280, MaxRecvFrag: 4280,
		Contexts: []dcerpc.ContextElem{{AbstractSyntax: syntax, TransferSyntaxes: []dcerpc.SyntaxID{dcerpc.NDR20}}}})
	if err := p.Write(bind); err != nil {
		t.Fatal(err)
	}
	if _, st, _ := pollPipe(p, 4280); st != StatusSuccess {
		t.Fatalf("bind answer: %v", st)
	}
	var batch []byte
	const calls = 6
	for id := uint32(2); id < 2+calls; id++ {
		pdu, _ := dcerpc.Marshal(&dcerpc.Request{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag | dcerpc.FlagLastFrag, CallID: id}})
		batch = append(batch, pdu...)
	}
	if err := p.Write(batch); err != nil {
		t.Fatal(err)
	}
	answered := 0
	for {
		if _, queued, _ := p.Pending(); queued > bound+answer+100 {
			t.Fatalf("%d octets of answers queued, bound %d", queued, bound)
		}
		data, st, wait := pollPipe(p, 4280)
		if wait != nil || st == StatusPipeEmpty {
			break
		}
		if st != StatusSuccess {
			t.Fatal(st)
		}
		if len(data) > answer {
			answered++
		}
	}
	if answered != calls {
		t.Fatalf("%d calls answered, want %d", answered, calls)
	}
}
