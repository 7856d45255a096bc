package ntlm

import (
	"errors"
	"fmt"
	"time"

	"github.com/netsession/netsession/auth"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// callers can test with errors.Is.
var (
	// ErrMalformed marks a token that does not decode: wrong signature or
	// message type, a length or offset that points outside the message,
	// a truncated structure. Returned wrapped in a *DecodeError.
	ErrMalformed = errors.New("ntlm: malformed message")

	// ErrLogonFailure is what a refused logon wraps, whatever the reason.
	// A *LogonError carries the specific reason (one of the Err* below).
	// It wraps auth.ErrLogonFailure, the failure of every mechanism.
	ErrLogonFailure = fmt.Errorf("ntlm: %w", auth.ErrLogonFailure)

	// Specific reasons a logon is refused. Each one is also ErrLogonFailure
	// when returned inside a *LogonError.
	ErrUnknownUser      = errors.New("ntlm: unknown user")
	ErrWrongPassword    = errors.New("ntlm: wrong password")
	ErrMICMissing       = errors.New("ntlm: MIC announced by MsvAvFlags but absent")
	ErrMICMismatch      = errors.New("ntlm: MIC does not verify")
	ErrChallengeReused  = errors.New("ntlm: server challenge already used")
	ErrStaleTimestamp   = errors.New("ntlm: client timestamp outside the accepted window")
	ErrNTLMv1           = errors.New("ntlm: NTLMv1 or LM response refused")
	ErrAnonymousRefused = errors.New("ntlm: anonymous logon refused")
	ErrThrottled        = errors.New("ntlm: too many failed logons; this attempt was not verified")

	// ErrUnsupported marks a negotiation this implementation does not
	// offer (OEM-only strings, connectionless NTLM, signing without
	// extended session security).
	ErrUnsupported = errors.New("ntlm: unsupported negotiation")

	// ErrState marks a call made in the wrong state: a token out of
	// order, a signature requested before the context completed, Step
	// called again after completion.
	ErrState = errors.New("ntlm: call out of sequence")

	// ErrBadSignature marks a signature or sealed message that does not
	// verify. The direction it happened in is unusable afterwards.
	ErrBadSignature = errors.New("ntlm: signature does not verify")

	// ErrNotNegotiated marks a sign or seal call whose capability was not
	// negotiated.
	ErrNotNegotiated = errors.New("ntlm: capability not negotiated")
)

// DecodeError describes where a token failed to decode.
type DecodeError struct {
	What   string // the structure being decoded, e.g. "AUTHENTICATE"
	Detail string // what is wrong with it
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("ntlm: malformed %s: %s", e.What, e.Detail)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

func malformed(what, format string, args ...any) error {
	return &DecodeError{What: what, Detail: fmt.Sprintf(format, args...)}
}

// LogonError is a refused logon. It says which account was tried (as the
// client named it) and why, and never carries secrets.
type LogonError struct {
	User, Domain, Workstation string
	Reason                    error // ErrWrongPassword, ErrMICMismatch, ...
	// Delay is how long the transport should hold back its answer to this
	// failure (Throttle.FailureDelay); 0: answer at once.
	Delay time.Duration
}

// AnswerDelay returns Delay. Transports that know nothing of NTLM find it
// with errors.As on an interface{ AnswerDelay() time.Duration }.
func (e *LogonError) AnswerDelay() time.Duration { return e.Delay }

func (e *LogonError) Error() string {
	return fmt.Sprintf("ntlm: logon failure for %q\\%q from workstation %q: %v", e.Domain, e.User, e.Workstation, e.Reason)
}

// Unwrap makes both errors.Is(err, ErrLogonFailure) and
// errors.Is(err, e.Reason) true.
func (e *LogonError) Unwrap() []error { return []error{ErrLogonFailure, e.Reason} }
