package smb2

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

type smbSession struct {
	id              uint64
	valid           bool
	auth            *ntlm.SPNEGOServerContext
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

func (c *conn) sessionSetup(h wire.Header, msg []byte, credits uint16) response {
	req, err := wire.ParseSessionSetupRequest(msg)
	if err != nil {
		return c.reply(&h, StatusInvalidParameter, credits, nil)
	}
	if req.Flags&wire.SessionFlagBinding != 0 {
		return c.reply(&h, StatusRequestNotAccepted, credits, nil)
	}
	var s *smbSession
	if h.SessionID == 0 {
		if len(c.sessions) >= c.srv.maxSessionsPerConn() {
			return c.reply(&h, StatusInsufficientResources, credits, nil)
		}
		s = &smbSession{id: c.nextSessionID, preauth: c.preauth, trees: map[uint32]bool{}, nextTree: 1}
		c.nextSessionID++
		if c.srv.Auth != nil {
			s.auth = c.srv.Auth.NewSPNEGOContext(c.remote)
		}
		c.sessions[s.id] = s
		h.SessionID = s.id
	} else {
		s = c.sessions[h.SessionID]
		if s == nil {
			return c.reply(&h, StatusUserSessionDeleted, credits, nil)
		}
		if s.valid {
			// Re-authentication of an established session is not offered.
			return c.reply(&h, StatusRequestNotAccepted, credits, nil)
		}
	}
	if c.dialect == Dialect311 {
		s.preauth = smbcrypto.PreauthUpdate(s.preauth, msg)
	}
	fail := func(st Status, token []byte, why error) response {
		c.srv.stats.logonsFailed.Add(1)
		c.log.Info("smb2 logon refused", slog.Any("err", why))
		delete(c.sessions, s.id)
		return c.reply(&h, st, credits, wire.AppendSessionSetupResponse(nil, 0, token))
	}
	if s.auth == nil {
		return fail(StatusLogonFailure, nil, errors.New("no authenticator configured"))
	}
	out, done, err := s.auth.Step(c.ctx, req.SecurityBuffer)
	if err != nil {
		return fail(StatusLogonFailure, out, err)
	}
	if !done {
		r := c.reply(&h, StatusMoreProcessingRequired, credits, wire.AppendSessionSetupResponse(nil, 0, out))
		if c.dialect == Dialect311 {
			r.after = func(b []byte) { s.preauth = smbcrypto.PreauthUpdate(s.preauth, b) }
		}
		return r
	}
	logon, _ := s.auth.Logon()
	s.auth = nil
	s.caller = logon.Caller
	switch {
	case s.caller.IsAnonymous():
		if !c.srv.AllowAnonymous {
			return fail(StatusLogonFailure, nil, errors.New("anonymous logons are not allowed"))
		}
		s.flags = wire.SessionIsNull
	case s.caller.Guest:
		if !c.srv.AllowGuest {
			return fail(StatusLogonFailure, nil, errors.New("guest logons are not allowed"))
		}
		s.flags = wire.SessionIsGuest
	}
	if s.flags == 0 && len(logon.SessionKey) > 0 {
		keys := smbcrypto.DeriveKeys(c.dialect, logon.SessionKey, s.preauth[:])
		alg := smbcrypto.AlgAESCMAC
		switch {
		case c.dialect < Dialect300:
			alg = smbcrypto.AlgHMACSHA256
		case c.gmac:
			alg = smbcrypto.AlgAESGMAC
		}
		signer, err := smbcrypto.NewSigner(alg, keys.Signing)
		if err != nil {
			return fail(StatusLogonFailure, nil, err)
		}
		s.signer = signer
		s.signingRequired = c.srv.Signing == SigningRequired ||
			uint16(req.SecurityMode)&wire.SigningRequired != 0 || c.clientSecMode&wire.SigningRequired != 0
	}
	if st, err := c.setupEncryption(s, logon.SessionKey); st != StatusSuccess {
		return fail(st, nil, err)
	}
	sid := s.id
	entry, err := c.srv.Table.Open(session.Spec{
		Client:    c.remote,
		User:      s.caller.User,
		Guest:     s.caller.Guest,
		Transport: c.srv.transport(),
		OnClose:   func() { c.postKill(sid) },
	})
	if err != nil {
		return fail(StatusRequestNotAccepted, nil, err)
	}
	s.entry = entry
	s.valid = true
	c.established.Store(true)
	c.srv.stats.sessionsOpened.Add(1)
	c.srv.stats.sessionsOpen.Add(1)
	attrs := []slog.Attr{slog.String("user", s.caller.User), slog.Bool("guest", s.caller.Guest), slog.String("dialect", fmt.Sprintf("%04x", c.dialect))}
	if s.signer != nil {
		attrs = append(attrs, slog.String("signing", signingName(s.signer.Algorithm())), slog.Bool("required", s.signingRequired))
	}
	if s.cipher != nil {
		attrs = append(attrs, slog.String("encryption", smbcrypto.CipherName(s.cipher.id)))
	}
	c.log.LogAttrs(c.ctx, slog.LevelDebug, "smb2 session", attrs...)
	r := c.reply(&h, StatusSuccess, credits, wire.AppendSessionSetupResponse(nil, s.flags, out))
	if s.signer != nil && (c.dialect == Dialect311 || s.signingRequired) {
		r.signer = s.signer
	}
	return r
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
