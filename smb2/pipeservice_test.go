package smb2_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// upperPipe is a PipeConn of the test's own: it answers each write at
// once with the write in upper case, and records what the server asked.
type upperPipe struct {
	mu     sync.Mutex
	out    [][]byte
	closed bool
	info   smb2.PipeInfo
}

func (p *upperPipe) Write(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	p.out = append(p.out, bytes.ToUpper(b))
	return nil
}

func (p *upperPipe) Next(max int) ([]byte, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.out) == 0 {
		if p.closed {
			return nil, false, io.EOF
		}
		return nil, false, nil
	}
	m := p.out[0]
	if len(m) > max {
		p.out[0] = m[max:]
		return m[:max], true, nil
	}
	p.out = p.out[1:]
	return m, false, nil
}

func (p *upperPipe) Pending() (in, out int, busy <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.out {
		out += len(m)
	}
	return 0, out, nil
}

func (p *upperPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

type upperService struct {
	mu    sync.Mutex
	pipes []*upperPipe
}

func (s *upperService) OpenPipe(_ context.Context, info smb2.PipeInfo) (smb2.PipeConn, error) {
	p := &upperPipe{info: info}
	s.mu.Lock()
	s.pipes = append(s.pipes, p)
	s.mu.Unlock()
	return p, nil
}

// TestPipeServiceOfOurOwn serves a pipe with a PipeService that is
// neither a PipeHandler nor DCE/RPC: the server hands it the session's
// identity and the pipe's name, a WRITE goes in, READs take the answer
// (in two parts through a small buffer, STATUS_BUFFER_OVERFLOW first),
// an empty pipe answers STATUS_PIPE_EMPTY, and CLOSE closes it.
func TestPipeServiceOfOurOwn(t *testing.T) {
	svc := &upperService{}
	f := newFixture(t, func(s *smb2.Server) { s.Pipes = map[string]smb2.PipeService{"upper": svc} })
	c, fid := openPipe(t, f, "bob", "BobPass1", `\UPPER`)
	svc.mu.Lock()
	if len(svc.pipes) != 1 || svc.pipes[0].info.Name != "upper" || svc.pipes[0].info.Caller.User != "bob" || svc.pipes[0].info.MaxBuffer != smb2.DefaultMaxPipeBuffer {
		t.Fatalf("opened %d pipes, info %+v", len(svc.pipes), svc.pipes[0].info)
	}
	p := svc.pipes[0]
	svc.mu.Unlock()
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, []byte("hello pipe"), 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	st, body, err := c.do(c.build(wire.CmdRead, readBody(fid, 5)), true)
	if err != nil || st != smb2.StatusBufferOverflow || readData(t, body) != "HELLO" {
		t.Fatalf("first part: %v %v %q", st, err, readData(t, body))
	}
	st, body, err = c.do(c.build(wire.CmdRead, readBody(fid, 100)), true)
	if err != nil || st != 0 || readData(t, body) != " PIPE" {
		t.Fatalf("rest: %v %v %q", st, err, readData(t, body))
	}
	if st, _, err := c.do(c.build(wire.CmdRead, readBody(fid, 100)), true); err != nil || st != smb2.StatusPipeEmpty {
		t.Fatalf("read of an empty pipe: %v %v, want %v", st, err, smb2.StatusPipeEmpty)
	}
	if st, _, err := c.do(c.build(wire.CmdClose, append(le.AppendUint16(nil, 24), append(make([]byte, 6), fid...)...)), true); err != nil || st != 0 {
		t.Fatalf("close: %v %v", st, err)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		t.Fatal("CLOSE did not close the PipeConn")
	}
}
