package smb2

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

func (c *conn) handle(msg []byte) error {
	c.decryptedBy = nil
	if string(msg[:4]) == smbcrypto.ProtocolTransform {
		plain, s, err := c.decrypt(msg)
		if err != nil {
			return err
		}
		msg, c.decryptedBy = plain, s
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
		r, ok, err := c.process(h, msg[off:end], off > 0, &rel)
		if err != nil {
			return err
		}
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
	if c.decryptedBy != nil {
		resps[0].seal = c.decryptedBy
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

func (c *conn) reply(h *wire.Header, status Status, credits uint16, body []byte) response {
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

// process handles one request. ok is false when nothing is to be sent.
func (c *conn) process(h wire.Header, msg []byte, inChain bool, rel *relState) (r response, ok bool, err error) {
	c.srv.stats.command(h.Command)
	if h.Flags&wire.FlagServerToRedir != 0 {
		return r, false, fmt.Errorf("%w: response flag in a request", errClose)
	}
	if h.Command == wire.CmdCancel {
		// A CANCEL has no answer of its own and takes no credit; the
		// operation it names ends with STATUS_CANCELLED. One that does
		// not prove its session is dropped without a word.
		if c.cancelAuthentic(&h, msg) {
			c.cancelAsync(&h)
		} else {
			c.log.Debug("smb2 CANCEL dropped: not authenticated", slog.Uint64("session", h.SessionID))
		}
		return r, false, nil
	}
	if h.Flags&wire.FlagAsyncCommand != 0 {
		return r, false, fmt.Errorf("%w: async request", errClose)
	}
	if !c.negotiated {
		if h.Command != wire.CmdNegotiate {
			return r, false, fmt.Errorf("%w: %d before NEGOTIATE", errClose, h.Command)
		}
		credits, err := c.charge(&h)
		if err != nil {
			return r, false, err
		}
		return c.negotiate(h, msg, credits)
	}
	credits, err := c.charge(&h)
	if err != nil {
		return r, false, err
	}
	switch h.Command {
	case wire.CmdNegotiate:
		return r, false, fmt.Errorf("%w: second NEGOTIATE", errClose)
	case wire.CmdSessionSetup:
		return c.sessionSetup(h, msg, credits), true, nil
	case wire.CmdEcho:
		if inChain && h.Flags&wire.FlagRelatedOperations != 0 && rel.valid && h.SessionID == ^uint64(0) {
			h.SessionID = rel.sessionID
		}
		return c.echo(h, msg, credits), true, nil
	}
	if inChain && h.Flags&wire.FlagRelatedOperations != 0 && rel.valid {
		if rel.status != StatusSuccess {
			return c.reply(&h, rel.status, credits, nil), true, nil
		}
		if h.SessionID == ^uint64(0) {
			h.SessionID = rel.sessionID
		}
		if h.TreeID == ^uint32(0) {
			h.TreeID = rel.treeID
		}
	}
	s := c.sessions[h.SessionID]
	if s == nil || !s.valid {
		r = c.reply(&h, StatusUserSessionDeleted, credits, nil)
		rel.set(h, StatusUserSessionDeleted, wire.FileID{})
		return r, true, nil
	}
	if st := c.encryptionStatus(s); st != StatusSuccess {
		return c.reply(&h, st, credits, nil), true, nil
	}
	signed := h.Flags&wire.FlagSigned != 0 && c.decryptedBy == nil
	if signed {
		if s.signer == nil || s.signer.Verify(msg) != nil {
			c.log.Debug("smb2 bad signature", slog.Uint64("session", s.id))
			return c.reply(&h, StatusAccessDenied, credits, nil), true, nil
		}
	} else if s.signingRequired && c.decryptedBy == nil {
		return c.reply(&h, StatusAccessDenied, credits, nil), true, nil
	}
	if s.doomed && !collecting(h.Command) {
		// Deleted by NetSessionDel and waiting for its pipes to deliver
		// what is in flight: nothing new starts.
		r = c.reply(&h, StatusUserSessionDeleted, credits, nil)
		rel.set(h, StatusUserSessionDeleted, wire.FileID{})
		return r, true, nil
	}
	s.entry.Touch()
	c.asyncOK = !inChain && h.NextCommand == 0
	st, body, fid := c.dispatch(s, &h, msg, rel)
	c.asyncOK = false
	if d := c.deferred; d != nil {
		c.deferred = nil
		rel.set(h, st, fid)
		return c.startAsync(s, h, credits, signed, d), true, nil
	}
	r = c.reply(&h, st, credits, body)
	r.seal = c.sealFor(s)
	rel.set(h, st, fid)
	if s.signer != nil && (signed || s.signingRequired || h.Command == wire.CmdIoctl && st == StatusSuccess && body != nil && le.Uint32(body[4:]) == wire.FsctlValidateNegotiateInfo) {
		r.signer = s.signer
	}
	if h.Command == wire.CmdLogoff && st == StatusSuccess {
		c.logoff(s, "logoff")
	}
	return r, true, nil
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

func (rel *relState) set(h wire.Header, st Status, fid wire.FileID) {
	rel.valid = true
	rel.sessionID = h.SessionID
	rel.treeID = h.TreeID
	rel.status = st
	if fid != (wire.FileID{}) {
		rel.fileID = fid
	}
}

// dispatch serves the commands of an established session. It returns the
// status, the body (nil: an error body) and the file a CREATE opened.
func (c *conn) dispatch(s *smbSession, h *wire.Header, msg []byte, rel *relState) (Status, []byte, wire.FileID) {
	switch h.Command {
	case wire.CmdLogoff:
		if wire.ParseSmall(msg, "LOGOFF") != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		return StatusSuccess, wire.AppendSmall(nil), wire.FileID{}
	case wire.CmdTreeConnect:
		req, err := wire.ParseTreeConnectRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		share := req.Path[strings.LastIndexByte(req.Path, '\\')+1:]
		if !strings.EqualFold(share, "IPC$") {
			return StatusBadNetworkName, nil, wire.FileID{}
		}
		if len(s.trees) >= maxTreesPerSession {
			return StatusInsufficientResources, nil, wire.FileID{}
		}
		id := s.nextTree
		s.nextTree++
		s.trees[id] = true
		h.TreeID = id
		return StatusSuccess, wire.AppendTreeConnectResponse(nil, wire.ShareTypePipe, wire.ShareFlagNoCaching|shareFlags(s), 0, 0x001F01FF), wire.FileID{}
	case wire.CmdIoctl:
		req, err := wire.ParseIoctlRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		if req.CtlCode == wire.FsctlValidateNegotiateInfo {
			return c.validateNegotiate(req)
		}
	}
	if !s.trees[h.TreeID] {
		return StatusNetworkNameDeleted, nil, wire.FileID{}
	}
	switch h.Command {
	case wire.CmdTreeDisconnect:
		if wire.ParseSmall(msg, "TREE_DISCONNECT") != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		for id, o := range c.opens {
			if o.sess == s && o.tree == h.TreeID {
				c.closeOpen(id, o)
			}
		}
		delete(s.trees, h.TreeID)
		return StatusSuccess, wire.AppendSmall(nil), wire.FileID{}
	case wire.CmdCreate:
		return c.create(s, h, msg)
	case wire.CmdClose:
		req, err := wire.ParseCloseRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		c.closeOpen(o.id.Volatile, o)
		return StatusSuccess, wire.AppendCloseResponse(nil), wire.FileID{}
	case wire.CmdFlush:
		req, err := wire.ParseFlushRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		if _, st := c.lookup(s, h, req.FileID, rel); st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		return StatusSuccess, wire.AppendFlushResponse(nil), wire.FileID{}
	case wire.CmdWrite:
		req, err := wire.ParseWriteRequest(msg)
		if err != nil || len(req.Data) > DefaultMaxIOSize {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		if st := pipeStatus(o.pipe.clientWrite(req.Data)); st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		return StatusSuccess, wire.AppendWriteResponse(nil, uint32(len(req.Data))), wire.FileID{}
	case wire.CmdRead:
		req, err := wire.ParseReadRequest(msg)
		if err != nil || req.Length > DefaultMaxIOSize {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		if c.deferRead(o, int(req.Length), func(data []byte) []byte { return wire.AppendReadResponse(make([]byte, 0, 16+len(data)), data, 0) }) {
			return StatusPending, nil, wire.FileID{}
		}
		data, more, st := c.pipeRead(o, int(req.Length))
		if st != StatusSuccess && st != StatusBufferOverflow {
			return st, nil, wire.FileID{}
		}
		_ = more
		return st, wire.AppendReadResponse(make([]byte, 0, 16+len(data)), data, 0), wire.FileID{}
	case wire.CmdIoctl:
		req, _ := wire.ParseIoctlRequest(msg) // parsed above
		o, st := c.lookup(s, h, req.FileID, rel)
		if st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		switch req.CtlCode {
		case wire.FsctlPipeTransceive:
			if req.Flags&wire.IoctlIsFsctl == 0 || req.MaxOutputResponse > DefaultMaxIOSize || len(req.Input) > DefaultMaxIOSize {
				return StatusInvalidParameter, nil, wire.FileID{}
			}
			if o.pipe.pendingOut() {
				return statusPipeBusy, nil, wire.FileID{}
			}
			if st := pipeStatus(o.pipe.clientWrite(req.Input)); st != StatusSuccess {
				return st, nil, wire.FileID{}
			}
			if c.deferRead(o, int(req.MaxOutputResponse), func(data []byte) []byte { return wire.AppendIoctlResponse(nil, req.CtlCode, o.id, data) }) {
				return StatusPending, nil, wire.FileID{}
			}
			data, _, st := c.pipeRead(o, int(req.MaxOutputResponse))
			if st != StatusSuccess && st != StatusBufferOverflow {
				return st, nil, wire.FileID{}
			}
			return st, wire.AppendIoctlResponse(nil, req.CtlCode, o.id, data), wire.FileID{}
		case wire.FsctlDFSGetReferrals:
			return statusFSDriverRequired, nil, wire.FileID{}
		}
		return StatusNotSupported, nil, wire.FileID{}
	case wire.CmdQueryInfo:
		req, err := wire.ParseQueryInfoRequest(msg)
		if err != nil {
			return StatusInvalidParameter, nil, wire.FileID{}
		}
		if _, st := c.lookup(s, h, req.FileID, rel); st != StatusSuccess {
			return st, nil, wire.FileID{}
		}
		return queryInfo(req)
	}
	// LOCK, QUERY_DIRECTORY, CHANGE_NOTIFY, SET_INFO, OPLOCK_BREAK and
	// anything unknown: a pipe has none of them.
	if h.Command >= wire.NumCommands {
		return StatusInvalidParameter, nil, wire.FileID{}
	}
	return StatusNotSupported, nil, wire.FileID{}
}
