package krb5

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Errors that callers tell apart with errors.Is. A *KDCError (an error
// the KDC or the peer answered with) matches the one its code means.
var (
	// ErrClockSkew: the clocks of the client and the KDC or the service
	// differ by more than the allowed skew (KRB_AP_ERR_SKEW).
	ErrClockSkew = errors.New("krb5: clock skew too great")
	// ErrWrongPassword: the KDC refused the pre-authentication made with
	// the credential's key (wrong password or key), or the answer could
	// not be decrypted with it.
	ErrWrongPassword = errors.New("krb5: wrong password or key")
	// ErrUnknownUser: the KDC does not know the client principal.
	ErrUnknownUser = errors.New("krb5: unknown client principal")
	// ErrUnknownService: the KDC does not know the service principal
	// (SPN) a ticket was asked for.
	ErrUnknownService = errors.New("krb5: unknown service principal")
	// ErrWrongService: a ticket is for a service principal the acceptor
	// does not serve (not allowed, or no key for it in the keytab).
	ErrWrongService = errors.New("krb5: ticket for another service")
	// ErrReplay: an authenticator was presented a second time.
	ErrReplay = errors.New("krb5: replayed authenticator")
	// ErrTicketTime: the ticket is expired or not yet valid.
	ErrTicketTime = errors.New("krb5: ticket expired or not yet valid")
	// ErrIntegrity: a ticket, authenticator or reply did not decrypt or
	// verify with the key it should have (KRB_AP_ERR_BAD_INTEGRITY, or a
	// PAC signature that does not verify).
	ErrIntegrity = errors.New("krb5: integrity check failed")
	// ErrNoSubkey: the AP-REP carries no subkey, or one shorter than its
	// encryption type's keys, so there is no session key to use.
	ErrNoSubkey = errors.New("krb5: AP-REP without a usable subkey")
	// ErrMalformed: a token, message or PAC does not decode.
	ErrMalformed = errors.New("krb5: malformed message")
	// ErrCredential: the credential cannot be used (unreadable keytab or
	// credential cache, bad key length, missing realm).
	ErrCredential = errors.New("krb5: unusable credential")
	// ErrKDCUnreachable: no KDC answered.
	ErrKDCUnreachable = errors.New("krb5: KDC unreachable")
)

// Kerberos error codes (RFC 4120 section 7.5.9) that have a meaning here.
const (
	codeCPrincipalUnknown = 6
	codeSPrincipalUnknown = 7
	codePreauthFailed     = 24
	codeBadIntegrity      = 31
	codeTktExpired        = 32
	codeTktNYV            = 33
	codeRepeat            = 34
	codeNotUs             = 35
	codeSkew              = 37
	codeModified          = 41
	codeKRBErrorGeneric   = 60
)

// KDCError is a KRB-ERROR a KDC or a peer answered with.
type KDCError struct {
	Code int32  // the Kerberos error code
	Text string // the error as the KDC worded it (may be empty)
}

func (e *KDCError) Error() string {
	s := "krb5: KRB-ERROR " + strconv.Itoa(int(e.Code))
	if n := codeName(e.Code); n != "" {
		s += " " + n
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Is matches the sentinel error the code means.
func (e *KDCError) Is(target error) bool {
	switch e.Code {
	case codeSkew:
		return target == ErrClockSkew
	case codePreauthFailed, codeBadIntegrity:
		return target == ErrWrongPassword
	case codeCPrincipalUnknown:
		return target == ErrUnknownUser
	case codeSPrincipalUnknown:
		return target == ErrUnknownService
	case codeRepeat:
		return target == ErrReplay
	case codeNotUs:
		return target == ErrWrongService
	case codeTktExpired, codeTktNYV:
		return target == ErrTicketTime
	case codeModified:
		return target == ErrIntegrity
	}
	return false
}

func codeName(c int32) string {
	switch c {
	case codeCPrincipalUnknown:
		return "KDC_ERR_C_PRINCIPAL_UNKNOWN"
	case codeSPrincipalUnknown:
		return "KDC_ERR_S_PRINCIPAL_UNKNOWN"
	case codePreauthFailed:
		return "KDC_ERR_PREAUTH_FAILED"
	case codeBadIntegrity:
		return "KRB_AP_ERR_BAD_INTEGRITY"
	case codeTktExpired:
		return "KRB_AP_ERR_TKT_EXPIRED"
	case codeTktNYV:
		return "KRB_AP_ERR_TKT_NYV"
	case codeRepeat:
		return "KRB_AP_ERR_REPEAT"
	case codeNotUs:
		return "KRB_AP_ERR_NOT_US"
	case codeSkew:
		return "KRB_AP_ERR_SKEW"
	case codeModified:
		return "KRB_AP_ERR_MODIFIED"
	case codeKRBErrorGeneric:
		return "KRB_ERR_GENERIC"
	}
	return ""
}

// gokrb5 flattens the errors of its exchanges into text; the KDC's code
// survives as "KRB Error: (N) NAME".
// The patterns below are read-only after initialisation.
var (
	krbErrorText   = regexp.MustCompile(`KRB Error: \((\d+)\) ([A-Z_]+)`)
	networkText    = regexp.MustCompile(`Networking_Error|failed to communicate with KDC|no KDCs defined|could not get KDC`)
	noSession      = regexp.MustCompile(`no user credentials available and no valid existing session`)
	asRepNoDecrypt = regexp.MustCompile(`(?i)error decrypting (AS_REP|the AS_REP)|Decrypting_Error.*AS_REP|integrity verification failed`)
)

// classify turns an error of the underlying Kerberos library into ours:
// a *KDCError when the text carries the KDC's code, ErrKDCUnreachable for
// network failures, ErrWrongPassword when the KDC's answer did not decrypt
// with the credential's key. what says which step failed.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if m := krbErrorText.FindStringSubmatch(msg); m != nil {
		code, _ := strconv.Atoi(m[1])
		return fmt.Errorf("%s: %w", what, &KDCError{Code: int32(code), Text: m[2]})
	}
	switch {
	case networkText.MatchString(msg):
		return fmt.Errorf("%s: %w: %v", what, ErrKDCUnreachable, err)
	case noSession.MatchString(msg):
		// A client from a credential cache whose ticket-granting ticket
		// has expired, with no key to log on again.
		return fmt.Errorf("%s: %w: the ticket-granting ticket has expired and there is no key to log on again (kinit): %v", what, ErrTicketTime, err)
	case asRepNoDecrypt.MatchString(msg):
		return fmt.Errorf("%s: %w: %v", what, ErrWrongPassword, err)
	}
	return fmt.Errorf("%s: %v", what, err)
}
