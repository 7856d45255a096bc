package spnego

import (
	"errors"
	"fmt"

	"github.com/netsession/netsession/auth"
)

// Sentinel errors; every error of this package wraps one of them (or is
// the error of the mechanism it negotiated, passed through unchanged).
var (
	// ErrMalformed marks a token that does not decode; returned inside
	// a *DecodeError.
	ErrMalformed = errors.New("spnego: malformed token")
	// ErrNoMechanism: the peer offers (or selected) no mechanism this
	// side has.
	ErrNoMechanism = errors.New("spnego: no common mechanism")
	// ErrState marks a token out of sequence, or a call after the
	// exchange finished or before it completed.
	ErrState = errors.New("spnego: call out of sequence")
	// ErrMechListMIC marks a mechListMIC missing where it is required, or
	// one that does not verify.
	ErrMechListMIC = errors.New("spnego: mechListMIC missing or invalid")
	// ErrRejected: the acceptor rejected the negotiation. It is also an
	// auth.ErrLogonFailure.
	ErrRejected error = rejected{}
	// ErrNoProtection: the negotiated mechanism offers no per-message
	// signing or sealing.
	ErrNoProtection = errors.New("spnego: the negotiated mechanism offers no message protection")
)

type rejected struct{}

func (rejected) Error() string { return "spnego: the acceptor rejected the negotiation" }

// Unwrap makes errors.Is(ErrRejected, auth.ErrLogonFailure) true.
func (rejected) Unwrap() error { return auth.ErrLogonFailure }

// DecodeError describes where a token failed to decode.
type DecodeError struct {
	What   string // the structure being decoded, e.g. "SPNEGO NegTokenResp"
	Detail string // what is wrong with it
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("spnego: malformed %s: %s", e.What, e.Detail)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

func malformed(what, format string, args ...any) error {
	return &DecodeError{What: what, Detail: fmt.Sprintf(format, args...)}
}
