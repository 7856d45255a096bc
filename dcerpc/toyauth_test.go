package dcerpc

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/netsession/netsession/session"
)

// The toy mechanism exercises the authentication plumbing without NTLM:
//
//	client → "HELLO:<user>"
//	server → "CHAL:<16-octet nonce>"
//	client → "RESP:" + HMAC(key, nonce)   (done: sent in auth3, or
//	                                        not done: sent in alter_context)
//	server → nothing (auth3 mode) or "OK:" + HMAC(key, "ok"+nonce)
//
// Signatures are 16 octets: HMAC-SHA256(key, direction, sequence, msg).
// Sealing signs the plaintext, then XORs msg[lo:hi] with a keystream.

const toySigLen = 16

// authTypeToy is an auth_type no real mechanism uses.
const authTypeToy AuthType = 0xfe

type toyKeys struct {
	key       []byte
	sendSeq   uint32
	recvSeq   uint32
	sendLabel string
	recvLabel string
	// corruptNext makes the next signature wrong (tampering tests).
	corruptNext bool
}

func (k *toyKeys) SignatureSize() int { return toySigLen }

func (k *toyKeys) mac(label string, seq uint32, msg []byte) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(label))
	binary.Write(m, binary.LittleEndian, seq)
	m.Write(msg)
	return m.Sum(nil)[:toySigLen]
}

func (k *toyKeys) stream(label string, seq uint32, data []byte) {
	var ctr uint32
	for off := 0; off < len(data); off += sha256.Size {
		h := sha256.New()
		h.Write(k.key)
		h.Write([]byte("seal" + label))
		binary.Write(h, binary.LittleEndian, [2]uint32{seq, ctr})
		ks := h.Sum(nil)
		for i := 0; i < sha256.Size && off+i < len(data); i++ {
			data[off+i] ^= ks[i]
		}
		ctr++
	}
}

func (k *toyKeys) Sign(msg []byte) ([]byte, error) {
	sig := k.mac(k.sendLabel, k.sendSeq, msg)
	k.sendSeq++
	if k.corruptNext {
		k.corruptNext = false
		sig[0] ^= 1
	}
	return sig, nil
}

func (k *toyKeys) Verify(msg, sig []byte) error {
	want := k.mac(k.recvLabel, k.recvSeq, msg)
	k.recvSeq++
	if !hmac.Equal(want, sig) {
		return errors.New("toy: bad signature")
	}
	return nil
}

func (k *toyKeys) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	seq := k.sendSeq
	sig, _ := k.Sign(msg)
	k.stream(k.sendLabel, seq, msg[lo:hi])
	return sig, nil
}

func (k *toyKeys) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	k.stream(k.recvLabel, k.recvSeq, msg[lo:hi])
	return k.Verify(msg, sig)
}

// toyAcceptor knows users and their keys.
type toyAcceptor struct {
	users map[string]string
	alter bool // three-leg exchange finished by alter_context
}

func (a *toyAcceptor) NewSecurityContext(ctx context.Context, info AuthBindInfo) (ServerSecurityContext, error) {
	return &toyServerCtx{acc: a, keys: toyKeys{sendLabel: "s2c", recvLabel: "c2s"}}, nil
}

type toyServerCtx struct {
	acc   *toyAcceptor
	keys  toyKeys
	user  string
	nonce []byte
	done  bool
	// hello is the first token, kept as given: the dcerpc layer must hand
	// over tokens the mechanism may keep.
	hello []byte
}

func (c *toyServerCtx) Step(ctx context.Context, tok []byte) ([]byte, bool, error) {
	switch {
	case c.nonce == nil && bytes.HasPrefix(tok, []byte("HELLO:")):
		c.hello = tok
		c.user = string(tok[6:])
		key, ok := c.acc.users[c.user]
		if !ok {
			return nil, false, fmt.Errorf("toy: no user %q", c.user)
		}
		c.keys.key = []byte(key)
		c.nonce = bytes.Repeat([]byte{byte(len(c.user))}, 16)
		return append([]byte("CHAL:"), c.nonce...), false, nil
	case c.nonce != nil && !c.done && bytes.HasPrefix(tok, []byte("RESP:")):
		if string(c.hello) != "HELLO:"+c.user {
			return nil, false, fmt.Errorf("toy: the first token changed under us: %q", c.hello)
		}
		m := hmac.New(sha256.New, c.keys.key)
		m.Write(c.nonce)
		if !hmac.Equal(m.Sum(nil), tok[5:]) {
			return nil, false, errors.New("toy: wrong response")
		}
		c.done = true
		if c.acc.alter {
			m := hmac.New(sha256.New, c.keys.key)
			m.Write([]byte("ok"))
			m.Write(c.nonce)
			return append([]byte("OK:"), m.Sum(nil)...), true, nil
		}
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("toy: unexpected token %q", tok)
}

func (c *toyServerCtx) Caller() session.Caller {
	return session.Caller{User: c.user, Domain: "TOY", Groups: []string{"Users"}}
}

func (c *toyServerCtx) SignatureSize() int              { return c.keys.SignatureSize() }
func (c *toyServerCtx) Sign(msg []byte) ([]byte, error) { return c.keys.Sign(msg) }
func (c *toyServerCtx) Verify(msg, sig []byte) error    { return c.keys.Verify(msg, sig) }
func (c *toyServerCtx) SealWithin(m []byte, lo, hi int) ([]byte, error) {
	return c.keys.SealWithin(m, lo, hi)
}
func (c *toyServerCtx) UnsealWithin(m []byte, lo, hi int, s []byte) error {
	return c.keys.UnsealWithin(m, lo, hi, s)
}

// toyInitiator is the client side.
type toyInitiator struct {
	toyKeys
	user, pass string
	level      AuthLevel
	alter      bool
	state      int
	nonce      []byte
}

func newToyInitiator(user, pass string, level AuthLevel, alter bool) *toyInitiator {
	return &toyInitiator{toyKeys: toyKeys{key: []byte(pass), sendLabel: "c2s", recvLabel: "s2c"},
		user: user, pass: pass, level: level, alter: alter}
}

func (i *toyInitiator) AuthType() AuthType   { return authTypeToy }
func (i *toyInitiator) AuthLevel() AuthLevel { return i.level }

func (i *toyInitiator) Step(ctx context.Context, tok []byte) ([]byte, bool, error) {
	switch i.state {
	case 0:
		i.state = 1
		return []byte("HELLO:" + i.user), false, nil
	case 1:
		if !bytes.HasPrefix(tok, []byte("CHAL:")) {
			return nil, false, fmt.Errorf("toy: expected a challenge, got %q", tok)
		}
		i.nonce = tok[5:] // kept as given, see toyServerCtx.hello
		m := hmac.New(sha256.New, i.key)
		m.Write(i.nonce)
		i.state = 2
		return append([]byte("RESP:"), m.Sum(nil)...), !i.alter, nil
	case 2:
		m := hmac.New(sha256.New, i.key)
		m.Write([]byte("ok"))
		m.Write(i.nonce)
		if !strings.HasPrefix(string(tok), "OK:") || !hmac.Equal(tok[3:], m.Sum(nil)) {
			return nil, false, errors.New("toy: server not authenticated")
		}
		i.state = 3
		return nil, true, nil
	}
	return nil, false, errors.New("toy: exchange already complete")
}

// flipper corrupts the 30th octet read once armed.
type flipper struct {
	net.Conn
	armed atomic.Bool
	seen  int
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.Conn.Read(b)
	if f.armed.Load() {
		for i := 0; i < n; i++ {
			f.seen++
			if f.seen == 30 {
				b[i] ^= 0x40
			}
		}
	}
	return n, err
}
