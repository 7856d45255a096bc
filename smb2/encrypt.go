package smb2

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// EncryptionPolicy says when sessions are encrypted (SMB 3.x).
type EncryptionPolicy uint8

const (
	// EncryptionOff (the zero value) never encrypts: the server does not
	// announce encryption, so clients do not encrypt.
	EncryptionOff EncryptionPolicy = iota
	// EncryptionDesired encrypts every session whose client can: 3.0 and
	// 3.0.2 clients announcing SMB2_GLOBAL_CAP_ENCRYPTION, 3.1.1 clients
	// sharing a cipher with the server. Other clients are served in clear.
	EncryptionDesired
	// EncryptionRequired encrypts every session and refuses the rest: a
	// logon from a client that cannot encrypt (or a guest or anonymous
	// one, which has no key) fails with STATUS_ACCESS_DENIED, and so does
	// an unencrypted request on an encrypted session.
	EncryptionRequired
)

// ParseEncryptionPolicy parses "off", "desired" or "required".
func ParseEncryptionPolicy(s string) (EncryptionPolicy, error) {
	switch strings.ToLower(s) {
	case "off":
		return EncryptionOff, nil
	case "desired":
		return EncryptionDesired, nil
	case "required":
		return EncryptionRequired, nil
	}
	return 0, fmt.Errorf("smb2: encryption policy %q: want off, desired or required", s)
}

func (p EncryptionPolicy) String() string {
	switch p {
	case EncryptionOff:
		return "off"
	case EncryptionDesired:
		return "desired"
	case EncryptionRequired:
		return "required"
	}
	return fmt.Sprintf("EncryptionPolicy(%d)", uint8(p))
}

// shareFlagEncryptData is SMB2_SHAREFLAG_ENCRYPT_DATA.
const shareFlagEncryptData uint32 = 0x00008000

// supportedCipher reports whether the server implements a cipher.
func supportedCipher(id uint16) bool { return smbcrypto.CipherKeyBits(id) != 0 }

// chooseCipher picks the connection's cipher from a 3.1.1 client's
// SMB2_ENCRYPTION_CAPABILITIES list: the first one the server implements,
// in the client's order of preference (the client knows which is fastest
// on its hardware). 0 means none in common.
func chooseCipher(offered []uint16) uint16 {
	for _, id := range offered {
		if supportedCipher(id) {
			return id
		}
	}
	return 0
}

// negotiateEncryption records the cipher of a connection being
// negotiated and returns the encryption context of a 3.1.1 answer (nil
// when there is none to send). It runs before c.neg.dialect is set.
func (c *conn) negotiateEncryption(dialect uint16, caps uint32, req *wire.NegotiateRequest) (*wire.NegotiateContext, error) {
	c.neg.cipher = 0
	if c.srv.Encryption == EncryptionOff {
		return nil, nil
	}
	switch dialect {
	case Dialect300, Dialect302:
		if caps&wire.CapEncryption != 0 {
			c.neg.cipher = smbcrypto.CipherAES128CCM
		}
		return nil, nil
	case Dialect311:
		data, ok := req.Context(wire.CtxEncryption)
		if !ok {
			return nil, nil
		}
		ids, err := wire.ParseIDList(data, 0)
		if err != nil {
			return nil, err
		}
		c.neg.cipher = chooseCipher(ids)
		// One cipher, or 0 for "none in common" (MS-SMB2 3.3.5.4).
		d := binary.LittleEndian.AppendUint16(nil, 1)
		return &wire.NegotiateContext{Type: wire.CtxEncryption, Data: binary.LittleEndian.AppendUint16(d, c.neg.cipher)}, nil
	}
	return nil, nil
}

// serverCaps are the capabilities of the NEGOTIATE answer (and of
// VALIDATE_NEGOTIATE_INFO): SMB2_GLOBAL_CAP_ENCRYPTION for 3.0 and 3.0.2
// when encryption was agreed. 3.1.1 agrees on it in a context instead.
func (c *conn) serverCaps() uint32 {
	if c.neg.cipher != 0 && (c.neg.dialect == Dialect300 || c.neg.dialect == Dialect302) {
		return wire.CapEncryption
	}
	return 0
}

// sessionCipher encrypts and decrypts the messages of one session.
type sessionCipher struct {
	id       uint16
	dec, enc cipher.AEAD // client-to-server and server-to-client keys
	// Nonces are a 64-bit message counter followed by a random salt
	// chosen per session: never repeated under the session's key, with
	// no state shared between sessions.
	counter uint64
	salt    [4]byte
}

func newSessionCipher(dialect, id uint16, sessionKey, preauth []byte) (*sessionCipher, error) {
	c2s, s2c, err := smbcrypto.CipherKeys(dialect, sessionKey, preauth, id)
	if err != nil {
		return nil, err
	}
	sc := &sessionCipher{id: id}
	if sc.dec, err = smbcrypto.NewCipher(id, c2s); err != nil {
		return nil, err
	}
	if sc.enc, err = smbcrypto.NewCipher(id, s2c); err != nil {
		return nil, err
	}
	if _, err := rand.Read(sc.salt[:]); err != nil {
		return nil, err
	}
	return sc, nil
}

// seal appends the encrypted form of msg to dst.
func (sc *sessionCipher) seal(dst []byte, sessionID uint64, msg []byte) []byte {
	var nonce [16]byte
	sc.counter++
	binary.LittleEndian.PutUint64(nonce[:], sc.counter)
	copy(nonce[8:], sc.salt[:])
	return smbcrypto.Seal(dst, sc.enc, nonce[:sc.enc.NonceSize()], sessionID, msg)
}

// setupEncryption decides, at the end of a successful authentication,
// whether session s encrypts. It returns a non-success status when the
// policy refuses the session.
func (c *conn) setupEncryption(s *smbSession, sessionKey []byte) (Status, error) {
	pol := c.srv.Encryption
	if pol == EncryptionOff {
		return StatusSuccess, nil
	}
	if c.neg.cipher == 0 || s.flags&(wire.SessionIsGuest|wire.SessionIsNull) != 0 || len(sessionKey) == 0 {
		if pol == EncryptionRequired {
			return StatusAccessDenied, fmt.Errorf("encryption required: dialect %04x, cipher %s, guest or anonymous %v",
				c.neg.dialect, smbcrypto.CipherName(c.neg.cipher), s.flags != 0)
		}
		return StatusSuccess, nil
	}
	sc, err := newSessionCipher(c.neg.dialect, c.neg.cipher, sessionKey, s.preauth[:])
	if err != nil {
		return StatusInsufficientResources, err
	}
	s.cipher = sc
	s.flags |= wire.SessionEncryptData
	return StatusSuccess, nil
}

// decrypt opens an encrypted message. Anything wrong with it (no such
// session, a session without keys, a failed authentication, an inner
// message of another session) ends the connection, as MS-SMB2 3.3.5.2.1
// asks.
func (c *conn) decrypt(msg []byte) ([]byte, *smbSession, error) {
	th, err := smbcrypto.ParseTransformHeader(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errClose, err)
	}
	s := c.sessions[th.SessionID]
	if s == nil || s.cipher == nil {
		return nil, nil, fmt.Errorf("%w: encrypted message for session %#x without keys", errClose, th.SessionID)
	}
	plain, err := smbcrypto.Open(s.cipher.dec, th, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: session %#x: %v", errClose, th.SessionID, err)
	}
	if len(plain) < wire.HeaderSize || string(plain[:4]) != wire.ProtocolSMB2 || binary.LittleEndian.Uint64(plain[40:]) != th.SessionID {
		return nil, nil, fmt.Errorf("%w: encrypted message is not an SMB2 message of session %#x", errClose, th.SessionID)
	}
	return plain, s, nil
}

// encryptionStatus checks a request of established session s against
// the encryption in force: inside an encrypted message every request
// must belong to the session whose key decrypted it, and under
// EncryptionRequired an encrypting session takes no clear requests.
func (c *conn) encryptionStatus(r *request, s *smbSession) Status {
	switch {
	case r.sealedBy != nil && r.sealedBy != s:
		return StatusAccessDenied
	case r.sealedBy == nil && s.cipher != nil && c.srv.Encryption == EncryptionRequired:
		return StatusAccessDenied
	}
	return StatusSuccess
}

// sealFor returns the session whose key encrypts the answer to r, a
// request of s: encrypted requests get encrypted answers, and so does
// everything on a session that encrypts.
func sealFor(r *request, s *smbSession) *smbSession {
	if r.sealedBy != nil {
		return r.sealedBy
	}
	if s != nil && s.cipher != nil {
		return s
	}
	return nil
}

// shareFlags are the flags of a TREE_CONNECT answer for session s.
func shareFlags(s *smbSession) uint32 {
	if s.cipher != nil {
		return shareFlagEncryptData
	}
	return 0
}
