package smb2_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/srvs"
)

// The srvsvc pipe is answered inline: the answer of a WRITE is there for
// the very next READ, never STATUS_PENDING, and a transceive carries it.
// Its unread answers are bounded by MaxPipeBuffer: past it a WRITE is
// refused with STATUS_INSUFFICIENT_RESOURCES until the client reads.
func TestInlinePipe(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxPipeBuffer = 6000 })
	for i := range 100 {
		if _, err := f.table.Open(session.Spec{Client: fmt.Sprintf("10.1.0.%d", i+1), User: "someone-with-a-long-name"}); err != nil {
			t.Fatal(err)
		}
	}
	c, fid := openPipe(t, f, "alice", "AlicePass1", "srvsvc")

	st, body, err := c.do(c.build(wire.CmdIoctl, transceiveBody(fid, srvsvcBind())), true)
	if err != nil || st != 0 {
		t.Fatalf("bind transceive: %v %v", st, err)
	}
	if ack, err := dcerpc.DecodePDU(body[48:]); err != nil {
		t.Fatalf("bind answer: %v", err)
	} else if _, ok := ack.(*dcerpc.BindAck); !ok {
		t.Fatalf("bind answer %T", ack)
	}

	req := &srvs.SessionEnumRequest{Level: 1, PrefMaxLen: session.MaxPreferredLength, ResumeHandle: new(uint32)}
	enum, err := dcerpc.Marshal(&dcerpc.Request{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag | dcerpc.FlagLastFrag, CallID: 2},
		Opnum: srvs.OpNetrSessionEnum, Stub: req.MarshalNDR()})
	if err != nil {
		t.Fatal(err)
	}
	write := func() smb2.Status {
		t.Helper()
		st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, enum, 0)), true)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// The answer (~9 KB in 4280-octet fragments) exceeds the bound once:
	// a second call is refused until the first answer is read.
	if st := write(); st != smb2.StatusSuccess {
		t.Fatalf("first WRITE: %v", st)
	}
	if st := write(); st != smb2.StatusInsufficientResources {
		t.Fatalf("WRITE with %d bytes unread: %v, want STATUS_INSUFFICIENT_RESOURCES", 6000, st)
	}
	frags := readAll(t, c, fid)
	for i, p := range frags {
		if r, ok := p.(*dcerpc.Response); !ok || r.CallID != 2 {
			t.Fatalf("READ %d: %T for call %d", i, p, p.Hdr().CallID)
		}
	}
	if len(frags) < 2 {
		t.Fatalf("%d fragments, want several", len(frags))
	}
	if st := write(); st != smb2.StatusSuccess {
		t.Fatalf("WRITE after reading everything: %v", st)
	}
	f.served(t)
}

// Calls batched in one WRITE are answered only while the unread answers
// stay under MaxPipeBuffer; the rest wait until the client reads, then
// all are answered in order. Input held that way counts against the same
// bound.
func TestInlinePipeBackpressure(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Limits.MaxPipeBuffer = 6000 })
	for i := range 100 {
		if _, err := f.table.Open(session.Spec{Client: fmt.Sprintf("10.1.0.%d", i+1), User: "someone-with-a-long-name"}); err != nil {
			t.Fatal(err)
		}
	}
	c, fid := openPipe(t, f, "alice", "AlicePass1", "srvsvc")
	if st, _, err := c.do(c.build(wire.CmdIoctl, transceiveBody(fid, srvsvcBind())), true); err != nil || st != 0 {
		t.Fatalf("bind transceive: %v %v", st, err)
	}
	req := &srvs.SessionEnumRequest{Level: 1, PrefMaxLen: session.MaxPreferredLength, ResumeHandle: new(uint32)}
	var batch []byte
	const calls = 5
	for id := uint32(2); id < 2+calls; id++ {
		pdu, err := dcerpc.Marshal(&dcerpc.Request{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag | dcerpc.FlagLastFrag, CallID: id},
			Opnum: srvs.OpNetrSessionEnum, Stub: req.MarshalNDR()})
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, pdu...)
	}
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, batch, 0)), true); err != nil || st != 0 {
		t.Fatalf("WRITE of %d calls: %v %v", calls, st, err)
	}
	// One answer (~9 KB) is over the bound: the other calls wait, and
	// more input is refused meanwhile.
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, batch[:100], 0)), true); err != nil || st != smb2.StatusInsufficientResources {
		t.Fatalf("WRITE while answers are full: %v %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
	}
	var ids []uint32
	for _, p := range readAll(t, c, fid) {
		if id := p.Hdr().CallID; len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	if want := []uint32{2, 3, 4, 5, 6}; !slices.Equal(ids, want) {
		t.Fatalf("answers to calls %v, want %v in order", ids, want)
	}
	// Input alone over the bound is refused too.
	big := make([]byte, 0, 7000)
	for len(big) < 6500 {
		big = append(big, batch...)
	}
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, big, 0)), true); err != nil || st != smb2.StatusInsufficientResources {
		t.Fatalf("WRITE of %d octets: %v %v, want STATUS_INSUFFICIENT_RESOURCES", len(big), st, err)
	}
	f.served(t)
}

// readAll READs the inline pipe until STATUS_PIPE_EMPTY (an inline pipe
// never answers STATUS_PENDING) and decodes each message as a PDU.
func readAll(t *testing.T, c *rawClient, fid []byte) []dcerpc.PDU {
	t.Helper()
	var out []dcerpc.PDU
	for range 1000 {
		st, body, err := c.do(c.build(wire.CmdRead, readBody(fid, 8192)), true)
		if err != nil {
			t.Fatal(err)
		}
		if st == smb2.StatusPipeEmpty {
			return out
		}
		if st != smb2.StatusSuccess {
			t.Fatalf("READ %d: %v", len(out), st)
		}
		p, err := dcerpc.DecodePDU(body[16:])
		if err != nil {
			t.Fatalf("READ %d: %v", len(out), err)
		}
		out = append(out, p)
	}
	t.Fatal("the pipe never ran empty")
	return nil
}
