package directory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// saslLayer is the per-message protection of a SASL security layer: wrap
// makes the buffer that carries a message, unwrap checks a received
// buffer and returns its message, overhead is what wrap adds.
type saslLayer interface {
	wrap(msg []byte) ([]byte, error)
	unwrap(buf []byte) ([]byte, error)
	overhead() int
}

// sealer is a security context's per-message protection as NTLM gives it:
// seal returns the signature of msg, encrypted in place; unseal checks and
// decrypts.
type sealer interface {
	SealWithin(msg []byte, lo, hi int) ([]byte, error)
	UnsealWithin(msg []byte, lo, hi int, sig []byte) error
	SignatureSize() int
}

// sealerLayer carries each message as the context's signature followed by
// the sealed bytes (NTLM's SASL buffers).
type sealerLayer struct{ s sealer }

func (l sealerLayer) overhead() int { return l.s.SignatureSize() }

func (l sealerLayer) wrap(p []byte) ([]byte, error) {
	sz := l.s.SignatureSize()
	buf := make([]byte, sz+len(p))
	msg := buf[sz:]
	copy(msg, p)
	sig, err := l.s.SealWithin(msg, 0, len(msg))
	if err != nil {
		return nil, err
	}
	if len(sig) != sz {
		return nil, fmt.Errorf("signature of %d bytes", len(sig))
	}
	copy(buf, sig)
	return buf, nil
}

func (l sealerLayer) unwrap(buf []byte) ([]byte, error) {
	sz := l.s.SignatureSize()
	if len(buf) < sz {
		return nil, fmt.Errorf("buffer of %d bytes", len(buf))
	}
	msg := buf[sz:]
	if err := l.s.UnsealWithin(msg, 0, len(msg), buf[:sz]); err != nil {
		return nil, err
	}
	return msg, nil
}

// maxSASLBuffer bounds one received SASL buffer. The largest size a SASL
// mechanism can announce is 0xFFFFFF (three bytes), so it is also what a
// Kerberos bind offers to receive.
const maxSASLBuffer = 16 << 20

// ErrSASLLayer is a SASL buffer that is too long or fails its check.
var ErrSASLLayer = errors.New("directory: SASL security layer")

// saslConn runs LDAP through a SASL security layer (RFC 4422 section 3.7):
// every buffer is a 4-byte big-endian length and what the layer makes of
// a message. Writes larger than the peer's maximum buffer (maxSend, 0 for
// none) are split over several buffers.
type saslConn struct {
	net.Conn
	layer   saslLayer
	maxSend int
	rmu     sync.Mutex
	rbuf    []byte
	wmu     sync.Mutex
}

func (c *saslConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rbuf) == 0 {
		var hdr [4]byte
		if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxSASLBuffer || int(n) < c.layer.overhead() {
			return 0, fmt.Errorf("%w: buffer of %d bytes", ErrSASLLayer, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.Conn, buf); err != nil {
			return 0, err
		}
		msg, err := c.layer.unwrap(buf)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrSASLLayer, err)
		}
		c.rbuf = msg
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

func (c *saslConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	chunk := len(p)
	if c.maxSend > 0 {
		chunk = c.maxSend - c.layer.overhead()
		if chunk <= 0 {
			return 0, fmt.Errorf("%w: the peer's buffers (%d bytes) cannot hold a message", ErrSASLLayer, c.maxSend)
		}
	}
	for done := 0; done < len(p); {
		end := min(done+chunk, len(p))
		body, err := c.layer.wrap(p[done:end])
		if err != nil {
			return done, fmt.Errorf("%w: %w", ErrSASLLayer, err)
		}
		buf := make([]byte, 4, 4+len(body))
		binary.BigEndian.PutUint32(buf, uint32(len(body)))
		if _, err := c.Conn.Write(append(buf, body...)); err != nil {
			return done, err
		}
		done = end
	}
	return len(p), nil
}
