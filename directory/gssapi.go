package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/netsession/netsession/krb5"
)

// This file is the client side of the SASL GSSAPI mechanism (RFC 4752)
// with Kerberos: the AP-REQ asking for mutual authentication, the check
// of the AP-REP, then the security-layer negotiation, and the Kerberos
// Wrap tokens as the SASL layer of every later message.

// Security layers of RFC 4752 section 3.3, as the bits of the server's
// offer and the one bit of the client's choice.
const (
	layerNone      byte = 1
	layerIntegrity byte = 2
	layerConf      byte = 4
)

// maxOffer is the largest buffer a SASL party can announce (three bytes),
// and what the client offers to receive.
const maxOffer = 0xFFFFFF

// ErrSecurityLayer is a server that does not offer the security layer
// the connection needs, or answers the negotiation with something other
// than a 4-byte offer.
var ErrSecurityLayer = errors.New("directory: security layer not offered")

// gssapiBind is one GSSAPI bind: step is the saslBind step function.
type gssapiBind struct {
	ini  *krb5.Initiator
	want byte // the layer to choose: layerConf, layerIntegrity or layerNone

	state   int
	wrapper *krb5.Wrapper
	maxSend int // the server's maximum buffer
}

func (g *gssapiBind) step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch g.state {
	case 0:
		if in != nil {
			return nil, false, errors.New("GSSAPI: the server spoke first")
		}
		out, err := g.ini.Init(ctx)
		if err != nil {
			return nil, false, err
		}
		g.state = 1
		return out, false, nil
	case 1:
		// The AP-REP; the context is then established and the client
		// answers with an empty response.
		if err := g.ini.Accept(ctx, in); err != nil {
			return nil, false, err
		}
		w, err := g.ini.Wrapper()
		if err != nil {
			return nil, false, err
		}
		g.wrapper, g.state = w, 2
		return []byte{}, false, nil
	case 2:
		// The server's offer, wrapped without confidentiality: the
		// layers it supports and its maximum buffer.
		offer, _, err := g.wrapper.Unwrap(in)
		if err != nil {
			return nil, false, fmt.Errorf("GSSAPI security layer offer: %w", err)
		}
		choice, err := g.choose(offer)
		if err != nil {
			return nil, false, err
		}
		out, err := g.wrapper.Wrap(choice, false)
		if err != nil {
			return nil, false, err
		}
		g.state = 3
		return out, true, nil
	}
	return nil, false, errors.New("GSSAPI: the server wants another leg after the security layer was chosen")
}

// choose reads the server's offer and returns the client's choice: the
// wanted layer with the largest buffer the client takes (none for no
// layer), and no authorization identity.
func (g *gssapiBind) choose(offer []byte) ([]byte, error) {
	if len(offer) != 4 {
		return nil, fmt.Errorf("%w: an offer of %d bytes, want 4", ErrSecurityLayer, len(offer))
	}
	if offer[0]&g.want == 0 {
		return nil, fmt.Errorf("%w: the server offers %s, the connection needs %s", ErrSecurityLayer, layerNames(offer[0]), layerNames(g.want))
	}
	g.maxSend = int(offer[1])<<16 | int(offer[2])<<8 | int(offer[3])
	if g.want == layerNone {
		return []byte{layerNone, 0, 0, 0}, nil
	}
	if g.maxSend == 0 {
		return nil, fmt.Errorf("%w: the server takes no buffer", ErrSecurityLayer)
	}
	return []byte{g.want, maxOffer >> 16 & 0xff, maxOffer >> 8 & 0xff, maxOffer & 0xff}, nil
}

// layer is the SASL layer the bind chose, nil for none.
func (g *gssapiBind) layer() saslLayer {
	if g.want == layerNone {
		return nil
	}
	return wrapLayer{w: g.wrapper, seal: g.want == layerConf}
}

func layerNames(bits byte) string {
	var s string
	for _, l := range []struct {
		bit  byte
		name string
	}{{layerNone, "no layer"}, {layerIntegrity, "integrity"}, {layerConf, "confidentiality"}} {
		if bits&l.bit != 0 {
			if s != "" {
				s += ", "
			}
			s += l.name
		}
	}
	if s == "" {
		return "nothing"
	}
	return s
}

// wrapLayer carries each message in a Kerberos Wrap token, sealed or
// signed; a token the server sends must have the same protection.
type wrapLayer struct {
	w    *krb5.Wrapper
	seal bool
}

func (l wrapLayer) overhead() int { return l.w.Overhead(l.seal) }

func (l wrapLayer) wrap(p []byte) ([]byte, error) { return l.w.Wrap(p, l.seal) }

func (l wrapLayer) unwrap(buf []byte) ([]byte, error) {
	msg, sealed, err := l.w.Unwrap(buf)
	if err != nil {
		return nil, err
	}
	if sealed != l.seal {
		return nil, fmt.Errorf("a message with confidentiality %v on a layer with %v", sealed, l.seal)
	}
	return msg, nil
}
