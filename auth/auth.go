package auth

import (
	"context"
	"errors"
	"time"
)

// Peer describes who is on the other side of an acceptor exchange.
type Peer struct {
	// Source identifies the peer for throttling and logs: typically its
	// IP address without port.
	Source string
}

// Acceptor is the server side of a mechanism: a configuration that starts
// one AcceptorContext per exchange. Implementations are safe for
// concurrent use.
type Acceptor interface {
	// Mechanism names the mechanism whose tokens the contexts take.
	Mechanism() Mechanism
	// Accept starts an exchange with peer.
	Accept(ctx context.Context, peer Peer) (AcceptorContext, error)
}

// AcceptorContext is one exchange on the accepting side. Step is not safe
// for concurrent use.
type AcceptorContext interface {
	// Step consumes the initiator's next token and returns the answer
	// (nil for none). done is true once the initiator is authenticated.
	// On a refusal out may still hold a token for the caller to send
	// along with its failure (SPNEGO's reject).
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// Result returns the outcome once done; false before.
	Result() (Result, bool)
}

// Result is what an acceptor hands back on success.
type Result struct {
	// Mechanism is the mechanism that authenticated the caller (NTLM or
	// Kerberos, never SPNEGO itself).
	Mechanism Mechanism
	// Identity is who the caller is.
	Identity Identity
	// SessionKey is the full session key the mechanism established: 16
	// bytes for NTLM, 16 or 32 for Kerberos. nil when there is none (a
	// guest logon). Transports that want a fixed size cut or pad it
	// themselves (SMB2 signs with the first 16 bytes, right-padded with
	// zeros, and AES-256 ciphers derive from all of it).
	SessionKey []byte
}

// Initiator is the client side of a mechanism: credentials that start one
// InitiatorContext per exchange. Implementations are safe for concurrent
// use.
type Initiator interface {
	// Mechanism names the mechanism whose tokens the contexts make.
	Mechanism() Mechanism
	// Anonymous reports whether the initiator logs on as nobody (a null
	// session). Transports need to know it, as not every server says so.
	Anonymous() bool
	// Initiate starts an exchange.
	Initiate(ctx context.Context) (InitiatorContext, error)
}

// InitiatorContext is one exchange on the initiating side. Step is not
// safe for concurrent use.
type InitiatorContext interface {
	// Step returns the first token when called with nil, then consumes
	// each answer of the acceptor and returns the next token (nil for
	// none). done is true once the context is established.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// SessionKey returns the full session key once done, nil before.
	SessionKey() []byte
}

// Protector is the per-message protection of an established context: what
// DCE/RPC packet integrity (Sign, Verify) and privacy (SealWithin,
// UnsealWithin) call once per PDU, in wire order. Contexts of mechanisms
// that offer it implement it; the others are good for authentication
// only.
type Protector interface {
	// SignatureSize is the length of every signature (16 for NTLM).
	SignatureSize() int
	// Sign returns the signature of msg.
	Sign(msg []byte) ([]byte, error)
	// Verify checks a signature made by the peer.
	Verify(msg, sig []byte) error
	// SealWithin encrypts msg[lo:hi] in place and returns the signature
	// over the whole of msg.
	SealWithin(msg []byte, lo, hi int) ([]byte, error)
	// UnsealWithin decrypts msg[lo:hi] in place and checks sig over msg.
	UnsealWithin(msg []byte, lo, hi int, sig []byte) error
}

// MICContext is implemented by contexts that can protect SPNEGO's
// mechanism list (the mechListMIC of RFC 4178 5). The negotiator calls it
// once the mechanism is done.
type MICContext interface {
	// CanMIC reports whether the established context has a key to make
	// and check a MIC with (a guest logon has none).
	CanMIC() bool
	// MICRequired reports whether this mechanism wants the mechListMIC
	// exchanged even when it was the initiator's first choice (NTLM does
	// when its own MIC or its signing was negotiated).
	MICRequired() bool
	// GetMIC returns a MIC over msg.
	GetMIC(msg []byte) ([]byte, error)
	// VerifyMIC checks the peer's MIC over msg.
	VerifyMIC(msg, mic []byte) error
	// MICDone is called once the mechListMIC exchange of this side is
	// complete (NTLM restarts its RC4 streams then).
	MICDone()
}

// Advertiser is implemented by acceptors that announce themselves before
// any exchange starts: SPNEGO's NegTokenInit2, which an SMB2 server puts
// in its NEGOTIATE answer.
type Advertiser interface {
	// Advertise returns the token to announce.
	Advertise() []byte
}

// Throttle is the hook a mechanism calls around each credential check, so
// that one policy against password guessing covers every mechanism (the
// ntlm package's Throttle implements it). A nil Throttle in a mechanism's
// configuration never throttles.
type Throttle interface {
	// Check is asked before the credentials of a logon of account from
	// source are verified. account is the account's name in lower case
	// (one shared name for accounts that do not exist); anonymous logons
	// are not checked.
	Check(source, account string, now time.Time) Decision
	// Record reports the outcome of a verified logon and returns how long
	// the transport should hold back the failing answer (0 for a
	// success). The mechanism passes that on in its error's AnswerDelay
	// method.
	Record(source, account string, success bool, now time.Time) (answerDelay time.Duration)
}

// Decision is Throttle.Check's answer.
type Decision struct {
	// Allowed: verify the credentials.
	Allowed bool
	// Reason, when not Allowed: ErrAccountLockedOut, or an error of the
	// throttle's own for a source that is guessing.
	Reason error
	// RetryAfter is how long until the budget that refused has room.
	RetryAfter time.Duration
}

// ErrAccountLockedOut: the account has spent its failure budget, and no
// logon of it is verified until the budget refills. It is also an
// ErrLogonFailure. Transports answer it as Windows does
// (STATUS_ACCOUNT_LOCKED_OUT over SMB).
var ErrAccountLockedOut error = lockedOut{}

type lockedOut struct{}

func (lockedOut) Error() string { return "account locked out after too many failed logons" }

// Unwrap makes errors.Is(ErrAccountLockedOut, ErrLogonFailure) true.
func (lockedOut) Unwrap() error { return ErrLogonFailure }

// ErrLogonFailure is in the chain of every refused logon, whatever the
// mechanism and the reason.
var ErrLogonFailure = errors.New("logon failure")
