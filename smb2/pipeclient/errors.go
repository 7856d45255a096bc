package pipeclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// Status is an NTSTATUS as carried in an SMB2 response header.
type Status uint32

// Statuses the client acts on or names.
const (
	StatusSuccess                Status = 0x00000000
	StatusPending                Status = 0x00000103
	StatusBufferOverflow         Status = 0x80000005
	StatusInvalidParameter       Status = 0xC000000D
	StatusMoreProcessingRequired Status = 0xC0000016
	StatusAccessDenied           Status = 0xC0000022
	StatusObjectNameNotFound     Status = 0xC0000034
	StatusLogonFailure           Status = 0xC000006D
	StatusPipeDisconnected       Status = 0xC00000B0
	StatusNotSupported           Status = 0xC00000BB
	StatusNetworkAccessDenied    Status = 0xC00000CA
	StatusBadNetworkName         Status = 0xC00000CC
	StatusPipeBroken             Status = 0xC000014B
	StatusUserSessionDeleted     Status = 0xC0000203
)

// IsError reports whether s is an error severity status.
func (s Status) IsError() bool { return uint32(s)>>30 == 3 }

// Name returns the symbolic name ("STATUS_LOGON_FAILURE") of the
// statuses SMB servers commonly answer, or "".
func (s Status) Name() string { return wire.StatusName(uint32(s)) }

func (s Status) String() string {
	if n := s.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("NTSTATUS 0x%08X", uint32(s))
}

// Sentinel causes, matched with errors.Is through an *Error.
var (
	// ErrProtocol: the server broke the protocol (a malformed or
	// unexpected response, a bad signature, a response that should have
	// been signed or encrypted and was not). The connection is unusable.
	ErrProtocol = errors.New("smb2 client: protocol violation by the server")
	// ErrStatus: the server answered a failure status (in Error.Status).
	ErrStatus = errors.New("smb2 client: server returned a failure status")
	// ErrNoKeys: signing or encryption is required (by the caller or the
	// server) but the session has no keys: a guest or anonymous logon, or a
	// dialect without encryption.
	ErrNoKeys = errors.New("smb2 client: signing or encryption required but the session has no keys")
	// ErrCredits: the server left the client without credits to send.
	ErrCredits = errors.New("smb2 client: no credits left")
	// ErrClosed: the connection was closed, or broken by an earlier
	// failure.
	ErrClosed = errors.New("smb2 client: connection closed")
	// ErrTooLarge: a request or answer exceeds the negotiated sizes.
	ErrTooLarge = errors.New("smb2 client: size exceeds the negotiated maximum")
)

// Error is a failed operation: which step, the NTSTATUS the server
// answered (0 if it answered none) and the cause, which errors.Is sees
// through to (context errors, os.ErrDeadlineExceeded, net errors, and the
// sentinels above).
type Error struct {
	Op     string // "negotiate", "session setup", "tree connect", "validate negotiate", "create", "transceive", "read", "write", "close", "tree disconnect", "logoff"
	Status Status
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smb2 ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		b.WriteString(": ")
		b.WriteString(e.Status.String())
	}
	if e.Err != nil && !(e.Status != 0 && e.Err == ErrStatus) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// protocolError builds the cause of a protocol violation.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}
