package dcerpc

import (
	"errors"
	"fmt"
)

// Fault status codes (C706 appendix E, MS-RPCE 2.2.2.x and 3.x) that this
// package sends or names.
const (
	StatusAccessDenied     uint32 = 0x00000005 // nca_s_fault_access_denied / ERROR_ACCESS_DENIED
	StatusCantPerform      uint32 = 0x000006d8 // nca_s_fault_cant_perform
	StatusBadStubData      uint32 = 0x000006f7 // nca_s_fault_ndr / RPC_X_BAD_STUB_DATA
	StatusSecPkgError      uint32 = 0x00000721 // nca_s_fault_sec_pkg_error
	StatusOpRangeError     uint32 = 0x1c010002 // nca_s_op_rng_error
	StatusUnknownInterface uint32 = 0x1c010003 // nca_s_unknown_if
	StatusProtoError       uint32 = 0x1c01000b // nca_s_proto_error
	StatusContextMismatch  uint32 = 0x1c00001a // nca_s_fault_context_mismatch
	StatusRemoteNoMemory   uint32 = 0x1c00001b // nca_s_fault_remote_no_memory
)

// StatusName returns the symbolic name of a fault status this package
// knows, or "".
func StatusName(status uint32) string {
	switch status {
	case StatusAccessDenied:
		return "access denied"
	case StatusCantPerform:
		return "nca_s_fault_cant_perform"
	case StatusBadStubData:
		return "bad stub data"
	case StatusSecPkgError:
		return "nca_s_fault_sec_pkg_error"
	case StatusOpRangeError:
		return "nca_s_op_rng_error"
	case StatusUnknownInterface:
		return "nca_s_unknown_if"
	case StatusProtoError:
		return "nca_s_proto_error"
	case StatusContextMismatch:
		return "nca_s_fault_context_mismatch"
	case StatusRemoteNoMemory:
		return "nca_s_fault_remote_no_memory"
	}
	return ""
}

// Sentinel faults a Handler returns to select a fault status; the fault
// carries PFC_DID_NOT_EXECUTE. They also match a client's *Fault with the
// same status under errors.Is. Do not modify them.
var (
	// ErrBadStub: the stub could not be decoded; fault 0x000006F7.
	ErrBadStub error = &Fault{Status: StatusBadStubData, DidNotExecute: true}
	// ErrOpRange: the opnum is not one the interface has; fault 0x1C010002.
	ErrOpRange error = &Fault{Status: StatusOpRangeError, DidNotExecute: true}
)

// Fault is a fault PDU as an error, on both sides. A Handler returns one
// to answer a call with a fault carrying Status (any other non-nil error
// is answered with StatusCantPerform and logged); a Client returns one
// when the server answered a call, or an alter_context, with a fault PDU:
// the RPC itself failed, as opposed to a transport error or a status the
// method returned in its stub.
type Fault struct {
	Status uint32
	// DidNotExecute is PFC_DID_NOT_EXECUTE: the server guarantees the
	// operation had no effect.
	DidNotExecute bool
	// CallID is the call the fault answered (set by the Client).
	CallID uint32
}

func (f *Fault) Error() string { return faultText("the RPC failed: fault", f.Status) }

// Is matches a *Fault with the same status, so that errors.Is(err,
// ErrBadStub) and errors.Is(err, &Fault{Status: StatusAccessDenied}) test
// the status only.
func (f *Fault) Is(target error) bool {
	t, ok := target.(*Fault)
	return ok && t != nil && t.Status == f.Status
}

func faultText(prefix string, status uint32) string {
	if n := StatusName(status); n != "" {
		return fmt.Sprintf("dcerpc: %s 0x%08x (%s)", prefix, status, n)
	}
	return fmt.Sprintf("dcerpc: %s 0x%08x", prefix, status)
}

// Decoding and protocol errors. Every decoder error wraps ErrMalformed.
var (
	// ErrMalformed: a PDU violates the wire format (short, lying length,
	// bad version, unsupported data representation).
	ErrMalformed = errors.New("dcerpc: malformed PDU")
	// ErrProtocol: the peer sent a well-formed PDU that is not allowed in
	// the current state (wrong type, wrong call_id, interleaved fragments).
	ErrProtocol = errors.New("dcerpc: protocol error")
	// ErrTooLarge: a fragment or a reassembled message is over the limit.
	ErrTooLarge = errors.New("dcerpc: message too large")
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("dcerpc: server closed")
	// ErrClientBroken: an earlier call on this Client was interrupted
	// mid-exchange, so the stream position is unknown; make a new Client.
	ErrClientBroken = errors.New("dcerpc: client connection unusable after an interrupted call")
	// ErrNotBound: Call before a successful Bind.
	ErrNotBound = errors.New("dcerpc: no presentation context bound")
	// ErrAuth: a security context could not be established or a PDU failed
	// its integrity or privacy check.
	ErrAuth = errors.New("dcerpc: authentication failed")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// BindNakError: the server refused the whole bind with a bind_nak PDU.
type BindNakError struct {
	Reason BindNakReason
}

func (e *BindNakError) Error() string {
	return fmt.Sprintf("dcerpc: bind refused (bind_nak, reason %d %s)", uint16(e.Reason), e.Reason)
}

// ContextRejectedError: the server answered the bind or alter_context but
// did not accept the presentation context.
type ContextRejectedError struct {
	Syntax SyntaxID
	Result ContextResult
	Reason ProviderReason
}

func (e *ContextRejectedError) Error() string {
	return fmt.Sprintf("dcerpc: presentation context for %s rejected: result %d, reason %d (%s)",
		e.Syntax, uint16(e.Result), uint16(e.Reason), e.Reason)
}
