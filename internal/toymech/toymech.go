// Package toymech is a shared-secret security mechanism for tests only:
// a mechanism that none of smb2, pipeclient, dcerpc or rpcauth knows,
// plugged in through the auth interfaces to show that a new mechanism
// (Kerberos) needs no change there. It offers no message protection.
package toymech

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/netsession/netsession/auth"
)

// Mechanism identifies the toy: a test-only shared-secret mechanism, the stand-in for a
// mechanism such as Kerberos that none of smb2, pipeclient or dcerpc
// knows: the initiator sends its name and a nonce, the acceptor a nonce,
// the initiator HMAC-SHA256(secret, nonces) as proof. The session key is
// 32 bytes, the identity carries SIDs only (no group names), as a PAC
// would give.
const Mechanism auth.Mechanism = "1.3.6.1.4.1.32473.1"

// Account is a user of the toy acceptor.
type Account struct {
	Secret    string
	SID       string
	GroupSIDs []string
}

// Acceptor is the server side: accounts by user name, and the throttling
// hook it calls like any mechanism.
type Acceptor struct {
	Accounts map[string]Account
	Throttle auth.Throttle
}

// Mechanism returns Mechanism.
func (*Acceptor) Mechanism() auth.Mechanism { return Mechanism }

// Accept starts an exchange.
func (a *Acceptor) Accept(_ context.Context, peer auth.Peer) (auth.AcceptorContext, error) {
	return &acceptorContext{acc: a, peer: peer}, nil
}

type acceptorContext struct {
	acc            *Acceptor
	peer           auth.Peer
	user           string
	cnonce, snonce []byte
	result         *auth.Result
	key            []byte
}

func mac(key string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

var errRefused = fmt.Errorf("toy: %w", auth.ErrLogonFailure)

// refusal is a wrong secret, with the answer delay the throttle asked for.
type refusal struct{ delay time.Duration }

func (r *refusal) Error() string              { return errRefused.Error() + ": wrong secret" }
func (r *refusal) Unwrap() error              { return errRefused }
func (r *refusal) AnswerDelay() time.Duration { return r.delay }

func (c *acceptorContext) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch {
	case c.cnonce == nil:
		name, nonce, ok := bytes.Cut(in, []byte{0})
		if !ok || len(nonce) != 16 {
			return nil, false, errors.New("toy: bad first token")
		}
		c.user, c.cnonce = string(name), nonce
		c.snonce = make([]byte, 16)
		rand.Read(c.snonce)
		return c.snonce, false, nil
	case c.result == nil:
		account := strings.ToLower(c.user)
		if c.acc.Throttle != nil {
			if d := c.acc.Throttle.Check(c.peer.Source, account, time.Now()); !d.Allowed {
				return nil, false, fmt.Errorf("%w: %w", errRefused, d.Reason)
			}
		}
		a, ok := c.acc.Accounts[c.user]
		good := ok && hmac.Equal(in, mac(a.Secret, []byte("proof"), c.cnonce, c.snonce))
		var delay time.Duration
		if c.acc.Throttle != nil {
			delay = c.acc.Throttle.Record(c.peer.Source, account, good, time.Now())
		}
		if !good {
			return nil, false, &refusal{delay}
		}
		c.key = mac(a.Secret, []byte("key"), c.cnonce, c.snonce)
		c.result = &auth.Result{
			Mechanism:  Mechanism,
			Identity:   auth.Identity{User: c.user, Domain: "TOY", UserSID: a.SID, GroupSIDs: a.GroupSIDs},
			SessionKey: bytes.Clone(c.key),
		}
		return nil, true, nil
	}
	return nil, false, errors.New("toy: exchange finished")
}

func (c *acceptorContext) Result() (auth.Result, bool) {
	if c.result == nil {
		return auth.Result{}, false
	}
	return *c.result, true
}

// CanMIC and the next methods make the toy's mechListMIC: an HMAC over
// the list with the session key.
func (c *acceptorContext) CanMIC() bool      { return c.key != nil }
func (c *acceptorContext) MICRequired() bool { return false }
func (c *acceptorContext) MICDone()          {}
func (c *acceptorContext) GetMIC(msg []byte) ([]byte, error) {
	return mac(string(c.key), []byte("acceptor"), msg), nil
}
func (c *acceptorContext) VerifyMIC(msg, mic []byte) error {
	if !hmac.Equal(mic, mac(string(c.key), []byte("initiator"), msg)) {
		return errors.New("toy: bad MIC")
	}
	return nil
}

// Initiator is the client side: a user and its secret.
type Initiator struct{ User, Secret string }

// Mechanism returns Mechanism.
func (*Initiator) Mechanism() auth.Mechanism { return Mechanism }

// Anonymous returns false.
func (*Initiator) Anonymous() bool { return false }

// Initiate starts an exchange.
func (i *Initiator) Initiate(context.Context) (auth.InitiatorContext, error) {
	return &initiatorContext{ini: i}, nil
}

type initiatorContext struct {
	ini    *Initiator
	cnonce []byte
	key    []byte
}

func (c *initiatorContext) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if c.cnonce == nil {
		c.cnonce = make([]byte, 16)
		rand.Read(c.cnonce)
		return append([]byte(c.ini.User+"\x00"), c.cnonce...), false, nil
	}
	if c.key != nil || len(in) != 16 {
		return nil, false, errors.New("toy: unexpected token")
	}
	c.key = mac(c.ini.Secret, []byte("key"), c.cnonce, in)
	return mac(c.ini.Secret, []byte("proof"), c.cnonce, in), true, nil
}

func (c *initiatorContext) SessionKey() []byte { return bytes.Clone(c.key) }
func (c *initiatorContext) CanMIC() bool       { return c.key != nil }
func (c *initiatorContext) MICRequired() bool  { return true }
func (c *initiatorContext) MICDone()           {}
func (c *initiatorContext) GetMIC(msg []byte) ([]byte, error) {
	return mac(string(c.key), []byte("initiator"), msg), nil
}
func (c *initiatorContext) VerifyMIC(msg, mic []byte) error {
	if !hmac.Equal(mic, mac(string(c.key), []byte("acceptor"), msg)) {
		return errors.New("toy: bad MIC")
	}
	return nil
}
