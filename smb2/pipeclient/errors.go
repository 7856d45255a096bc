package pipeclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/netsession/netsession/ntstatus"
)

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
	Status ntstatus.Status
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
