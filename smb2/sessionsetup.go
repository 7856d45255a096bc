package smb2

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/spnego"
)

// smbSession is one SMB session of a connection: being set up (auth
// running) or established (valid), with its keys and trees.
type smbSession struct {
	id              uint64
	valid           bool
	auth            auth.AcceptorContext
	preauth         [smbcrypto.PreauthSize]byte
	signer          *smbcrypto.Signer
	signingRequired bool
	cipher          *sessionCipher // nil: the session does not encrypt
	caller          session.Caller
	entry           *session.Session
	flags           uint16
	trees           map[uint32]bool
	nextTree        uint32
	nopens          int
	doomed          bool
	grace           *time.Timer
}

// sessionSetup answers SESSION_SETUP: one leg of the authentication and,
// at its end, the session's keys and its entry in the table.
func (c *conn) sessionSetup(r *request) response {
	h, msg := &r.hdr, r.msg
	req, err := wire.ParseSessionSetupRequest(msg)
	if err != nil {
		return r.reply(StatusInvalidParameter, nil)
	}
	if req.Flags&wire.SessionFlagBinding != 0 {
		return r.reply(StatusRequestNotAccepted, nil)
	}
	var s *smbSession
	if h.SessionID == 0 {
		if len(c.sessions) >= c.srv.lim.MaxSessionsPerConn {
			return r.reply(StatusInsufficientResources, nil)
		}
		s = &smbSession{id: c.nextSessionID, preauth: c.neg.preauth, trees: map[uint32]bool{}, nextTree: 1}
		c.nextSessionID++
		if s.auth, err = c.startAuth(); err != nil {
			s.auth = nil
		}
		c.sessions[s.id] = s
		h.SessionID = s.id
	} else {
		s = c.sessions[h.SessionID]
		if s == nil {
			return r.reply(StatusUserSessionDeleted, nil)
		}
		if s.valid {
			// Re-authentication of an established session is not offered.
			return r.reply(StatusRequestNotAccepted, nil)
		}
	}
	if c.neg.dialect == Dialect311 {
		s.preauth = smbcrypto.PreauthUpdate(s.preauth, msg)
	}
	refuse := func(st Status, token []byte, why error) response {
		c.holdAnswer(why)
		c.srv.stats.logonsFailed.Add(1)
		c.log.Info("smb2 logon refused", slog.Any("err", why))
		delete(c.sessions, s.id)
		return r.reply(st, wire.AppendSessionSetupResponse(nil, 0, token))
	}
	if s.auth == nil {
		return refuse(StatusLogonFailure, nil, err)
	}
	out, logon, err := c.authStep(s, req.SecurityBuffer)
	if err != nil {
		return refuse(logonStatus(err), out, err)
	}
	if logon == nil {
		resp := r.reply(StatusMoreProcessingRequired, wire.AppendSessionSetupResponse(nil, 0, out))
		if c.neg.dialect == Dialect311 {
			resp.after = func(b []byte) { s.preauth = smbcrypto.PreauthUpdate(s.preauth, b) }
		}
		return resp
	}
	s.caller = logon.caller
	switch {
	case s.caller.IsAnonymous():
		if !c.srv.AllowAnonymous {
			return refuse(StatusLogonFailure, nil, errors.New("anonymous logons are not allowed"))
		}
		s.flags = wire.SessionIsNull
	case s.caller.Guest:
		if !c.srv.AllowGuest {
			return refuse(StatusLogonFailure, nil, errors.New("guest logons are not allowed"))
		}
		s.flags = wire.SessionIsGuest
	}
	if s.flags == 0 && len(logon.key) > 0 {
		keys := smbcrypto.DeriveKeys(c.neg.dialect, logon.key, s.preauth[:])
		alg := smbcrypto.AlgAESCMAC
		switch {
		case c.neg.dialect < Dialect300:
			alg = smbcrypto.AlgHMACSHA256
		case c.neg.gmac:
			alg = smbcrypto.AlgAESGMAC
		}
		signer, err := smbcrypto.NewSigner(alg, keys.Signing)
		if err != nil {
			return refuse(StatusLogonFailure, nil, err)
		}
		s.signer = signer
		s.signingRequired = c.srv.Signing == SigningRequired ||
			uint16(req.SecurityMode)&wire.SigningRequired != 0 || c.neg.clientSecMode&wire.SigningRequired != 0
	}
	if st, err := c.setupEncryption(s, logon.key); st != StatusSuccess {
		return refuse(st, nil, err)
	}
	sid := s.id
	entry, err := c.srv.Table.Open(session.Spec{
		Client:    c.remote,
		User:      s.caller.User,
		Guest:     s.caller.Guest,
		Transport: c.srv.transport(),
		OnClose:   func() { c.postKill(killEvent{id: sid}) },
	})
	if err != nil {
		return refuse(StatusRequestNotAccepted, nil, err)
	}
	s.entry = entry
	s.valid = true
	c.established.Store(true)
	c.srv.stats.sessionsOpened.Add(1)
	c.srv.stats.sessionsOpen.Add(1)
	attrs := []slog.Attr{slog.String("user", s.caller.User), slog.Bool("guest", s.caller.Guest), slog.String("dialect", fmt.Sprintf("%04x", c.neg.dialect))}
	if s.signer != nil {
		attrs = append(attrs, slog.String("signing", signingName(s.signer.Algorithm())), slog.Bool("required", s.signingRequired))
	}
	if s.cipher != nil {
		attrs = append(attrs, slog.String("encryption", smbcrypto.CipherName(s.cipher.id)))
	}
	c.log.LogAttrs(c.ctx, slog.LevelDebug, "smb2 session", attrs...)
	resp := r.reply(StatusSuccess, wire.AppendSessionSetupResponse(nil, s.flags, out))
	if s.signer != nil && (c.neg.dialect == Dialect311 || s.signingRequired) {
		resp.signer = s.signer
	}
	return resp
}

// logoff ends a session: its pipes close and it leaves the table.
func (c *conn) logoff(s *smbSession, why string) {
	for id, o := range c.opens {
		if o.sess == s {
			o.pipe.Close()
			delete(c.opens, id)
		}
	}
	if s.grace != nil {
		s.grace.Stop()
	}
	if s.entry != nil {
		s.entry.Close()
	}
	delete(c.sessions, s.id)
	if s.valid {
		c.srv.stats.sessionsOpen.Add(-1)
		c.log.Debug("smb2 session ends", slog.String("user", s.caller.User), slog.String("why", why))
	}
	any := false
	for _, x := range c.sessions {
		any = any || x.valid
	}
	c.established.Store(any)
}

func signingName(alg uint16) string {
	switch alg {
	case smbcrypto.AlgHMACSHA256:
		return "HMAC-SHA256"
	case smbcrypto.AlgAESCMAC:
		return "AES-CMAC"
	case smbcrypto.AlgAESGMAC:
		return "AES-GMAC"
	}
	return "unknown"
}

// The calls into the authentication mechanism are kept to these three
// functions.

// acceptorHint is the security buffer of the NEGOTIATE answer: the
// mechanisms the server accepts (the acceptor's advertisement, SPNEGO's
// NegTokenInit2), nil without an acceptor.
func (s *Server) acceptorHint() []byte {
	a, err := s.acceptor()
	if err != nil {
		return nil
	}
	if adv, ok := a.(auth.Advertiser); ok {
		return adv.Advertise()
	}
	return nil
}

// acceptor returns Auth wrapped in SPNEGO unless it is SPNEGO already.
func (s *Server) acceptor() (auth.Acceptor, error) {
	if s.Auth == nil {
		return nil, errors.New("no authenticator configured")
	}
	if s.Auth.Mechanism() == auth.MechSPNEGO {
		return s.Auth, nil
	}
	return spnego.NewAcceptor(s.Auth)
}

// startAuth begins the authentication of a new session; an error when no
// acceptor is configured (every logon then fails).
func (c *conn) startAuth() (auth.AcceptorContext, error) {
	a, err := c.srv.acceptor()
	if err != nil {
		return nil, err
	}
	return a.Accept(c.ctx, auth.Peer{Source: c.remote})
}

// logon is what a finished authentication established.
type logon struct {
	caller session.Caller
	key    []byte // the full session key; empty for guest and anonymous
}

// authStep runs one leg of s's authentication with the client's token.
// It returns the token to send back and, once the exchange is finished,
// the logon (nil while more legs are needed).
func (c *conn) authStep(s *smbSession, token []byte) ([]byte, *logon, error) {
	out, done, err := s.auth.Step(c.ctx, token)
	if err != nil || !done {
		return out, nil, err
	}
	l, _ := s.auth.Result()
	s.auth = nil
	return out, &logon{caller: l.Identity.Caller(), key: l.SessionKey}, nil
}

// logoffRequest answers LOGOFF; process logs the session off once the
// answer is built.
func logoffRequest(r *request) result {
	if wire.ParseSmall(r.msg, "LOGOFF") != nil {
		return fail(StatusInvalidParameter)
	}
	return success(wire.AppendSmall(nil))
}
