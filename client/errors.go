package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

// Kind classifies a failure by what a user can do about it.
type Kind uint8

// The kinds of failure. Each has a sentinel error (ErrUnreachable, ...) that
// errors.Is matches against an *Error of that kind.
const (
	// KindUnreachable: no connection could be made, or it was lost.
	KindUnreachable Kind = iota + 1
	// KindTimeout: the per-call deadline (Options.Timeout) or the
	// caller's context deadline passed.
	KindTimeout
	// KindCanceled: the caller's context was canceled.
	KindCanceled
	// KindLogonFailure: the server refused the credentials.
	KindLogonFailure
	// KindAccessDenied: the method returned ERROR_ACCESS_DENIED (5).
	KindAccessDenied
	// KindInvalidLevel: the method returned ERROR_INVALID_LEVEL (0x7C).
	KindInvalidLevel
	// KindNotSupported: the method returned ERROR_NOT_SUPPORTED (0x32).
	KindNotSupported
	// KindNotFound: NERR_UserNotFound or NERR_ClientNameNotFound.
	KindNotFound
	// KindStatus: the method returned another NET_API_STATUS.
	KindStatus
	// KindFault: the server answered with a fault PDU.
	KindFault
	// KindProtocol: the server refused the bind or the srvsvc interface,
	// or sent something that cannot be decoded.
	KindProtocol
)

var kindNames = [...]string{
	KindUnreachable:  "unreachable",
	KindTimeout:      "timeout",
	KindCanceled:     "canceled",
	KindLogonFailure: "logon failure",
	KindAccessDenied: "access denied",
	KindInvalidLevel: "invalid level",
	KindNotSupported: "not supported",
	KindNotFound:     "not found",
	KindStatus:       "status",
	KindFault:        "rpc fault",
	KindProtocol:     "protocol error",
}

// String returns a short lower-case name ("access denied", "rpc fault").
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sentinel errors, one per Kind: errors.Is(err, client.ErrAccessDenied).
var (
	ErrUnreachable  = &kindError{KindUnreachable}
	ErrTimeout      = &kindError{KindTimeout}
	ErrCanceled     = &kindError{KindCanceled}
	ErrLogonFailure = &kindError{KindLogonFailure}
	ErrAccessDenied = &kindError{KindAccessDenied}
	ErrInvalidLevel = &kindError{KindInvalidLevel}
	ErrNotSupported = &kindError{KindNotSupported}
	ErrNotFound     = &kindError{KindNotFound}
	ErrStatus       = &kindError{KindStatus}
	ErrFault        = &kindError{KindFault}
	ErrProtocol     = &kindError{KindProtocol}
)

// ErrGuestLogon is in the chain of a logon failure where the server
// logged the credentials on as its guest account, which the client
// refuses unless Options.AllowGuest (or SMBPipeOptions.AllowGuest)
// accepts it.
var ErrGuestLogon = errors.New("the server logged the credentials on as its guest account (an unknown user or a wrong password mapped to guest); a guest session is unsigned and cannot be authenticated")

// ErrConnectLevel is in the chain of the fault nca_s_fault_access_denied
// that ends the first call of an association authenticated at level
// connect. Servers that refuse that level (Samba by default, and this
// module's server) answer it with the same fault as a refused logon, so
// the error has KindFault and either may be the cause.
var ErrConnectLevel = errors.New("the server refuses auth level connect, or refused the credentials (both answer with this fault)")

type kindError struct{ k Kind }

func (e *kindError) Error() string { return e.k.String() }

// Error is every failure the Client reports. It keeps apart the three ways
// a call can fail: the transport (Unreachable, Timeout, Canceled), the RPC
// (LogonFailure, Fault, Protocol), and a NET_API_STATUS the method returned
// (AccessDenied, InvalidLevel, NotSupported, NotFound, Status).
type Error struct {
	Kind   Kind
	Op     string // "connect", "bind", "NetrSessionEnum", "NetrSessionDel"
	Server string // the server as given to Dial
	// Level is the SESSION_INFO level of the call that failed; HasLevel
	// says whether there was one (NetrSessionDel and binds have none).
	Level    session.Level
	HasLevel bool
	// Status is the returned NET_API_STATUS for the status kinds.
	Status session.Status
	// Fault is the fault PDU's status for KindFault (and for a
	// KindLogonFailure the server reported with a fault).
	Fault uint32
	// NTStatus is the NTSTATUS an SMB server answered the failed SMB step
	// with (ncacn_np), 0 if none; the step is in the *pipeclient.Error
	// that Err wraps.
	NTStatus ntstatus.Status
	// Tried lists, for level auto, the levels tried and the status each
	// got (when every level was refused, the last one included).
	Tried []Attempt
	// Err is the underlying error (*srvs.StatusError, *dcerpc.Fault,
	// *pipeclient.Error, a net error, ...).
	Err error
}

// Attempt is one level tried by level auto, and the status that refused it.
type Attempt struct {
	Level  session.Level
	Status session.Status
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Kind == KindFault:
		fmt.Fprintf(&b, "the RPC failed: fault 0x%08x", e.Fault)
		if n := dcerpc.StatusName(e.Fault); n != "" {
			fmt.Fprintf(&b, " (%s)", n)
		}
		if e.HasLevel {
			fmt.Fprintf(&b, " at level %d", e.Level)
		}
	case e.isStatus():
		fmt.Fprintf(&b, "%v", e.Status)
		if e.HasLevel {
			fmt.Fprintf(&b, " at level %d", e.Level)
		}
	default:
		b.WriteString(e.Kind.String())
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
	}
	if len(e.Tried) > 0 {
		b.WriteString("; level auto tried")
		for i, a := range e.Tried {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %d (%s)", a.Level, statusName(a.Status))
		}
	}
	return b.String()
}

func (e *Error) isStatus() bool {
	switch e.Kind {
	case KindAccessDenied, KindInvalidLevel, KindNotSupported, KindNotFound, KindStatus:
		return true
	}
	return false
}

// IsStatus reports whether the server answered the call with a
// NET_API_STATUS (as opposed to a transport or RPC failure).
func (e *Error) IsStatus() bool { return e.isStatus() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(*kindError)
	return ok && k.k == e.Kind
}

// KindOf returns the Kind of err, or 0 if err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func statusKind(st session.Status) Kind {
	switch st {
	case session.StatusAccessDenied:
		return KindAccessDenied
	case session.StatusInvalidLevel:
		return KindInvalidLevel
	case session.StatusNotSupported:
		return KindNotSupported
	case session.StatusUserNotFound, session.StatusClientNameNotFound:
		return KindNotFound
	}
	return KindStatus
}

// wrapError turns an error from a lower layer into an *Error. parent is
// the caller's context (to tell its cancellation from our per-call
// deadline); authed says whether the association carries DCE/RPC
// authentication whose outcome the server has not confirmed yet (NTLMSSP
// finishes with auth3, which has no answer: a refused logon shows as a
// fault on the first request).
func wrapError(parent context.Context, op, server string, err error, authed bool) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	e := &Error{Op: op, Server: server, Err: err}
	var (
		se  *srvs.StatusError
		fe  *dcerpc.Fault
		bn  *dcerpc.BindNakError
		cr  *dcerpc.ContextRejectedError
		ne  net.Error
		ope *net.OpError
	)
	switch {
	case errors.As(err, &se):
		e.Kind, e.Status = statusKind(se.Status), se.Status
		if se.Op == "NetrSessionEnum" {
			e.Level, e.HasLevel = session.Level(se.Level), true
		}
	case errors.Is(err, context.Canceled) || parent.Err() == context.Canceled:
		e.Kind = KindCanceled
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout():
		e.Kind = KindTimeout
	case errors.As(err, &fe):
		e.Kind, e.Fault = KindFault, fe.Status
		switch {
		case !authed:
		case fe.Status == dcerpc.StatusAccessDenied, fe.Status == dcerpc.StatusSecPkgError:
			e.Kind = KindLogonFailure
		case fe.Status == dcerpc.StatusProtoError && op != "bind":
			// Samba 4.17's answer to the first request after a refused
			// auth3.
			e.Kind = KindLogonFailure
		}
	case errors.As(err, &bn):
		e.Kind = KindProtocol
		if authed && (bn.Reason == dcerpc.NakReasonInvalidChecksum || bn.Reason == dcerpc.NakReasonNotSpecified ||
			bn.Reason == dcerpc.NakReasonAuthTypeNotRecognized) {
			e.Kind = KindLogonFailure
		}
	case errors.Is(err, dcerpc.ErrAuth):
		e.Kind = KindLogonFailure
	case errors.As(err, &cr), errors.Is(err, dcerpc.ErrMalformed), errors.Is(err, dcerpc.ErrProtocol),
		errors.Is(err, dcerpc.ErrTooLarge):
		e.Kind = KindProtocol
	case errors.As(err, &ope), errors.Is(err, io.EOF), errors.Is(err, epm.ErrNotRegistered), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE),
		errors.Is(err, dcerpc.ErrClientBroken):
		e.Kind = KindUnreachable
	default:
		// An undecodable stub (ndr errors from the srvs decoders) and
		// anything else unexpected.
		e.Kind = KindProtocol
	}
	// The first call after an auth3 is where a refused NTLMSSP logon
	// shows. Our server answers it with a fault 5 and Samba 4.17 with a
	// fault nca_s_proto_error (both above); a server that sends its fault
	// under the auth3's call_id or just disconnects reads as a protocol
	// error or a lost connection.
	if authed && op != "bind" && op != "connect" && (e.Kind == KindProtocol || e.Kind == KindUnreachable) {
		e.Kind = KindLogonFailure
	}
	return e
}

func statusName(s session.Status) string {
	if n := s.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("0x%x", uint32(s))
}
