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

func (c *conn) lookup(s *smbSession, h *wire.Header, fid wire.FileID, rel *relState) (*open, Status) {
	if fid == (wire.FileID{Persistent: ^uint64(0), Volatile: ^uint64(0)}) && rel.valid {
		fid = rel.fileID
	}
	o := c.opens[fid.Volatile]
	if o == nil || o.id != fid || o.sess != s || o.tree != h.TreeID {
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

func (c *conn) create(s *smbSession, h *wire.Header, msg []byte) (Status, []byte, wire.FileID) {
	req, err := wire.ParseCreateRequest(msg)
	if err != nil {
		return StatusInvalidParameter, nil, wire.FileID{}
	}
	svc, ok := c.srv.pipe(req.Name)
	if !ok {
		return StatusObjectNameNotFound, nil, wire.FileID{}
	}
	if s.nopens >= maxOpensPerSession || len(c.opens) >= c.srv.maxOpensPerConn() {
		return StatusInsufficientResources, nil, wire.FileID{}
	}
	var pc *pipeConn
	if svc.rpc != nil {
		var err error
		pc, err = newInlinePipe(c.ctx, c.nc.LocalAddr(), c.nc.RemoteAddr(), c.srv.maxPipeBuffer(), svc.rpc,
			rpcPipeOptions(svc.name, c.nc.RemoteAddr(), s.caller)...)
		if err != nil { // the RPC server is shutting down
			return StatusPipeNotAvailable, nil, wire.FileID{}
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
	o := &open{id: fid, sess: s, tree: h.TreeID, pipe: pc}
	c.opens[n] = o
	s.nopens++
	s.entry.AddOpen()
	cr := wire.CreateResponse{CreateAction: 1, FileAttributes: 0x80, FileID: fid}
	return StatusSuccess, cr.Append(nil), fid
}

func queryInfo(req *wire.QueryInfoRequest) (Status, []byte, wire.FileID) {
	if req.InfoType != wire.InfoFile {
		return StatusNotSupported, nil, wire.FileID{}
	}
	var out []byte
	switch req.InfoClass {
	case wire.FileStandardInformation:
		out = le.AppendUint64(nil, 4096) // allocation size
		out = le.AppendUint64(out, 0)    // end of file
		out = le.AppendUint32(out, 1)    // links
		out = append(out, 1, 0, 0, 0)    // delete pending, directory, reserved
	default:
		return StatusInvalidInfoClass, nil, wire.FileID{}
	}
	if int(req.OutputBufferLength) < len(out) {
		return StatusInfoLengthMismatch, nil, wire.FileID{}
	}
	return StatusSuccess, wire.AppendQueryInfoResponse(nil, out), wire.FileID{}
}
