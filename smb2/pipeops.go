package smb2

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// Status codes used only here.
const (
	statusPipeBusy         = ntstatus.PipeBusy
	statusFSDriverRequired = ntstatus.FSDriverRequired
)

// open is a pipe a session has open on one of its trees.
type open struct {
	id      wire.FileID
	sess    *smbSession
	tree    uint32
	pipe    PipeConn
	watched <-chan struct{} // the busy channel a watch goroutine waits on
	used    time.Time       // the last request naming it
}

// clientWrite hands a client's write to a pipe, unless the pipe already
// holds its bound: MaxPipeBuffer octets of answers unread, or as much
// input unanswered with this write; or the pipes of its session or
// connection together hold theirs (MaxSessionPipeMemory,
// MaxConnPipeMemory). A transceive is refused with STATUS_PIPE_BUSY
// while any answer is unread.
func (c *conn) clientWrite(o *open, b []byte, transceive bool) Status {
	pc := o.pipe
	max := c.srv.lim.MaxPipeBuffer
	in, out, _ := pc.Pending()
	switch {
	case transceive && out > 0:
		return statusPipeBusy
	case out >= max || in+len(b) > max:
		return StatusInsufficientResources
	}
	if len(c.opens) > 1 {
		var sess, all int
		for _, p := range c.opens {
			in, out, _ := p.pipe.Pending()
			all += in + out
			if p.sess == o.sess {
				sess += in + out
			}
		}
		if sess+len(b) > c.srv.lim.MaxSessionPipeMemory || all+len(b) > c.srv.lim.MaxConnPipeMemory {
			c.log.Debug("smb2 pipe write refused: pipe memory bound", slog.Int("session_held", sess), slog.Int("conn_held", all))
			return StatusInsufficientResources
		}
	}
	// Any other error ended the pipe on this input; the answers it
	// produced first (a bind_nak, a fault) stay readable.
	if err := pc.Write(b); errors.Is(err, net.ErrClosed) {
		return StatusPipeDisconnected
	}
	return StatusSuccess
}

// pollPipe is one attempt at a client read of up to n octets: the
// answer and its status, or wait (not nil) when the pipe may still
// answer and the read has to wait for its next change. A pipe waiting for
// input with nothing queued answers STATUS_PIPE_EMPTY; an ended one,
// STATUS_PIPE_DISCONNECTED.
func pollPipe(pc PipeConn, n int) (data []byte, st Status, wait <-chan struct{}) {
	for retried := false; ; retried = true {
		msg, more, err := pc.Next(n)
		switch {
		case msg != nil && more:
			return msg, StatusBufferOverflow, nil
		case msg != nil:
			return msg, StatusSuccess, nil
		case err != nil:
			return nil, StatusPipeDisconnected, nil
		}
		_, out, busy := pc.Pending()
		switch {
		case out > 0 && !retried: // an answer came meanwhile
			continue
		case busy == nil:
			return nil, StatusPipeEmpty, nil
		}
		return nil, 0, busy
	}
}

// readPipe is a client read of up to n octets that waits while the pipe
// may still answer, until ctx is done (then STATUS_PIPE_EMPTY).
func readPipe(ctx context.Context, pc PipeConn, n int) ([]byte, Status) {
	for {
		data, st, wait := pollPipe(pc, n)
		if wait == nil {
			return data, st
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, StatusPipeEmpty
		}
	}
}

// pipeRead is a synchronous client read, bounded by PipeTimeout.
func (c *conn) pipeRead(o *open, n int) ([]byte, Status) {
	if n == 0 {
		return nil, StatusSuccess
	}
	// Most reads find their answer queued (always, on an inline pipe):
	// only one that has to wait pays for a timer.
	if data, st, wait := pollPipe(o.pipe, n); wait == nil {
		return data, st
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.tmo.Pipe)
	defer cancel()
	return readPipe(ctx, o.pipe, n)
}

// waitReady waits up to d for a client read of pc not to have to wait
// and reports whether it got there.
func waitReady(pc PipeConn, d time.Duration) bool {
	var t *time.Timer
	for {
		_, out, busy := pc.Pending()
		if out > 0 || busy == nil {
			return true
		}
		if t == nil {
			t = time.NewTimer(d)
			defer t.Stop()
		}
		select {
		case <-busy:
		case <-t.C:
			return false
		}
	}
}

// pipeIdle reports whether nothing is in flight on pc: no answer unread
// and none coming.
func pipeIdle(pc PipeConn) bool {
	_, out, busy := pc.Pending()
	return out == 0 && busy == nil
}

// armPipeSweep makes sure the connection looks for idle pipes within d,
// unless pipes never idle out.
func (c *conn) armPipeSweep(d time.Duration) {
	if c.srv.tmo.PipeIdle < 0 {
		return
	}
	if c.pipeSweep == nil {
		c.pipeSweep = time.AfterFunc(d, c.postPipeSweep)
		return
	}
	c.pipeSweep.Reset(d)
}

// postPipeSweep asks the serving goroutine to close idle pipes; it runs
// on the sweep timer's goroutine.
func (c *conn) postPipeSweep() {
	c.events.mu.Lock()
	c.events.sweep = true
	c.events.mu.Unlock()
	c.signal()
}

// closeIdlePipes closes the pipes with nothing in flight that no request
// has named for Timeouts.PipeIdle, and arms the next sweep for the
// earliest one left. c.mu must be held.
func (c *conn) closeIdlePipes(now time.Time) {
	idle := c.srv.tmo.PipeIdle
	next := idle
	for id, o := range c.opens {
		left := idle - now.Sub(o.used)
		if !pipeIdle(o.pipe) {
			left = idle
		}
		if left > 0 {
			next = min(next, left)
			continue
		}
		c.log.Info("smb2 pipe closed: idle", slog.Uint64("session", o.sess.id), slog.Duration("idle", now.Sub(o.used)))
		c.closeOpen(id, o)
	}
	if len(c.opens) > 0 {
		c.armPipeSweep(next)
	}
}

// goPipe runs f on a goroutine serve waits for (PipeInfo.Go).
func (c *conn) goPipe(f func()) {
	c.pipes.Add(1)
	go func() {
		defer c.pipes.Done()
		f()
	}()
}

// lookup finds the open a request names, or that the previous request
// of a related compound opened (the file ID all ones).
func (c *conn) lookup(r *request, fid wire.FileID) (*open, Status) {
	if fid == (wire.FileID{Persistent: ^uint64(0), Volatile: ^uint64(0)}) && r.rel.valid {
		fid = r.rel.fileID
	}
	o := c.opens[fid.Volatile]
	if o == nil || o.id != fid || o.sess != r.sess || o.tree != r.hdr.TreeID {
		return nil, StatusFileClosed
	}
	o.used = time.Now()
	return o, StatusSuccess
}

func (c *conn) closeOpen(id uint64, o *open) {
	o.pipe.Close()
	delete(c.opens, id)
	o.sess.nopens--
	o.sess.entry.RemoveOpen()
}

// create answers CREATE: it opens a pipe the server serves.
func (c *conn) create(r *request) result {
	req, err := wire.ParseCreateRequest(r.msg)
	if err != nil {
		return fail(StatusInvalidParameter)
	}
	svc, name, ok := c.srv.pipe(req.Name)
	if !ok {
		return fail(StatusObjectNameNotFound)
	}
	s := r.sess
	if s.nopens >= maxOpensPerSession || len(c.opens) >= c.srv.lim.MaxOpensPerConn {
		return fail(StatusInsufficientResources)
	}
	pc, err := svc.OpenPipe(c.ctx, PipeInfo{
		Name:       name,
		Caller:     s.caller,
		LocalAddr:  c.nc.LocalAddr(),
		RemoteAddr: c.nc.RemoteAddr(),
		MaxBuffer:  c.srv.lim.MaxPipeBuffer,
		Logger:     c.log,
		Go:         c.goPipe,
	})
	if err != nil || pc == nil { // an RPC server shutting down
		return fail(StatusPipeNotAvailable)
	}
	n := c.nextFileID
	c.nextFileID++
	fid := wire.FileID{Persistent: n, Volatile: n}
	o := &open{id: fid, sess: s, tree: r.hdr.TreeID, pipe: pc, used: time.Now()}
	c.opens[n] = o
	c.armPipeSweep(c.srv.tmo.PipeIdle)
	s.nopens++
	s.entry.AddOpen()
	cr := wire.CreateResponse{CreateAction: 1, FileAttributes: 0x80, FileID: fid}
	return result{st: StatusSuccess, body: cr.Append(nil), fileID: fid}
}

// closeRequest answers CLOSE: the pipe closes.
func (c *conn) closeRequest(r *request) result {
	req, err := wire.ParseCloseRequest(r.msg)
	if err != nil {
		return fail(StatusInvalidParameter)
	}
	o, st := c.lookup(r, req.FileID)
	if st != StatusSuccess {
		return fail(st)
	}
	c.closeOpen(o.id.Volatile, o)
	return success(wire.AppendCloseResponse(nil))
}

// flush answers FLUSH: nothing to do on a pipe.
func (c *conn) flush(r *request) result {
	req, err := wire.ParseFlushRequest(r.msg)
	if err != nil {
		return fail(StatusInvalidParameter)
	}
	if _, st := c.lookup(r, req.FileID); st != StatusSuccess {
		return fail(st)
	}
	return success(wire.AppendFlushResponse(nil))
}

// writeRequest answers WRITE: the data goes to the pipe (an inline pipe
// has answered it by the time this returns).
func (c *conn) writeRequest(r *request) result {
	req, err := wire.ParseWriteRequest(r.msg)
	if err != nil || len(req.Data) > DefaultMaxIOSize {
		return fail(StatusInvalidParameter)
	}
	o, st := c.lookup(r, req.FileID)
	if st != StatusSuccess {
		return fail(st)
	}
	if st := c.clientWrite(o, req.Data, false); st != StatusSuccess {
		return fail(st)
	}
	return success(wire.AppendWriteResponse(nil, uint32(len(req.Data))))
}

// readRequest answers READ with the pipe's next message, or goes
// asynchronous while the pipe is working on one.
func (c *conn) readRequest(r *request) result {
	req, err := wire.ParseReadRequest(r.msg)
	if err != nil || req.Length > DefaultMaxIOSize {
		return fail(StatusInvalidParameter)
	}
	o, st := c.lookup(r, req.FileID)
	if st != StatusSuccess {
		return fail(st)
	}
	head := func(n int) []byte { return wire.AppendReadResponseHead(make([]byte, 0, 17), n, 0) }
	return c.pipeAnswer(r, o, int(req.Length), head)
}

// pipeAnswer reads the pipe's answer for a READ or transceive: at once,
// after waiting synchronously, or asynchronously (see deferRead). head
// builds the body before the data, which send appends from where the pipe
// left it, without another copy.
func (c *conn) pipeAnswer(r *request, o *open, n int, head func(n int) []byte) result {
	if d := c.deferRead(r, o, n, head); d != nil {
		return result{st: StatusPending, async: d}
	}
	data, st := c.pipeRead(o, n)
	if st != StatusSuccess && st != StatusBufferOverflow {
		return fail(st)
	}
	res := result{st: st, body: head(len(data)), data: data}
	// A whole answer to a request alone in its message is sent before
	// the pipe is read again: the pipe may have its memory back then.
	if rc, ok := o.pipe.(recycler); ok && st == StatusSuccess && r.mayGoAsync {
		res.recycle = rc
	}
	return res
}

// recycler is a pipe that takes back the memory of an answer once it is
// sent (dcerpc.MessageConn does).
type recycler interface{ Recycle(msg []byte) }

// ioctl answers IOCTL on an open pipe: FSCTL_PIPE_TRANSCEIVE writes the
// input and reads the answer in one request.
func (c *conn) ioctl(r *request) result {
	req, _ := wire.ParseIoctlRequest(r.msg) // parsed by dispatch
	o, st := c.lookup(r, req.FileID)
	if st != StatusSuccess {
		return fail(st)
	}
	switch req.CtlCode {
	case wire.FsctlPipeTransceive:
		if req.Flags&wire.IoctlIsFsctl == 0 || req.MaxOutputResponse > DefaultMaxIOSize || len(req.Input) > DefaultMaxIOSize {
			return fail(StatusInvalidParameter)
		}
		if st := c.clientWrite(o, req.Input, true); st != StatusSuccess {
			return fail(st)
		}
		head := func(n int) []byte { return wire.AppendIoctlResponseHead(make([]byte, 0, 48), req.CtlCode, o.id, n) }
		return c.pipeAnswer(r, o, int(req.MaxOutputResponse), head)
	case wire.FsctlDFSGetReferrals:
		return fail(statusFSDriverRequired)
	}
	return fail(StatusNotSupported)
}

// queryInfo answers QUERY_INFO on an open pipe.
func (c *conn) queryInfo(r *request) result {
	req, err := wire.ParseQueryInfoRequest(r.msg)
	if err != nil {
		return fail(StatusInvalidParameter)
	}
	if _, st := c.lookup(r, req.FileID); st != StatusSuccess {
		return fail(st)
	}
	return pipeInfo(req)
}

// pipeInfo is the FileStandardInformation of a pipe.
func pipeInfo(req *wire.QueryInfoRequest) result {
	if req.InfoType != wire.InfoFile {
		return fail(StatusNotSupported)
	}
	var out []byte
	switch req.InfoClass {
	case wire.FileStandardInformation:
		out = le.AppendUint64(nil, 4096) // allocation size
		out = le.AppendUint64(out, 0)    // end of file
		out = le.AppendUint32(out, 1)    // links
		out = append(out, 1, 0, 0, 0)    // delete pending, directory, reserved
	default:
		return fail(StatusInvalidInfoClass)
	}
	if int(req.OutputBufferLength) < len(out) {
		return fail(StatusInfoLengthMismatch)
	}
	return success(wire.AppendQueryInfoResponse(nil, out))
}
