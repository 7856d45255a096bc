package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/pipeclient"
)

// Reason says in one word why a server's sessions were not collected. The
// set is closed: every failure maps to exactly one of the constants below,
// and the names are stable (they are printed in JSON and CSV output).
type Reason string

// The reasons, from the network up. A collected result has no reason ("").
const (
	// ReasonNameNotResolved: the host name has no address (DNS).
	ReasonNameNotResolved Reason = "name_not_resolved"
	// ReasonPortClosed: the host refused the TCP connection (nothing
	// listens on the port).
	ReasonPortClosed Reason = "port_closed"
	// ReasonUnreachable: no connection could be made for another reason
	// (no route, no answer to the TCP pre-check), or the server closed or
	// reset the connection.
	ReasonUnreachable Reason = "unreachable"
	// ReasonTimeout: the deadline passed before the work was done. It is
	// never reported as a success.
	ReasonTimeout Reason = "timeout"
	// ReasonLogonFailure: the server refused the credentials.
	ReasonLogonFailure Reason = "logon_failure"
	// ReasonGuestRefused: the server logged the credentials on as its
	// guest account, which the client refuses unless told to accept it
	// (Options.AllowGuest).
	ReasonGuestRefused Reason = "guest_refused"
	// ReasonAccessDenied: ERROR_ACCESS_DENIED from NetrSessionEnum (for
	// level auto: at every level tried, or at one level and the others
	// were not served), or STATUS_ACCESS_DENIED to the IPC$ share or the
	// pipe.
	ReasonAccessDenied Reason = "access_denied"
	// ReasonInvalidLevel: ERROR_INVALID_LEVEL at the level asked for (or
	// at every level auto tried).
	ReasonInvalidLevel Reason = "invalid_level"
	// ReasonNotSupported: ERROR_NOT_SUPPORTED.
	ReasonNotSupported Reason = "not_supported"
	// ReasonStatus: any other NET_API_STATUS the method returned (Status
	// holds it), not-found statuses of GetInfo and Delete included.
	ReasonStatus Reason = "status"
	// ReasonRPCFault: the server answered with a DCE/RPC fault PDU (Fault
	// holds its status).
	ReasonRPCFault Reason = "rpc_fault"
	// ReasonProtocolError: a refused bind or interface, an answer that
	// cannot be decoded, a server that breaks SMB2 or DCE/RPC.
	ReasonProtocolError Reason = "protocol_error"
	// ReasonCanceled: the caller canceled the work (an interrupted scan).
	ReasonCanceled Reason = "canceled"
)

// Reasons returns every reason in documentation order.
func Reasons() []Reason {
	return []Reason{
		ReasonNameNotResolved, ReasonPortClosed, ReasonUnreachable, ReasonTimeout,
		ReasonLogonFailure, ReasonGuestRefused, ReasonAccessDenied, ReasonInvalidLevel,
		ReasonNotSupported, ReasonStatus, ReasonRPCFault, ReasonProtocolError, ReasonCanceled,
	}
}

// Failure is a failure described in the reason vocabulary: what the JSON
// and CSV outputs of a failed call carry.
type Failure struct {
	// Reason is one of the Reason constants.
	Reason Reason
	// Status is the raw status code when the server sent one: the
	// NET_API_STATUS the method returned, or the NTSTATUS of a refused SMB
	// step (a logon failure, an access denial to IPC$). HasStatus says
	// whether there is one; StatusName is its symbolic name when known.
	Status     uint32
	HasStatus  bool
	StatusName string
	// Fault is the status of a DCE/RPC fault PDU (HasFault says whether
	// there is one) and FaultName its name when known.
	Fault     uint32
	HasFault  bool
	FaultName string
	// Level is the SESSION_INFO level of the call that failed (HasLevel
	// says whether there was one); Tried the levels level auto tried.
	Level    session.Level
	HasLevel bool
	Tried    []Attempt
	// Detail is the full message, for people.
	Detail string
}

// Classify describes err, any error from this package or from below it
// (a name lookup, a dial, a context), in the reason vocabulary. A nil err
// is the zero Failure. The order of the checks matters: a cancellation or
// deadline wins over what it caused (a closed connection), and a refused
// connection or an unknown name is told apart from other unreachable
// hosts.
func Classify(err error) Failure {
	if err == nil {
		return Failure{}
	}
	f := Failure{Detail: err.Error()}
	var ce *Error
	if errors.As(err, &ce) {
		f.Level, f.HasLevel = ce.Level, ce.HasLevel
		f.Tried = ce.Tried
		if ce.isStatus() {
			f.Status, f.HasStatus = uint32(ce.Status), true
			f.StatusName = ce.Status.Name()
		}
	}
	var pe *pipeclient.Error
	if !f.HasStatus && errors.As(err, &pe) && pe.Status != 0 {
		f.Status, f.HasStatus = uint32(pe.Status), true
		f.StatusName = pe.Status.Name()
	}
	var fe *dcerpc.Fault
	if errors.As(err, &fe) {
		f.Fault, f.HasFault = fe.Status, true
	} else if ce != nil && ce.Kind == KindFault {
		f.Fault, f.HasFault = ce.Fault, true
	}
	if f.HasFault {
		f.FaultName = dcerpc.StatusName(f.Fault)
	}
	f.Reason = reasonOf(err, ce)
	return f
}

// ReasonOf is Classify(err).Reason.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var ce *Error
	errors.As(err, &ce)
	return reasonOf(err, ce)
}

func reasonOf(err error, ce *Error) Reason {
	if ce != nil {
		switch ce.Kind {
		case KindCanceled:
			return ReasonCanceled
		case KindTimeout:
			return ReasonTimeout
		case KindLogonFailure:
			if errors.Is(err, ErrGuestLogon) {
				return ReasonGuestRefused
			}
			return ReasonLogonFailure
		case KindAccessDenied:
			return ReasonAccessDenied
		case KindInvalidLevel:
			return ReasonInvalidLevel
		case KindNotSupported:
			return ReasonNotSupported
		case KindNotFound, KindStatus:
			return ReasonStatus
		case KindFault:
			return ReasonRPCFault
		case KindProtocol:
			return ReasonProtocolError
		case KindUnreachable:
			return netReason(err, ReasonUnreachable)
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ReasonTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	if r := netReason(err, ""); r != "" {
		return r
	}
	var fe *dcerpc.Fault
	if errors.As(err, &fe) {
		return ReasonRPCFault
	}
	return ReasonProtocolError
}

// netReason tells an unknown name and a refused port from other network
// failures; def is returned for an error that is none of them.
func netReason(err error, def Reason) Reason {
	var dns *net.DNSError
	var ope *net.OpError
	switch {
	case errors.As(err, &dns):
		if dns.IsTimeout {
			return ReasonTimeout
		}
		return ReasonNameNotResolved
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonPortClosed
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.As(err, &ope):
		return ReasonUnreachable
	}
	return def
}

// String returns the reason's name.
func (r Reason) String() string { return string(r) }

// Description is a sentence for people: what the reason means.
func (r Reason) Description() string {
	switch r {
	case "":
		return "collected"
	case ReasonNameNotResolved:
		return "the host name has no address"
	case ReasonPortClosed:
		return "the host refused the connection (nothing listens on the port)"
	case ReasonUnreachable:
		return "no connection could be made, or the server dropped it"
	case ReasonTimeout:
		return "the deadline passed before the sessions were read"
	case ReasonLogonFailure:
		return "the server refused the credentials"
	case ReasonGuestRefused:
		return "the server logged the credentials on as guest, which is refused"
	case ReasonAccessDenied:
		return "the server denied the enumeration to this account"
	case ReasonInvalidLevel:
		return "the server does not serve the level asked for"
	case ReasonNotSupported:
		return "the server does not support the call"
	case ReasonStatus:
		return "the server returned another status"
	case ReasonRPCFault:
		return "the server answered with an RPC fault"
	case ReasonProtocolError:
		return "the server broke the protocol or refused the interface"
	case ReasonCanceled:
		return "the work was canceled"
	}
	return fmt.Sprintf("unknown reason %q", string(r))
}
