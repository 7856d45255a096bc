package smb2

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// maxAsyncPerConn bounds the requests of one connection answered
// STATUS_PENDING at a time; beyond it a pipe read waits synchronously.
const maxAsyncPerConn = 64

// asyncGrace is how long a pipe READ or transceive waits for the answer
// before the server goes asynchronous: most DCE/RPC answers come sooner,
// and answering them at once saves the interim response.
const asyncGrace = time.Millisecond

// deferredRead is a pipe read a handler hands over to run
// asynchronously (result.async).
type deferredRead struct {
	pipe PipeConn
	n    int
	head func(n int) []byte // the success body before n octets of data
}

// deferRead decides whether a pipe read of n bytes goes asynchronous:
// the request may (it is alone in its message), the pipe has no answer
// within asyncGrace and fewer than maxAsyncPerConn operations are
// pending. If so it returns the read to run; otherwise nil.
func (c *conn) deferRead(r *request, o *open, n int, head func(n int) []byte) *deferredRead {
	if !r.mayGoAsync || n == 0 || len(c.async.ops) >= maxAsyncPerConn || waitReady(o.pipe, asyncGrace) {
		return nil
	}
	return &deferredRead{pipe: o.pipe, n: n, head: head}
}

// startAsync runs a deferred pipe read on its own goroutine and returns
// the interim response: status STATUS_PENDING, SMB2_FLAGS_ASYNC_COMMAND
// and a fresh AsyncId, granting the request's credits, never signed
// (MS-SMB2: the server should not sign an interim response) but encrypted
// when the answer would be. The goroutine only hands its result to the
// serving goroutine, which sends the final answer (finishAsync).
func (c *conn) startAsync(r *request, d *deferredRead) response {
	c.async.next++
	id := c.async.next
	ctx, cancel := context.WithCancelCause(c.ctx)
	op := &asyncOp{hdr: r.hdr, head: d.head, sess: r.sess, signed: r.signed, seal: sealFor(r, r.sess), cancel: cancel}
	c.async.ops[id] = op
	timeout := c.srv.tmo.Pipe
	c.async.wg.Add(1)
	go func() {
		defer c.async.wg.Done()
		tctx, tcancel := context.WithTimeout(ctx, timeout)
		data, st := readPipe(tctx, d.pipe, d.n)
		tcancel()
		res := asyncResult{id: id, data: data, st: st}
		if st != StatusSuccess && st != StatusBufferOverflow && errors.Is(context.Cause(ctx), errCancelled) {
			res.data, res.st = nil, StatusCancelled
		}
		select {
		case c.async.done <- res:
		case <-c.done:
		}
	}()
	resp := r.reply(StatusPending, nil)
	resp.hdr.Flags |= wire.FlagAsyncCommand
	resp.hdr.AsyncID = id
	resp.hdr.TreeID = 0
	resp.seal = op.seal
	return resp
}

// cancelAuthentic reports whether a CANCEL may act for the session it
// names, under the rules every request of that session follows: sealed
// with that session's key, or signed with it (and the signature holds),
// or unsigned where the session neither signs nor encrypts. A CANCEL for
// a session the connection does not have cancels nothing anyway.
func (c *conn) cancelAuthentic(r *request) bool {
	s := c.sessions[r.hdr.SessionID]
	switch {
	case s == nil:
		return true
	case r.sealedBy != nil:
		return r.sealedBy == s
	case c.encryptionStatus(r, s) != StatusSuccess:
		return false
	case r.hdr.Flags&wire.FlagSigned != 0:
		return s.signer != nil && s.signer.Verify(r.msg) == nil
	}
	return !s.signingRequired
}

// cancelAsync cancels the pending operation a CANCEL names: by AsyncId in
// the asynchronous form, by MessageId in the synchronous one.
func (c *conn) cancelAsync(h *wire.Header) {
	if h.Flags&wire.FlagAsyncCommand != 0 {
		if op := c.async.ops[h.AsyncID]; op != nil && op.sess.id == h.SessionID {
			op.cancel(errCancelled)
		}
		return
	}
	for _, op := range c.async.ops {
		if op.hdr.MessageID == h.MessageID && op.sess.id == h.SessionID {
			op.cancel(errCancelled)
		}
	}
}

// finishAsync sends the final response of an asynchronous operation, with
// the AsyncId of its interim response and no credits (those were granted
// in the interim). It is dropped when the session has ended meanwhile.
func (c *conn) finishAsync(res asyncResult) error {
	op := c.async.ops[res.id]
	if op == nil {
		return nil
	}
	delete(c.async.ops, res.id)
	op.cancel(nil)
	s := op.sess
	if c.sessions[s.id] != s {
		return nil
	}
	var body, data []byte
	if res.st == StatusSuccess || res.st == StatusBufferOverflow {
		body, data = op.head(len(res.data)), res.data
	}
	r := reply(&op.hdr, res.st, 0, body)
	r.data = data
	r.hdr.Flags |= wire.FlagAsyncCommand
	r.hdr.AsyncID = res.id
	r.hdr.TreeID = 0
	r.seal = op.seal
	if s.signer != nil && (op.signed || s.signingRequired) {
		r.signer = s.signer
	}
	return c.send([]response{r})
}

// asyncState is what a connection knows of its requests answered
// STATUS_PENDING: a goroutine waits for each one's result and hands it to
// the serving goroutine, which sends it.
type asyncState struct {
	ops  map[uint64]*asyncOp // by AsyncId
	next uint64              // the last AsyncId given
	done chan asyncResult
	wg   sync.WaitGroup
}

// asyncOp is a request answered with an interim response.
type asyncOp struct {
	hdr    wire.Header        // the request's header
	head   func(n int) []byte // the success body before n octets of data
	sess   *smbSession
	signed bool        // the request was signed
	seal   *smbSession // the answer is encrypted with this session's key
	cancel context.CancelCauseFunc
}

// asyncResult is the outcome of an asynchronous pipe READ.
type asyncResult struct {
	id   uint64
	data []byte
	st   Status
}

// errCancelled is the cause given to an asynchronous operation's context
// when the client sends CANCEL.
var errCancelled = errors.New("smb2: cancelled by the client")
