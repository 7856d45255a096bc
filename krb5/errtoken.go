package krb5

import (
	"errors"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
)

// apErrorCodes are the refusals of an AP-REQ that the acceptor explains
// to the initiator with a KRB-ERROR (RFC 4120 section 3.2.3), as Kerberos
// services do: the initiator can then say why (a clock to synchronise, a
// ticket to renew) instead of a bare logon failure.
var apErrorCodes = []struct {
	err  error
	code int32
}{
	{ErrClockSkew, errorcode.KRB_AP_ERR_SKEW},
	{ErrReplay, errorcode.KRB_AP_ERR_REPEAT},
	{ErrWrongService, errorcode.KRB_AP_ERR_NOT_US},
	{ErrTicketTime, errorcode.KRB_AP_ERR_TKT_EXPIRED},
	{ErrIntegrity, errorcode.KRB_AP_ERR_MODIFIED},
}

// errorToken returns the KRB-ERROR, in a GSS-API token, that answers the
// AP-REQ token in refused with err, or nil when err has no Kerberos code
// here (a malformed request, a cancelled context) or the request does not
// decode far enough to name the service. Its time is the acceptor's, so
// that an initiator sees the skew.
func (a *Acceptor) errorToken(in []byte, err error) []byte {
	code := int32(-1)
	for _, c := range apErrorCodes {
		if errors.Is(err, c.err) {
			code = c.code
			break
		}
	}
	if code < 0 {
		return nil
	}
	msg := in
	if len(in) > 0 && in[0] == 0x60 {
		tokID, m, uerr := UnwrapToken(in)
		if uerr != nil || tokID != TokenAPReq {
			return nil
		}
		msg = m
	}
	var req messages.APReq
	if safeUnmarshal(func() error { return req.Unmarshal(msg) }) != nil || len(req.Ticket.SName.NameString) == 0 {
		return nil
	}
	e := messages.NewKRBError(req.Ticket.SName, req.Ticket.Realm, code, "")
	now := a.now().UTC()
	e.STime = now.Truncate(time.Second)
	e.Susec = now.Nanosecond() / 1000
	e.MsgType = msgtype.KRB_ERROR
	b, merr := e.Marshal()
	if merr != nil {
		return nil
	}
	return WrapToken(TokenKRBError, b)
}
