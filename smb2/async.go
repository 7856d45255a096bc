package smb2

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// maxAsyncPerConn bounds the requests of one connection answered
// STATUS_PENDING at a time; beyond it a pipe read waits synchronously.
const maxAsyncPerConn = 64

// echo answers ECHO. It is served before the session checks of other
// commands (an idle client may send it with any session ID). A signed
// ECHO is verified and answered signed; an unsigned one is answered
// unsigned, even on a session that requires signing: MS-SMB2 3.3.4.1.1
// signs a response only when its request was signed, and signing
// answers to unsigned requests would hand anyone who can inject a packet
// signatures made with the session's key.
func (c *conn) echo(h wire.Header, msg []byte, credits uint16) response {
	if wire.ParseSmall(msg, "ECHO") != nil {
		return c.reply(&h, StatusInvalidParameter, credits, nil)
	}
	s := c.sessions[h.SessionID]
	if s == nil || !s.valid || s.signer == nil || c.decryptedBy != nil {
		return c.reply(&h, StatusSuccess, credits, wire.AppendSmall(nil))
	}
	signed := h.Flags&wire.FlagSigned != 0
	if signed && s.signer.Verify(msg) != nil {
		c.log.Debug("smb2 bad signature", slog.Uint64("session", s.id))
		return c.reply(&h, StatusAccessDenied, credits, nil)
	}
	r := c.reply(&h, StatusSuccess, credits, wire.AppendSmall(nil))
	if signed {
		r.signer = s.signer
	}
	return r
}

// asyncGrace is how long a pipe READ or transceive waits for the answer
// before the server goes asynchronous: most DCE/RPC answers come sooner,
// and answering them at once saves the interim response.
const asyncGrace = time.Millisecond

// deferredRead is a pipe read that dispatch handed over to run
// asynchronously.
type deferredRead struct {
	pipe *pipeConn
	n    int
	body func(data []byte) []byte // the success body around the data
}

// deferRead decides whether a pipe read of n bytes goes asynchronous:
// the request may (it is alone in its message), the pipe has no answer
// within asyncGrace and fewer than maxAsyncPerConn operations are
// pending. If so it records the read for process and reports true.
func (c *conn) deferRead(o *open, n int, body func(data []byte) []byte) bool {
	if !c.asyncOK || n == 0 || len(c.asyncOps) >= maxAsyncPerConn || o.pipe.waitReady(asyncGrace) {
		return false
	}
	c.deferred = &deferredRead{pipe: o.pipe, n: n, body: body}
	return true
}

// startAsync runs a deferred pipe read on its own goroutine and returns
// the interim response: status STATUS_PENDING, SMB2_FLAGS_ASYNC_COMMAND
// and a fresh AsyncId, granting the request's credits, never signed
// (MS-SMB2: the server should not sign an interim response) but encrypted
// when the answer would be. The goroutine only hands its result to the
// serving goroutine, which sends the final answer (finishAsync).
func (c *conn) startAsync(s *smbSession, h wire.Header, credits uint16, signed bool, d *deferredRead) response {
	c.nextAsync++
	id := c.nextAsync
	ctx, cancel := context.WithCancelCause(c.ctx)
	op := &asyncOp{hdr: h, body: d.body, sess: s, signed: signed, seal: c.sealFor(s), cancel: cancel}
	c.asyncOps[id] = op
	timeout := durOr(c.srv.PipeTimeout, DefaultPipeTimeout)
	c.asyncWG.Add(1)
	go func() {
		defer c.asyncWG.Done()
		tctx, tcancel := context.WithTimeout(ctx, timeout)
		data, more, err := d.pipe.clientRead(tctx, d.n)
		tcancel()
		res := asyncResult{id: id}
		if err != nil && errors.Is(context.Cause(ctx), errCancelled) {
			res.st = StatusCancelled
		} else {
			res.data, _, res.st = readResult(data, more, err)
		}
		select {
		case c.asyncDone <- res:
		case <-c.done:
		}
	}()
	r := c.reply(&h, StatusPending, credits, nil)
	r.hdr.Flags |= wire.FlagAsyncCommand
	r.hdr.AsyncID = id
	r.hdr.TreeID = 0
	r.seal = op.seal
	return r
}

// cancelAuthentic reports whether a CANCEL may act for the session it
// names, under the rules every request of that session follows: sealed
// with that session's key, or signed with it (and the signature holds),
// or unsigned where the session neither signs nor encrypts. A CANCEL for
// a session the connection does not have cancels nothing anyway.
func (c *conn) cancelAuthentic(h *wire.Header, msg []byte) bool {
	s := c.sessions[h.SessionID]
	switch {
	case s == nil:
		return true
	case c.decryptedBy != nil:
		return c.decryptedBy == s
	case c.encryptionStatus(s) != StatusSuccess:
		return false
	case h.Flags&wire.FlagSigned != 0:
		return s.signer != nil && s.signer.Verify(msg) == nil
	}
	return !s.signingRequired
}

// cancelAsync cancels the pending operation a CANCEL names: by AsyncId in
// the asynchronous form, by MessageId in the synchronous one.
func (c *conn) cancelAsync(h *wire.Header) {
	if h.Flags&wire.FlagAsyncCommand != 0 {
		if op := c.asyncOps[h.AsyncID]; op != nil && op.sess.id == h.SessionID {
			op.cancel(errCancelled)
		}
		return
	}
	for _, op := range c.asyncOps {
		if op.hdr.MessageID == h.MessageID && op.sess.id == h.SessionID {
			op.cancel(errCancelled)
		}
	}
}

// finishAsync sends the final response of an asynchronous operation, with
// the AsyncId of its interim response and no credits (those were granted
// in the interim). It is dropped when the session has ended meanwhile.
func (c *conn) finishAsync(res asyncResult) error {
	op := c.asyncOps[res.id]
	if op == nil {
		return nil
	}
	delete(c.asyncOps, res.id)
	op.cancel(nil)
	s := op.sess
	if c.sessions[s.id] != s {
		return nil
	}
	var body []byte
	if res.st == StatusSuccess || res.st == StatusBufferOverflow {
		body = op.body(res.data)
	}
	r := c.reply(&op.hdr, res.st, 0, body)
	r.hdr.Flags |= wire.FlagAsyncCommand
	r.hdr.AsyncID = res.id
	r.hdr.TreeID = 0
	r.seal = op.seal
	if s.signer != nil && (op.signed || s.signingRequired) {
		r.signer = s.signer
	}
	return c.send([]response{r})
}
