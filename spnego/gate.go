package spnego

import (
	"context"
	"fmt"

	"github.com/netsession/netsession/auth"
)

// gate gives an SPNEGO context the message protection of the mechanism
// context it negotiated, but only once the whole SPNEGO exchange
// (mechListMIC included) is complete.
type gate struct {
	state *state
	mech  any // the mechanism's context, once selected
}

// step runs one leg of either side: nothing on a cancelled context or a
// finished exchange (a stray token neither revives nor spoils it), and a
// failed leg fails the exchange.
func (g *gate) step(ctx context.Context, in []byte, leg func(context.Context, []byte) ([]byte, bool, error)) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if *g.state == stateDone || *g.state == stateFailed {
		return nil, false, fmt.Errorf("%w: SPNEGO exchange already finished", ErrState)
	}
	out, done, err := leg(ctx, in)
	if err != nil {
		*g.state = stateFailed
	}
	return out, done, err
}

func (g *gate) protector() (auth.Protector, error) {
	if *g.state != stateDone {
		return nil, fmt.Errorf("%w: context not complete", ErrState)
	}
	p, ok := g.mech.(auth.Protector)
	if !ok {
		return nil, ErrNoProtection
	}
	return p, nil
}

// SignatureSize is the negotiated mechanism's signature size (SPNEGO adds
// nothing to it); 0 before completion or without message protection.
func (g *gate) SignatureSize() int {
	if p, ok := g.mech.(auth.Protector); ok {
		return p.SignatureSize()
	}
	return 0
}

// Sign signs msg with the negotiated mechanism.
func (g *gate) Sign(msg []byte) ([]byte, error) {
	p, err := g.protector()
	if err != nil {
		return nil, err
	}
	return p.Sign(msg)
}

// Verify checks a signature made by the peer.
func (g *gate) Verify(msg, sig []byte) error {
	p, err := g.protector()
	if err != nil {
		return err
	}
	return p.Verify(msg, sig)
}

// SealWithin encrypts msg[lo:hi] in place and signs the whole of msg.
func (g *gate) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	p, err := g.protector()
	if err != nil {
		return nil, err
	}
	return p.SealWithin(msg, lo, hi)
}

// UnsealWithin decrypts msg[lo:hi] in place and verifies sig over msg.
func (g *gate) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	p, err := g.protector()
	if err != nil {
		return err
	}
	return p.UnsealWithin(msg, lo, hi, sig)
}
