package krb5

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// GSS-API context flags (RFC 2744), carried in the authenticator's
// checksum (RFC 4121 section 4.1.1).
const (
	FlagDeleg    uint32 = 1
	FlagMutual   uint32 = 2
	FlagReplay   uint32 = 4
	FlagSequence uint32 = 8
	FlagConf     uint32 = 16
	FlagInteg    uint32 = 32
)

// gssChecksumType is the authenticator checksum type that carries GSS
// flags and channel bindings (RFC 4121 section 4.1.1).
const gssChecksumType = 0x8003

// DefaultFlags are the context flags the initiator asks for: mutual
// authentication, replay and sequence detection, integrity and
// confidentiality, as SMB clients do.
const DefaultFlags = FlagMutual | FlagReplay | FlagSequence | FlagConf | FlagInteg

// ErrState: a method was called out of turn (Accept before Init, twice).
var ErrState = errors.New("krb5: call out of turn")

// Initiator is the client side of one Kerberos security context with
// mutual authentication: Init gives the AP-REQ token, Accept checks the
// AP-REP and yields the session key. Not safe for concurrent use.
type Initiator struct {
	t     *Ticket
	clock func() time.Time
	// Flags are the context flags asked for (default DefaultFlags).
	Flags uint32

	auth       types.Authenticator
	sent       bool
	done       bool
	sessionKey types.EncryptionKey
	peerSeq    int64 // the AP-REP's sequence number
}

// NewInitiator returns an Initiator for ticket t. clock gives the time for
// the authenticator (nil: time.Now).
func NewInitiator(t *Ticket, clock func() time.Time) *Initiator {
	if clock == nil {
		clock = time.Now
	}
	return &Initiator{t: t, clock: clock, Flags: DefaultFlags}
}

// Init returns the first token: the AP-REQ, asking for mutual
// authentication, with a fresh subkey, in a GSS-API initial context token.
func (i *Initiator) Init(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if i.sent {
		return nil, ErrState
	}
	auth, err := types.NewAuthenticator(i.t.crealm, i.t.cname)
	if err != nil {
		return nil, err
	}
	now := i.clock().UTC()
	auth.CTime = now.Truncate(time.Second)
	auth.Cusec = now.Nanosecond() / 1000
	et, err := crypto.GetEtype(i.t.key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("krb5: ticket session key: %w", err)
	}
	if err := auth.GenerateSeqNumberAndSubKey(i.t.key.KeyType, et.GetKeyByteSize()); err != nil {
		return nil, err
	}
	cksum := make([]byte, 24)
	binary.LittleEndian.PutUint32(cksum, 16) // length of the channel bindings hash (none: zeros)
	binary.LittleEndian.PutUint32(cksum[20:], i.Flags)
	auth.Cksum = types.Checksum{CksumType: gssChecksumType, Checksum: cksum}
	req, err := messages.NewAPReq(i.t.tkt, i.t.key, auth)
	if err != nil {
		return nil, fmt.Errorf("krb5: AP-REQ: %w", err)
	}
	if i.Flags&FlagMutual != 0 {
		types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	}
	b, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("krb5: AP-REQ: %w", err)
	}
	i.auth = auth
	i.sent = true
	return WrapToken(TokenAPReq, b), nil
}

// Accept checks the acceptor's reply: an AP-REP (in a GSS token or bare)
// whose encrypted part decrypts with the ticket's session key and echoes
// the authenticator's time, carrying a subkey of full length, which
// becomes the session key. A KRB-ERROR reply gives a *KDCError.
func (i *Initiator) Accept(ctx context.Context, reply []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !i.sent || i.done {
		return ErrState
	}
	part, err := parseAPRep(reply, i.t.key, i.auth.CTime, i.auth.Cusec)
	if err != nil {
		return err
	}
	i.sessionKey, i.peerSeq = part.Subkey, part.SequenceNumber
	i.done = true
	return nil
}

// SessionKey is the context's session key (the AP-REP subkey), nil until
// Accept succeeds. SMB uses its first 16 bytes as the session key and the
// whole of it for AES-256 ciphers.
func (i *Initiator) SessionKey() []byte {
	if !i.done {
		return nil
	}
	return append([]byte(nil), i.sessionKey.KeyValue...)
}

// SessionKeyType is the encryption type of the session key.
func (i *Initiator) SessionKeyType() int32 { return i.sessionKey.KeyType }

// parseAPRep decodes a reply token and returns the AP-REP's encrypted
// part, whose subkey has been checked.
func parseAPRep(reply []byte, key types.EncryptionKey, ctime time.Time, cusec int) (messages.EncAPRepPart, error) {
	msg := reply
	tokID := TokenAPRep
	if len(reply) > 0 && reply[0] == 0x60 {
		var err error
		if tokID, msg, err = UnwrapToken(reply); err != nil {
			return messages.EncAPRepPart{}, err
		}
	} else if len(reply) > 0 && reply[0] == 0x7e { // [APPLICATION 30] KRB-ERROR
		tokID = TokenKRBError
	}
	switch tokID {
	case TokenKRBError:
		return messages.EncAPRepPart{}, parseKRBError(msg)
	case TokenAPRep:
	default:
		return messages.EncAPRepPart{}, fmt.Errorf("%w: token %#04x where an AP-REP was expected", ErrMalformed, tokID)
	}
	var rep messages.APRep
	if err := safeUnmarshal(func() error { return rep.Unmarshal(msg) }); err != nil {
		return messages.EncAPRepPart{}, fmt.Errorf("%w: AP-REP: %v", ErrMalformed, err)
	}
	plain, err := decrypt(rep.EncPart, key, keyusage.AP_REP_ENCPART)
	if err != nil {
		return messages.EncAPRepPart{}, fmt.Errorf("%w: AP-REP does not decrypt with the session key: %v", ErrIntegrity, err)
	}
	var part messages.EncAPRepPart
	if err := safeUnmarshal(func() error { return part.Unmarshal(plain) }); err != nil {
		return messages.EncAPRepPart{}, fmt.Errorf("%w: AP-REP encrypted part: %v", ErrMalformed, err)
	}
	if !part.CTime.Equal(ctime) || part.Cusec != cusec {
		return messages.EncAPRepPart{}, fmt.Errorf("%w: AP-REP does not echo the authenticator's time", ErrIntegrity)
	}
	if err := checkSubkey(part.Subkey); err != nil {
		return messages.EncAPRepPart{}, err
	}
	return part, nil
}

// checkSubkey refuses a missing subkey, one of an unknown type and one
// shorter than its type's keys.
func checkSubkey(k types.EncryptionKey) error {
	if k.KeyType == 0 && len(k.KeyValue) == 0 {
		return ErrNoSubkey
	}
	et, err := crypto.GetEtype(k.KeyType)
	if err != nil {
		return fmt.Errorf("%w: subkey of unknown type %d", ErrNoSubkey, k.KeyType)
	}
	if n := et.GetKeyByteSize(); len(k.KeyValue) != n {
		return fmt.Errorf("%w: subkey of type %d has %d bytes, want %d", ErrNoSubkey, k.KeyType, len(k.KeyValue), n)
	}
	return nil
}

// parseKRBError decodes a KRB-ERROR into a *KDCError.
func parseKRBError(b []byte) error {
	var e messages.KRBError
	if err := safeUnmarshal(func() error { return e.Unmarshal(b) }); err != nil {
		return fmt.Errorf("%w: KRB-ERROR: %v", ErrMalformed, err)
	}
	return &KDCError{Code: e.ErrorCode, Text: e.EText}
}

// safeUnmarshal runs a decoder of the ASN.1 library and turns a panic on
// hostile input into an error.
func safeUnmarshal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return f()
}
