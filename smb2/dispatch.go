package smb2

import (
	"fmt"
	"log/slog"

	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// request is one SMB2 request of a message, with what the checks before
// its handler established: the session it runs on, what a related
// operation inherits, and how it was protected.
type request struct {
	hdr     wire.Header
	msg     []byte // the request, header included (what a signature covers)
	credits uint16 // granted back in the answer
	inChain bool   // not the first request of its message
	// rel is what the request inherits from the one before it in a
	// compound, and what it leaves to the next; handle carries it over.
	rel relState
	// sess is the established session the request runs on; nil before
	// the session checks (NEGOTIATE, SESSION_SETUP, ECHO, CANCEL).
	sess *smbSession
	// sealedBy is the session whose key decrypted the message; nil when
	// it came in clear.
	sealedBy *smbSession
	signed   bool // signed in clear, and the signature holds
	// mayGoAsync: alone in its message, so a pipe read may answer
	// STATUS_PENDING and finish later.
	mayGoAsync bool
}

// reply builds the answer to r with the given status and body (nil: an
// error body).
func (r *request) reply(st Status, body []byte) response {
	return reply(&r.hdr, st, r.credits, body)
}

// result is what a command handler answers.
type result struct {
	st   Status
	body []byte // nil: an error body
	data []byte // sent after body (a pipe's answer, not copied)
	// recycle, when set, takes data back once the answer is written.
	recycle recycler
	fileID  wire.FileID // the file a CREATE opened, for related operations
	// sign: signed whenever the session has a key, even when the request
	// was not (the answer to VALIDATE_NEGOTIATE_INFO).
	sign bool
	// async, when set, is a pipe read that goes asynchronous: the answer
	// is an interim STATUS_PENDING and the read finishes apart.
	async *deferredRead
}

// fail is the result of a command refused with st.
func fail(st Status) result { return result{st: st} }

// success is the result of a command answered with body.
func success(body []byte) result { return result{st: StatusSuccess, body: body} }

// handle serves one message: it decrypts it when it is sealed, answers an
// SMB1 NEGOTIATE, or processes each request of an SMB2 compound in turn
// and sends the answers as one frame.
func (c *conn) handle(msg []byte) error {
	var sealedBy *smbSession
	if string(msg[:4]) == smbcrypto.ProtocolTransform {
		plain, s, err := c.decrypt(msg)
		if err != nil {
			return err
		}
		msg, sealedBy = plain, s
	}
	switch {
	case string(msg[:4]) == wire.ProtocolSMB1:
		return c.handleSMB1(msg)
	case string(msg[:4]) != wire.ProtocolSMB2:
		return fmt.Errorf("%w: protocol id %x", errClose, msg[:4])
	}
	var resps []response
	var rel relState
	off := 0
	for {
		h, err := wire.ParseHeader(msg[off:])
		if err != nil {
			return fmt.Errorf("%w: %v", errClose, err)
		}
		end := len(msg)
		if h.NextCommand != 0 {
			next := int(h.NextCommand)
			if next%8 != 0 || next < wire.HeaderSize || off+next >= len(msg) {
				return fmt.Errorf("%w: NextCommand %d", errClose, next)
			}
			end = off + next
		}
		if off > 0 && h.Flags&wire.FlagRelatedOperations == 0 {
			rel = relState{}
		}
		req := request{
			hdr:        h,
			msg:        msg[off:end],
			inChain:    off > 0,
			rel:        rel,
			sealedBy:   sealedBy,
			mayGoAsync: off == 0 && h.NextCommand == 0,
		}
		r, ok, err := c.process(&req)
		if err != nil {
			return err
		}
		rel = req.rel
		if ok {
			resps = append(resps, r)
		}
		if h.NextCommand == 0 {
			break
		}
		off = end
	}
	if len(resps) == 0 {
		return nil
	}
	if sealedBy != nil {
		resps[0].seal = sealedBy
	}
	return c.send(resps)
}

// relState carries what related operations of a compound inherit.
type relState struct {
	valid     bool
	sessionID uint64
	treeID    uint32
	fileID    wire.FileID
	status    Status
}

func (rel *relState) set(h wire.Header, st Status, fid wire.FileID) {
	rel.valid = true
	rel.sessionID = h.SessionID
	rel.treeID = h.TreeID
	rel.status = st
	if fid != (wire.FileID{}) {
		rel.fileID = fid
	}
}

// related reports whether r is a related operation of a compound that
// inherits from the request before it.
func (r *request) related() bool {
	return r.inChain && r.hdr.Flags&wire.FlagRelatedOperations != 0 && r.rel.valid
}

func reply(h *wire.Header, status Status, credits uint16, body []byte) response {
	rh := wire.Header{
		CreditCharge: h.CreditCharge,
		Status:       uint32(status),
		Command:      h.Command,
		Credit:       credits,
		Flags:        wire.FlagServerToRedir | h.Flags&wire.FlagRelatedOperations,
		MessageID:    h.MessageID,
		TreeID:       h.TreeID,
		SessionID:    h.SessionID,
	}
	if body == nil {
		body = wire.AppendErrorResponse(nil)
	}
	return response{hdr: rh, body: body}
}

// process runs the checks every request passes (framing flags, credits,
// session, encryption, signature) and then its handler. ok is false when
// nothing is to be sent; an error ends the connection.
func (c *conn) process(r *request) (_ response, ok bool, _ error) {
	h := &r.hdr
	c.srv.stats.command(h.Command)
	if h.Flags&wire.FlagServerToRedir != 0 {
		return response{}, false, fmt.Errorf("%w: response flag in a request", errClose)
	}
	if h.Command == wire.CmdCancel {
		// A CANCEL has no answer of its own and takes no credit; the
		// operation it names ends with STATUS_CANCELLED. One that does
		// not prove its session is dropped without a word.
		if c.cancelAuthentic(r) {
			c.cancelAsync(h)
		} else {
			c.log.Debug("smb2 CANCEL dropped: not authenticated", slog.Uint64("session", h.SessionID))
		}
		return response{}, false, nil
	}
	if h.Flags&wire.FlagAsyncCommand != 0 {
		return response{}, false, fmt.Errorf("%w: async request", errClose)
	}
	if !c.negotiated && h.Command != wire.CmdNegotiate {
		return response{}, false, fmt.Errorf("%w: %d before NEGOTIATE", errClose, h.Command)
	}
	credits, err := c.credits.charge(h, c.neg.dialect, uint64(c.srv.lim.MaxCredits))
	if err != nil {
		return response{}, false, err
	}
	r.credits = credits
	switch h.Command {
	case wire.CmdNegotiate:
		if c.negotiated {
			return response{}, false, fmt.Errorf("%w: second NEGOTIATE", errClose)
		}
		return c.negotiate(r)
	case wire.CmdSessionSetup:
		return c.sessionSetup(r), true, nil
	case wire.CmdEcho:
		if r.related() && h.SessionID == ^uint64(0) {
			h.SessionID = r.rel.sessionID
		}
		return c.echo(r), true, nil
	}
	if r.related() {
		if r.rel.status != StatusSuccess {
			return r.reply(r.rel.status, nil), true, nil
		}
		if h.SessionID == ^uint64(0) {
			h.SessionID = r.rel.sessionID
		}
		if h.TreeID == ^uint32(0) {
			h.TreeID = r.rel.treeID
		}
	}
	s := c.sessions[h.SessionID]
	if s == nil || !s.valid {
		r.rel.set(*h, StatusUserSessionDeleted, wire.FileID{})
		return r.reply(StatusUserSessionDeleted, nil), true, nil
	}
	if st := c.encryptionStatus(r, s); st != StatusSuccess {
		return r.reply(st, nil), true, nil
	}
	if st := c.checkSignature(r, s); st != StatusSuccess {
		return r.reply(st, nil), true, nil
	}
	if s.doomed && !collecting(h.Command) {
		// Deleted by NetSessionDel and waiting for its pipes to deliver
		// what is in flight: nothing new starts.
		r.rel.set(*h, StatusUserSessionDeleted, wire.FileID{})
		return r.reply(StatusUserSessionDeleted, nil), true, nil
	}
	r.sess = s
	s.entry.Touch()
	res := c.dispatch(r)
	r.rel.set(*h, res.st, res.fileID)
	if res.async != nil {
		return c.startAsync(r, res.async), true, nil
	}
	resp := r.reply(res.st, res.body)
	resp.data, resp.recycle = res.data, res.recycle
	resp.seal = sealFor(r, s)
	if s.signer != nil && (r.signed || s.signingRequired || res.sign) {
		resp.signer = s.signer
	}
	if h.Command == wire.CmdLogoff && res.st == StatusSuccess {
		c.logoff(s, "logoff")
	}
	return resp, true, nil
}

// echo answers ECHO. It is served before the session checks of other
// commands (an idle client may send it with any session ID). A signed
// ECHO is verified and answered signed; an unsigned one is answered
// unsigned, even on a session that requires signing: MS-SMB2 3.3.4.1.1
// signs a response only when its request was signed, and signing
// answers to unsigned requests would hand anyone who can inject a packet
// signatures made with the session's key.
func (c *conn) echo(r *request) response {
	if wire.ParseSmall(r.msg, "ECHO") != nil {
		return r.reply(StatusInvalidParameter, nil)
	}
	s := c.sessions[r.hdr.SessionID]
	if s == nil || !s.valid || s.signer == nil || r.sealedBy != nil {
		return r.reply(StatusSuccess, wire.AppendSmall(nil))
	}
	signed := r.hdr.Flags&wire.FlagSigned != 0
	if signed && s.signer.Verify(r.msg) != nil {
		c.log.Debug("smb2 bad signature", slog.Uint64("session", s.id))
		return r.reply(StatusAccessDenied, nil)
	}
	resp := r.reply(StatusSuccess, wire.AppendSmall(nil))
	if signed {
		resp.signer = s.signer
	}
	return resp
}

// checkSignature checks the signature of a request in clear on session s
// and records in r whether it was signed.
func (c *conn) checkSignature(r *request, s *smbSession) Status {
	if r.sealedBy != nil {
		return StatusSuccess
	}
	if r.hdr.Flags&wire.FlagSigned == 0 {
		if s.signingRequired {
			return StatusAccessDenied
		}
		return StatusSuccess
	}
	if s.signer == nil || s.signer.Verify(r.msg) != nil {
		c.log.Debug("smb2 bad signature", slog.Uint64("session", s.id))
		return StatusAccessDenied
	}
	r.signed = true
	return StatusSuccess
}

// collecting reports whether a command may still run on a session
// deleted by NetSessionDel: reading the answers in flight and closing.
func collecting(cmd uint16) bool {
	switch cmd {
	case wire.CmdRead, wire.CmdClose, wire.CmdTreeDisconnect, wire.CmdLogoff:
		return true
	}
	return false
}

// dispatch runs the handler of a command of an established session.
func (c *conn) dispatch(r *request) result {
	switch r.hdr.Command {
	case wire.CmdLogoff:
		return logoffRequest(r)
	case wire.CmdTreeConnect:
		return c.treeConnect(r)
	case wire.CmdIoctl:
		req, err := wire.ParseIoctlRequest(r.msg)
		if err != nil {
			return fail(StatusInvalidParameter)
		}
		if req.CtlCode == wire.FsctlValidateNegotiateInfo {
			return c.validateNegotiate(req)
		}
	}
	// The other commands work on a tree the session has connected.
	if !r.sess.trees[r.hdr.TreeID] {
		return fail(StatusNetworkNameDeleted)
	}
	switch r.hdr.Command {
	case wire.CmdTreeDisconnect:
		return c.treeDisconnect(r)
	case wire.CmdCreate:
		return c.create(r)
	case wire.CmdClose:
		return c.closeRequest(r)
	case wire.CmdFlush:
		return c.flush(r)
	case wire.CmdWrite:
		return c.writeRequest(r)
	case wire.CmdRead:
		return c.readRequest(r)
	case wire.CmdIoctl:
		return c.ioctl(r)
	case wire.CmdQueryInfo:
		return c.queryInfo(r)
	}
	// LOCK, QUERY_DIRECTORY, CHANGE_NOTIFY, SET_INFO, OPLOCK_BREAK and
	// anything unknown: a pipe has none of them.
	if r.hdr.Command >= wire.NumCommands {
		return fail(StatusInvalidParameter)
	}
	return fail(StatusNotSupported)
}
