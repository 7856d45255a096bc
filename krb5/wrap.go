package krb5

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
)

// This file is the per-message protection of an established context: the
// Wrap tokens of RFC 4121 section 4.2.6.2, sealed (confidentiality and
// integrity) or signed (integrity only), for the AES encryption types.

// Key usages of Wrap tokens (RFC 4121 section 2).
const (
	usageAcceptorSeal  = 22
	usageAcceptorSign  = 23
	usageInitiatorSeal = 24
	usageInitiatorSign = 25
)

// Flags of a Wrap token (RFC 4121 section 4.2.2).
const (
	wrapSentByAcceptor = 0x01
	wrapSealed         = 0x02
	wrapAcceptorSubkey = 0x04
)

// wrapHeaderLen is the length of a Wrap token's header: TOK_ID (05 04),
// flags, filler (FF), EC, RRC and the 64-bit sequence number.
const wrapHeaderLen = 16

// ErrSequence: a Wrap token's sequence number is not the next one
// expected (a replayed, reordered or dropped message).
var ErrSequence = errors.New("krb5: message out of sequence")

// Wrapper protects the messages of an established security context with
// RFC 4121 Wrap tokens: Wrap makes a token of a message, Unwrap checks a
// peer's token and returns the message. Wrap and Unwrap may run
// concurrently with each other (one goroutine writing, one reading); each
// keeps its own sequence numbers, which must advance one by one.
type Wrapper struct {
	et        etype.EType
	key       []byte
	initiator bool
	subkey    bool // the key is the acceptor's subkey
	rand      io.Reader

	smu     sync.Mutex
	sendSeq uint64
	rmu     sync.Mutex
	recvSeq uint64
}

// newWrapper returns a Wrapper for key of etype (AES-128 or AES-256),
// for the initiator's side or the acceptor's, whose first token sent
// carries sendSeq and first token received recvSeq. subkey says that the
// key is the acceptor's subkey (as it is whenever the AP-REP carries one).
// random gives the confounders (nil: crypto/rand).
func newWrapper(etypeID int32, key []byte, initiator, subkey bool, sendSeq, recvSeq uint64, random io.Reader) (*Wrapper, error) {
	if etypeID != ETypeAES128 && etypeID != ETypeAES256 {
		return nil, fmt.Errorf("%w: no Wrap tokens for encryption type %d (AES-128 and AES-256 only)", ErrConfig, etypeID)
	}
	et, err := crypto.GetEtype(etypeID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if len(key) != et.GetKeyByteSize() {
		return nil, fmt.Errorf("%w: key of %d bytes for encryption type %d", ErrConfig, len(key), etypeID)
	}
	if random == nil {
		random = rand.Reader
	}
	return &Wrapper{et: et, key: bytes.Clone(key), initiator: initiator, subkey: subkey,
		sendSeq: sendSeq, recvSeq: recvSeq, rand: random}, nil
}

// Wrapper returns the per-message protection of the context once Accept
// has succeeded: the acceptor's subkey, the authenticator's sequence
// number for what the initiator sends and the AP-REP's for what it
// receives.
func (i *Initiator) Wrapper() (*Wrapper, error) {
	if !i.done {
		return nil, ErrState
	}
	// Sequence numbers are 32-bit; some encoders send the upper half of
	// their range as negative numbers.
	return newWrapper(i.sessionKey.KeyType, i.sessionKey.KeyValue, true, true,
		uint64(uint32(i.auth.SeqNumber)), uint64(uint32(i.peerSeq)), nil)
}

// Overhead is how many bytes a token adds to a message: 60 sealed (header,
// confounder, encrypted header copy, checksum), 28 signed (header,
// checksum).
func (w *Wrapper) Overhead(seal bool) int {
	n := wrapHeaderLen + w.et.GetHMACBitLength()/8
	if seal {
		n += w.et.GetConfounderByteSize() + wrapHeaderLen
	}
	return n
}

// usage is the key usage of a token sent (or received) by this side:
// the SEAL usages for every Wrap token, sealed or only signed, and the
// SIGN usages for MIC tokens (RFC 4121 section 2).
func (w *Wrapper) usage(wrap, sending bool) uint32 {
	fromInitiator := w.initiator == sending
	switch {
	case wrap && fromInitiator:
		return usageInitiatorSeal
	case wrap:
		return usageAcceptorSeal
	case fromInitiator:
		return usageInitiatorSign
	}
	return usageAcceptorSign
}

// header writes a Wrap token header into h.
func (w *Wrapper) header(h []byte, fromAcceptor, seal bool, ec, rrc uint16, seq uint64) {
	h[0], h[1] = 0x05, 0x04
	var f byte
	if fromAcceptor {
		f |= wrapSentByAcceptor
	}
	if seal {
		f |= wrapSealed
	}
	if w.subkey {
		f |= wrapAcceptorSubkey
	}
	h[2], h[3] = f, 0xff
	binary.BigEndian.PutUint16(h[4:], ec)
	binary.BigEndian.PutUint16(h[6:], rrc)
	binary.BigEndian.PutUint64(h[8:], seq)
}

// Wrap returns the token for msg: sealed (encrypted and checked) when seal
// is true, signed otherwise. Tokens carry no filler and no rotation (EC
// and RRC are zero when sealed).
func (w *Wrapper) Wrap(msg []byte, seal bool) ([]byte, error) {
	w.smu.Lock()
	defer w.smu.Unlock()
	seq := w.sendSeq
	usage := w.usage(true, true)
	out := make([]byte, wrapHeaderLen, w.Overhead(seal)+len(msg))
	if seal {
		w.header(out, !w.initiator, true, 0, 0, seq)
		conf := w.et.GetConfounderByteSize()
		plain := make([]byte, conf, conf+len(msg)+wrapHeaderLen)
		if _, err := io.ReadFull(w.rand, plain); err != nil {
			return nil, fmt.Errorf("krb5: confounder: %w", err)
		}
		plain = append(plain, msg...)
		plain = append(plain, out[:wrapHeaderLen]...)
		ke, err := w.et.DeriveKey(w.key, common.GetUsageKe(usage))
		if err != nil {
			return nil, fmt.Errorf("krb5: wrap: %w", err)
		}
		_, ct, err := w.et.EncryptData(ke, plain)
		if err != nil {
			return nil, fmt.Errorf("krb5: wrap: %w", err)
		}
		mac, err := common.GetIntegrityHash(plain, w.key, usage, w.et)
		if err != nil {
			return nil, fmt.Errorf("krb5: wrap: %w", err)
		}
		out = append(append(out, ct...), mac...)
	} else {
		// The checksum covers the message and the header with EC and
		// RRC zero; the EC sent is the checksum's length.
		w.header(out, !w.initiator, false, 0, 0, seq)
		signed := append(bytes.Clone(msg), out...)
		mac, err := w.et.GetChecksumHash(w.key, signed, usage)
		if err != nil {
			return nil, fmt.Errorf("krb5: wrap: %w", err)
		}
		binary.BigEndian.PutUint16(out[4:], uint16(len(mac)))
		out = append(append(out, msg...), mac...)
	}
	w.sendSeq++
	return out, nil
}

// Unwrap checks a token from the peer and returns its message and whether
// it was sealed. The token must come from the other side, use the same
// key (the acceptor-subkey flag must match), carry the next sequence
// number, and decrypt or verify; any rotation (RRC) and filler (EC) are
// undone. The message does not alias token. Failures are ErrMalformed,
// ErrIntegrity or ErrSequence; a failed token does not advance the
// sequence.
func (w *Wrapper) Unwrap(token []byte) (msg []byte, sealed bool, err error) {
	if len(token) < wrapHeaderLen {
		return nil, false, fmt.Errorf("%w: Wrap token of %d bytes", ErrMalformed, len(token))
	}
	if len(token) > maxToken*16 {
		return nil, false, fmt.Errorf("%w: Wrap token of %d bytes", ErrMalformed, len(token))
	}
	h := token[:wrapHeaderLen]
	if h[0] != 0x05 || h[1] != 0x04 || h[3] != 0xff {
		return nil, false, fmt.Errorf("%w: not a Wrap token (%x)", ErrMalformed, h[:4])
	}
	flags := h[2]
	if fromAcceptor := flags&wrapSentByAcceptor != 0; fromAcceptor != w.initiator {
		return nil, false, fmt.Errorf("%w: Wrap token sent by our own side", ErrIntegrity)
	}
	if (flags&wrapAcceptorSubkey != 0) != w.subkey {
		return nil, false, fmt.Errorf("%w: Wrap token under another key (acceptor subkey flag %v)", ErrIntegrity, !w.subkey)
	}
	sealed = flags&wrapSealed != 0
	ec := int(binary.BigEndian.Uint16(h[4:]))
	rrc := int(binary.BigEndian.Uint16(h[6:]))
	seq := binary.BigEndian.Uint64(h[8:])

	body := token[wrapHeaderLen:]
	if n := len(body); n > 0 && rrc%n != 0 {
		r := rrc % n
		body = append(bytes.Clone(body[r:]), body[:r]...)
	} else {
		body = bytes.Clone(body)
	}
	macLen := w.et.GetHMACBitLength() / 8
	usage := w.usage(true, false)
	if sealed {
		conf := w.et.GetConfounderByteSize()
		if len(body) < conf+ec+wrapHeaderLen+macLen {
			return nil, false, fmt.Errorf("%w: sealed Wrap token of %d bytes with %d filler", ErrMalformed, len(token), ec)
		}
		plain, err := w.et.DecryptMessage(w.key, body, usage)
		if err != nil {
			return nil, false, fmt.Errorf("%w: Wrap token does not decrypt: %v", ErrIntegrity, err)
		}
		if len(plain) < ec+wrapHeaderLen {
			return nil, false, fmt.Errorf("%w: sealed Wrap token too short", ErrMalformed)
		}
		// The encrypted copy of the header must match the header,
		// except for RRC, which is zero in the copy.
		inner := plain[len(plain)-wrapHeaderLen:]
		if !bytes.Equal(inner[:6], h[:6]) || !bytes.Equal(inner[8:], h[8:]) || inner[6] != 0 || inner[7] != 0 {
			return nil, false, fmt.Errorf("%w: Wrap token header does not match its encrypted copy", ErrIntegrity)
		}
		msg = plain[:len(plain)-wrapHeaderLen-ec]
	} else {
		if ec != macLen || len(body) < macLen {
			return nil, false, fmt.Errorf("%w: signed Wrap token with a checksum of %d bytes", ErrMalformed, ec)
		}
		msg = body[:len(body)-macLen]
		signed := make([]byte, 0, len(msg)+wrapHeaderLen)
		signed = append(append(signed, msg...), h...)
		hz := signed[len(msg):]
		hz[4], hz[5], hz[6], hz[7] = 0, 0, 0, 0
		if !w.et.VerifyChecksum(w.key, signed, body[len(msg):], usage) {
			return nil, false, fmt.Errorf("%w: Wrap token checksum", ErrIntegrity)
		}
	}
	w.rmu.Lock()
	defer w.rmu.Unlock()
	if seq != w.recvSeq {
		return nil, false, fmt.Errorf("%w: sequence number %d, want %d", ErrSequence, seq, w.recvSeq)
	}
	w.recvSeq++
	return msg, sealed, nil
}
