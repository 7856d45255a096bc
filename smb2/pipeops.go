package smb2

import (
	"context"
	"errors"
	"log/slog"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// Status codes used only here.
const (
	statusPipeBusy         Status = 0xC00000AE
	statusFSDriverRequired Status = 0xC000019C
)

type open struct {
	id   wire.FileID
	sess *smbSession
	tree uint32
	pipe *pipeConn
}

func pipeStatus(err error) Status {
	switch {
	case err == nil:
		return StatusSuccess
	case errors.Is(err, errPipeFull):
		return StatusInsufficientResources
	}
	return StatusPipeDisconnected
}

func (c *conn) pipeRead(o *open, n int) ([]byte, bool, Status) {
	if n == 0 {
		return nil, false, StatusSuccess
	}
	// Most reads find their answer queued (always, on an inline pipe):
	// only one that has to wait pays for a timer.
	if data, more, ok, err := o.pipe.tryClientRead(n); ok {
		return readResult(data, more, err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, durOr(c.srv.PipeTimeout, DefaultPipeTimeout))
	defer cancel()
	data, more, err := o.pipe.clientRead(ctx, n)
	return readResult(data, more, err)
}

// readResult turns the outcome of a client read of a pipe into a status.
func readResult(data []byte, more bool, err error) ([]byte, bool, Status) {
	var st Status
	switch {
	case errors.As(err, &st):
		return nil, false, st
	case err != nil:
		return nil, false, StatusPipeEmpty
	case more:
		return data, true, StatusBufferOverflow
	}
	return data, false, StatusSuccess
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
	svc, ok := c.srv.pipe(req.Name)
	if !ok {
		return fail(StatusObjectNameNotFound)
	}
	s := r.sess
	if s.nopens >= maxOpensPerSession || len(c.opens) >= c.srv.maxOpensPerConn() {
		return fail(StatusInsufficientResources)
	}
	var pc *pipeConn
	if svc.rpc != nil {
		var err error
		pc, err = newInlinePipe(c.ctx, c.nc.LocalAddr(), c.nc.RemoteAddr(), c.srv.maxPipeBuffer(), svc.rpc,
			rpcPipeOptions(svc.name, c.nc.RemoteAddr(), s.caller)...)
		if err != nil { // the RPC server is shutting down
			return fail(StatusPipeNotAvailable)
		}
	} else {
		pc = newPipeConn(c.nc.LocalAddr(), c.nc.RemoteAddr(), c.srv.maxPipeBuffer())
		pc.onIdle = c.signal
		caller := s.caller
		c.pipes.Add(1)
		go func() {
			defer c.pipes.Done()
			defer pc.Close()
			if err := svc.stream(c.ctx, pc, caller); err != nil && c.ctx.Err() == nil {
				c.log.Debug("smb2 pipe handler", slog.Any("err", err))
			}
		}()
	}
	n := c.nextFileID
	c.nextFileID++
	fid := wire.FileID{Persistent: n, Volatile: n}
	o := &open{id: fid, sess: s, tree: r.hdr.TreeID, pipe: pc}
	c.opens[n] = o
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
	if st := pipeStatus(o.pipe.clientWrite(req.Data)); st != StatusSuccess {
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
	body := func(data []byte) []byte { return wire.AppendReadResponse(make([]byte, 0, 16+len(data)), data, 0) }
	return c.pipeAnswer(r, o, int(req.Length), body)
}

// pipeAnswer reads the pipe's answer for a READ or transceive: at once,
// after waiting synchronously, or asynchronously (see deferRead).
func (c *conn) pipeAnswer(r *request, o *open, n int, body func(data []byte) []byte) result {
	if d := c.deferRead(r, o, n, body); d != nil {
		return result{st: StatusPending, async: d}
	}
	data, _, st := c.pipeRead(o, n)
	if st != StatusSuccess && st != StatusBufferOverflow {
		return fail(st)
	}
	return result{st: st, body: body(data)}
}

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
		if o.pipe.pendingOut() {
			return fail(statusPipeBusy)
		}
		if st := pipeStatus(o.pipe.clientWrite(req.Input)); st != StatusSuccess {
			return fail(st)
		}
		body := func(data []byte) []byte { return wire.AppendIoctlResponse(nil, req.CtlCode, o.id, data) }
		return c.pipeAnswer(r, o, int(req.MaxOutputResponse), body)
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
