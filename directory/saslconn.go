package directory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// sealer is a security context's per-message protection: seal returns the
// signature of msg, encrypted in place; unseal checks and decrypts.
type sealer interface {
	SealWithin(msg []byte, lo, hi int) ([]byte, error)
	UnsealWithin(msg []byte, lo, hi int, sig []byte) error
	SignatureSize() int
}

// maxSASLBuffer bounds one received SASL buffer.
const maxSASLBuffer = 16 << 20

// ErrSASLLayer is a SASL buffer that is too long or fails its check.
var ErrSASLLayer = errors.New("directory: SASL security layer")

// saslConn runs LDAP through a SASL security layer with confidentiality
// (RFC 4422 section 3.7): every buffer is a 4-byte big-endian length and the
// context's signature followed by the sealed bytes, as NTLM wraps them.
type saslConn struct {
	net.Conn
	s    sealer
	rmu  sync.Mutex
	rbuf []byte
	wmu  sync.Mutex
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
		sz := c.s.SignatureSize()
		if n > maxSASLBuffer || int(n) < sz {
			return 0, fmt.Errorf("%w: buffer of %d bytes", ErrSASLLayer, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.Conn, buf); err != nil {
			return 0, err
		}
		msg := buf[sz:]
		if err := c.s.UnsealWithin(msg, 0, len(msg), buf[:sz]); err != nil {
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
	sz := c.s.SignatureSize()
	buf := make([]byte, 4+sz+len(p))
	msg := buf[4+sz:]
	copy(msg, p)
	sig, err := c.s.SealWithin(msg, 0, len(msg))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSASLLayer, err)
	}
	if len(sig) != sz {
		return 0, fmt.Errorf("%w: signature of %d bytes", ErrSASLLayer, len(sig))
	}
	copy(buf[4:], sig)
	binary.BigEndian.PutUint32(buf, uint32(sz+len(p)))
	if _, err := c.Conn.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
