package pipeclient

import (
	"context"
	"fmt"
	"strings"

	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// Access and options of the CREATE that opens a pipe.
const (
	pipeAccess            = 0x0012019F // read/write data, EAs, attributes; read control; synchronize
	shareReadWrite        = 0x00000003
	fileOpen              = 0x00000001
	fileNonDirectoryFile  = 0x00000040
	impersonationLevelImp = 0x00000002
)

// Pipe is an open named pipe on the IPC$ tree of a Conn. Its methods run
// one exchange each, serialised with the rest of the Conn's.
type Pipe struct {
	c    *Conn
	name string
	fid  wire.FileID
}

// OpenPipe opens the named pipe name ("srvsvc"; a leading \PIPE\ is
// removed) on IPC$.
func (c *Conn) OpenPipe(ctx context.Context, name string) (*Pipe, error) {
	const op = "create"
	if len(name) > 6 && strings.EqualFold(name[:6], `\pipe\`) {
		name = name[6:]
	}
	if name == "" || len(name) > 255 {
		return nil, &Error{Op: op, Err: fmt.Errorf("bad pipe name %q", name)}
	}
	req := wire.CreatePipeRequest{
		ImpersonationLevel: impersonationLevelImp,
		DesiredAccess:      pipeAccess,
		ShareAccess:        shareReadWrite,
		CreateDisposition:  fileOpen,
		CreateOptions:      fileNonDirectoryFile,
		Name:               name,
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	resp, _, err := c.do(ctx, exch{op: op, cmd: wire.CmdCreate, body: req.Append})
	if err != nil {
		return nil, err
	}
	r, err := wire.ParseCreateResponse(resp)
	if err != nil {
		return nil, c.fail(op, protocolError("%v", err))
	}
	return &Pipe{c: c, name: name, fid: r.FileID}, nil
}

// Name returns the pipe's name.
func (p *Pipe) Name() string { return p.name }

// Transceive writes in as one message and reads the answering message
// into out, in one FSCTL_PIPE_TRANSCEIVE exchange. more reports that the
// message is longer than out (STATUS_BUFFER_OVERFLOW): its rest must be
// read with Read. len(in) and len(out) are bounded by MaxTransceive.
func (p *Pipe) Transceive(ctx context.Context, in, out []byte) (n int, more bool, err error) {
	const op = "transceive"
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(in) > int(c.maxTrans) || len(out) > int(c.maxTrans) {
		return 0, false, &Error{Op: op, Err: fmt.Errorf("%w: %d bytes in, %d out (max %d)", ErrTooLarge, len(in), len(out), c.maxTrans)}
	}
	if len(out) == 0 {
		return 0, false, &Error{Op: op, Err: fmt.Errorf("no room for the answer")}
	}
	got, more, err := c.ioctl(ctx, exch{op: op, overflow: true}, wire.FsctlPipeTransceive, p.fid, in, len(out))
	if err != nil {
		return 0, false, err
	}
	return copy(out, got), more, nil
}

// Read reads (the rest of) a message into b. more reports that the
// server said the message goes on beyond b (STATUS_BUFFER_OVERFLOW); not
// every server says so (Samba answers the READs of a message's rest with
// STATUS_SUCCESS), so a reader that knows its messages' framing should
// rely on it rather than on more. At most the server's maximum read size
// is asked for, whatever len(b). A pipe without data waits for some (the
// server answers STATUS_PENDING first) until ctx or the deadline ends.
func (p *Pipe) Read(ctx context.Context, b []byte) (n int, more bool, err error) {
	const op = "read"
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) > int(c.maxRead) {
		b = b[:c.maxRead]
	}
	if len(b) == 0 {
		return 0, false, &Error{Op: op, Err: fmt.Errorf("no room to read into")}
	}
	body := func(w []byte) []byte { return wire.AppendReadRequest(w, p.fid, uint32(len(b)), 0) }
	resp, h, err := c.do(ctx, exch{op: op, cmd: wire.CmdRead, body: body, out: len(b), overflow: true})
	if err != nil {
		return 0, false, err
	}
	r, err := wire.ParseReadResponse(resp)
	if err != nil {
		return 0, false, c.fail(op, protocolError("%v", err))
	}
	if len(r.Data) > len(b) {
		return 0, false, c.fail(op, protocolError("%d bytes read, %d asked for", len(r.Data), len(b)))
	}
	return copy(b, r.Data), ntstatus.Status(h.Status) == ntstatus.BufferOverflow, nil
}

// Write writes b as one message in one WRITE exchange. len(b) is bounded
// by the server's maximum write size.
func (p *Pipe) Write(ctx context.Context, b []byte) (int, error) {
	const op = "write"
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) > int(c.maxWrite) {
		return 0, &Error{Op: op, Err: fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(b), c.maxWrite)}
	}
	body := func(w []byte) []byte { return wire.AppendWriteRequest(w, p.fid, 0, b) }
	resp, _, err := c.do(ctx, exch{op: op, cmd: wire.CmdWrite, body: body, in: len(b)})
	if err != nil {
		return 0, err
	}
	n, err := wire.ParseWriteResponse(resp)
	if err != nil {
		return 0, c.fail(op, protocolError("%v", err))
	}
	if int(n) != len(b) {
		return 0, c.fail(op, protocolError("wrote %d of %d bytes", n, len(b)))
	}
	return len(b), nil
}

// Close closes the pipe handle.
func (p *Pipe) Close(ctx context.Context) error {
	const op = "close"
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	body := func(w []byte) []byte { return wire.AppendCloseRequest(w, p.fid) }
	resp, _, err := c.do(ctx, exch{op: op, cmd: wire.CmdClose, body: body})
	if err != nil {
		return err
	}
	if err := wire.ParseCloseResponse(resp); err != nil {
		return c.fail(op, protocolError("%v", err))
	}
	return nil
}

// MaxWrite is the largest message Write sends.
func (p *Pipe) MaxWrite() int { return int(p.c.maxWrite) }
