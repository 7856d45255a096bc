package smb2

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
)

// PipeService serves a named pipe: the server calls OpenPipe for each
// CREATE of it. ctx ends with the SMB connection.
type PipeService interface {
	OpenPipe(ctx context.Context, info PipeInfo) (PipeConn, error)
}

// PipeInfo describes one open of a pipe.
type PipeInfo struct {
	// Name is the pipe's name in lower case, without the leading
	// backslashes ("srvsvc").
	Name string
	// Caller is the identity of the SMB session that opened the pipe.
	Caller                session.Caller
	LocalAddr, RemoteAddr net.Addr
	// MaxBuffer is the bound (Server.Limits.MaxPipeBuffer) on the answers the
	// client has not read and on the input not yet answered; a service
	// that bounds its own buffers uses it.
	MaxBuffer int
	// Logger receives the pipe's events; never nil.
	Logger *slog.Logger
	// Go runs f on a goroutine the connection waits for before it ends;
	// a service that serves each pipe on a goroutine of its own starts it
	// with Go.
	Go func(f func())
}

// PipeConn is the server end of one open named pipe in message mode, as
// the SMB server drives it: the client's writes go in, the answers come
// out one message at a time. None of its methods should wait. Pending
// and Close may be called from any goroutine. Write and Next come from
// one goroutine at a time, except that while Pending reports the pipe
// busy a read may wait for the answer on a goroutine of its own (an
// asynchronous READ) and call Next from there; an implementation that is
// never busy sees them from one goroutine at a time. A *dcerpc.MessageConn
// is one.
type PipeConn interface {
	// Write takes one client write (a WRITE, or the input of a
	// transceive); an implementation may answer it before it returns.
	// The server itself refuses a write (STATUS_INSUFFICIENT_RESOURCES)
	// while MaxBuffer octets of answers wait unread or when the input
	// held would pass MaxBuffer. net.ErrClosed means the pipe had ended;
	// any other error ends the pipe, but the answers it produced first
	// can still be read.
	Write(b []byte) error
	// Next takes up to max octets of the next answer message; more
	// reports that the message goes on (the next call returns the rest,
	// and the client gets STATUS_BUFFER_OVERFLOW). With no answer ready
	// it returns nil, and io.EOF once the pipe has ended.
	Next(max int) (msg []byte, more bool, err error)
	// Pending reports the octets of client input held unanswered and of
	// answers not yet taken by Next, and, while an answer may still come
	// without more input (the server is at work on one), a channel closed
	// at the pipe's next change; busy is nil when the pipe waits for
	// input or has ended.
	Pending() (in, out int, busy <-chan struct{})
	// Close ends the pipe; the server calls it once the client closes
	// the pipe or its session or connection ends.
	Close() error
}

var _ PipeConn = (*dcerpc.MessageConn)(nil)

// PipeHandler serves the byte stream of one opened named pipe until the
// stream ends or ctx is cancelled, on a goroutine of its own. conn is
// message-mode: each Write is one message for the client, and a Write
// waits while the answers the client has not read would pass
// Server.Limits.MaxPipeBuffer. caller is the identity of the SMB session that
// opened the pipe.
type PipeHandler func(ctx context.Context, conn net.Conn, caller session.Caller) error

// OpenPipe implements PipeService: the handler serves the pipe on a
// goroutine started with info.Go.
func (h PipeHandler) OpenPipe(ctx context.Context, info PipeInfo) (PipeConn, error) {
	p := newStreamPipe(info.LocalAddr, info.RemoteAddr, info.MaxBuffer)
	run := func() {
		defer p.Close()
		if err := h(ctx, handlerConn{p}, info.Caller); err != nil && ctx.Err() == nil && info.Logger != nil {
			info.Logger.Debug("smb2 pipe handler", slog.Any("err", err))
		}
	}
	if info.Go != nil {
		info.Go(run)
	} else {
		go run()
	}
	return p, nil
}

// RPCPipe returns a PipeHandler that serves a pipe with a DCE/RPC server
// on a goroutine, as a stream connection, giving each call the SMB
// session's identity and the pipe's name as the bind_ack's secondary
// address (`\PIPE\srvsvc`). RPCService serves the same inline.
func RPCPipe(srv *dcerpc.Server, name string) PipeHandler {
	return func(ctx context.Context, conn net.Conn, caller session.Caller) error {
		return srv.ServeConn(ctx, conn, rpcPipeConfig(name, conn.RemoteAddr(), caller))
	}
}

// RPCService returns a PipeService that serves each open of a pipe with
// a message association of srv (dcerpc.MessageConn): a client write is
// answered on the SMB connection's own goroutine before the WRITE or
// transceive returns, with no goroutine switch, and the calls see the SMB
// session's identity and the pipe's name as the bind_ack's secondary
// address. The answers the client has not read are bounded by the
// pipe's MaxBuffer (one answer may pass it): the calls left in a write
// then wait, unanswered, until the client reads.
func RPCService(srv *dcerpc.Server) PipeService { return rpcService{srv} }

type rpcService struct{ srv *dcerpc.Server }

func (s rpcService) OpenPipe(ctx context.Context, info PipeInfo) (PipeConn, error) {
	cfg := rpcPipeConfig(info.Name, info.RemoteAddr, info.Caller)
	cfg.MaxPending = info.MaxBuffer
	m, err := s.srv.NewMessageConn(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// rpcPipeConfig is the association's configuration of a pipe served by
// DCE/RPC.
func rpcPipeConfig(name string, remote net.Addr, caller session.Caller) dcerpc.ConnConfig {
	cfg := dcerpc.ConnConfig{Caller: caller, SecondaryAddr: `\PIPE\` + name}
	if remote != nil {
		cfg.RemoteAddr = remote.String()
	}
	return cfg
}

// streamPipe is the PipeConn of a PipeHandler: the handler reads and
// writes it as a net.Conn (handlerConn) on its own goroutine.
//
// Bytes the client writes queue up as one stream the handler Reads in
// any portions, because DCE/RPC reads PDU headers and bodies separately.
// Every Write by the handler is one message: Next returns at most one
// message, and a Next with a buffer smaller than the message gets the
// first part while the rest stays for the next call, as a Windows
// message-mode pipe behaves.
type streamPipe struct {
	local, remote net.Addr

	mu      sync.Mutex
	changed chan struct{} // closed on the next state change; nil: nobody waits
	in      []byte        // client to server, not yet read
	out     [][]byte      // server to client messages
	outLen  int
	waiting bool // the handler is blocked in Read with nothing to read
	closed  bool // closed by either side
	rdl     time.Time
	max     int // bytes buffered in each direction (one message at least)
}

func newStreamPipe(local, remote net.Addr, max int) *streamPipe {
	return &streamPipe{local: local, remote: remote, max: max}
}

// notify wakes everyone waiting on a change; p.mu must be held.
func (p *streamPipe) notify() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// wait returns a channel closed on the next state change; p.mu must be
// held. The channel is only made when somebody waits.
func (p *streamPipe) wait() <-chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// Write queues data the client wrote for the handler.
func (p *streamPipe) Write(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	p.in = append(p.in, b...)
	p.notify()
	return nil
}

// Next returns the next message, or its first max bytes with more set
// when it is longer.
func (p *streamPipe) Next(max int) (data []byte, more bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(p.out) > 0:
		m := p.out[0]
		if len(m) > max {
			p.out[0] = m[max:]
			p.outLen -= max
			p.notify()
			return m[:max], true, nil
		}
		p.out = p.out[1:]
		p.outLen -= len(m)
		if len(p.out) == 0 {
			p.out = nil
		}
		p.notify()
		return m, false, nil
	case p.closed:
		return nil, false, io.EOF
	}
	return nil, false, nil
}

// Pending reports the input the handler has not read, the answers the
// client has not, and whether the handler may still answer without more
// input: while input is unread or the handler is working on it.
func (p *streamPipe) Pending() (in, out int, busy <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && (len(p.in) > 0 || !p.waiting) {
		busy = p.wait()
	}
	return len(p.in), p.outLen, busy
}

// Close ends the pipe; either side may call it.
func (p *streamPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.notify()
	}
	return nil
}

// serverRead is the handler's Read.
func (p *streamPipe) serverRead(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if len(p.in) > 0 {
			n := copy(b, p.in)
			p.in = p.in[n:]
			if len(p.in) == 0 {
				p.in = nil
			}
			p.notify()
			return n, nil
		}
		if p.closed {
			return 0, io.EOF
		}
		if !p.rdl.IsZero() && !time.Now().Before(p.rdl) {
			return 0, os.ErrDeadlineExceeded
		}
		if !p.waiting {
			p.waiting = true
			p.notify()
		}
		ch := p.wait()
		var t *time.Timer
		var timer <-chan time.Time
		if !p.rdl.IsZero() {
			t = time.NewTimer(time.Until(p.rdl))
			timer = t.C
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		p.mu.Lock()
		p.waiting = false
	}
}

// serverWrite is the handler's Write: one call, one message. It waits
// while the messages the client has not read would exceed the pipe's
// bound with this one, so a client that writes calls and never reads the
// answers cannot make them pile up.
func (p *streamPipe) serverWrite(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && p.outLen > 0 && p.outLen+len(b) > p.max {
		ch := p.wait()
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
	}
	if p.closed {
		return 0, net.ErrClosed
	}
	if len(b) == 0 {
		return 0, nil
	}
	p.out = append(p.out, append([]byte(nil), b...))
	p.outLen += len(b)
	p.notify()
	return len(b), nil
}

func (p *streamPipe) setReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.rdl = t
	p.notify()
	p.mu.Unlock()
	return nil
}

// handlerConn is the handler's side of a streamPipe, as a net.Conn.
type handlerConn struct{ p *streamPipe }

func (c handlerConn) Read(b []byte) (int, error)  { return c.p.serverRead(b) }
func (c handlerConn) Write(b []byte) (int, error) { return c.p.serverWrite(b) }
func (c handlerConn) Close() error                { return c.p.Close() }
func (c handlerConn) LocalAddr() net.Addr         { return c.p.local }
func (c handlerConn) RemoteAddr() net.Addr        { return c.p.remote }

func (c handlerConn) SetDeadline(t time.Time) error     { return c.p.setReadDeadline(t) }
func (c handlerConn) SetReadDeadline(t time.Time) error { return c.p.setReadDeadline(t) }

// SetWriteDeadline is accepted and has no effect: a Write waits for the
// client's READs or the end of the pipe.
func (c handlerConn) SetWriteDeadline(time.Time) error { return nil }
