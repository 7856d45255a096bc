package ntlm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultClientFlags are the flags an initiator asks for when Client.Flags
// is zero: NTLMv2 with extended session security, 128-bit keys, key
// exchange, signing and sealing.
const DefaultClientFlags = FlagUnicode | FlagRequestTarget | FlagSign | FlagSeal | FlagNTLM |
	FlagAlwaysSign | FlagExtendedSessionSecurity | FlagTargetInfo | FlagVersion | Flag128 | FlagKeyExch | Flag56

// Client is an NTLM initiator configuration.
type Client struct {
	// User and Domain name the account; SplitUser turns "DOMAIN\user" and
	// "user@domain" into them. Both empty (with no password or hash)
	// makes an anonymous logon.
	User, Domain string
	// Password, or NTHash (16 bytes) when Password is empty.
	Password string
	NTHash   []byte
	// Workstation is sent in the AUTHENTICATE message.
	Workstation string
	// TargetName, if set, is sent as MsvAvTargetName (an SPN such as
	// "cifs/server").
	TargetName string
	// Flags to request; 0 means DefaultClientFlags.
	Flags NegotiateFlags
	// Now is the clock, used only when the server sends no timestamp;
	// nil means time.Now.
	Now func() time.Time
	// Rand supplies the client challenge and the random session key; nil
	// means crypto/rand.
	Rand io.Reader
}

// SplitUser splits "DOMAIN\user" or "user@domain" into user and domain; any
// other string is a user name with an empty domain.
func SplitUser(s string) (user, domain string) {
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		return s[i+1:], s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func (c *Client) anonymous() bool {
	return c.User == "" && c.Password == "" && len(c.NTHash) == 0
}

// NewContext starts an initiator exchange.
func (c *Client) NewContext() *ClientContext { return &ClientContext{cli: c} }

// ClientContext is one initiator exchange: NEGOTIATE out, CHALLENGE in,
// AUTHENTICATE out.
type ClientContext struct {
	cli       *Client
	state     ctxState
	negotiate []byte
	sec       *Security
	withMIC   bool
}

// Step returns the NEGOTIATE message when called with no input, then
// consumes the CHALLENGE and returns the AUTHENTICATE message with done
// set.
func (c *ClientContext) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	switch c.state {
	case stateInitial:
		if len(in) != 0 {
			c.state = stateFailed
			return nil, false, fmt.Errorf("%w: initiator got a token before sending NEGOTIATE", ErrState)
		}
		flags := c.cli.Flags
		if flags == 0 {
			flags = DefaultClientFlags
		}
		if c.cli.anonymous() {
			flags |= FlagAnonymous
		}
		v := defaultVersion()
		m := &NegotiateMessage{Flags: flags | FlagUnicode | FlagNTLM, Version: &v}
		c.negotiate = m.Marshal()
		c.state = stateChallenged
		return bytes.Clone(c.negotiate), false, nil
	case stateChallenged:
		c.state = stateFailed
		out, err := c.authenticate(in)
		if err != nil {
			return nil, false, err
		}
		c.state = stateDone
		return out, true, nil
	default:
		return nil, false, fmt.Errorf("%w: initiator already finished", ErrState)
	}
}

func (c *ClientContext) rand() io.Reader {
	if c.cli.Rand != nil {
		return c.cli.Rand
	}
	return rand.Reader
}

func (c *ClientContext) authenticate(in []byte) ([]byte, error) {
	cm, err := ParseChallenge(in)
	if err != nil {
		return nil, err
	}
	requested := NegotiateFlags(binary.LittleEndian.Uint32(c.negotiate[12:]))
	flags := cm.Flags & (requested | FlagTargetTypeServer | FlagTargetTypeDomain | FlagTargetInfo)
	if !flags.Has(FlagUnicode) {
		return nil, fmt.Errorf("%w: server does not speak Unicode", ErrUnsupported)
	}
	if flags&flagsSignOrSeal != 0 && !flags.Has(FlagExtendedSessionSecurity) {
		return nil, fmt.Errorf("%w: server offers signing without extended session security", ErrUnsupported)
	}
	cli := c.cli
	auth := &AuthenticateMessage{Flags: flags, Domain: cli.Domain, User: cli.User, Workstation: cli.Workstation}

	var exported []byte
	if cli.anonymous() {
		auth.LmChallengeResponse = []byte{0}
		exported = make([]byte, 16)
		if flags.Has(FlagKeyExch) {
			random := make([]byte, 16)
			if _, err := io.ReadFull(c.rand(), random); err != nil {
				return nil, err
			}
			auth.EncryptedRandomSessionKey = rc4K(exported, random)
			exported = random
		}
		out := auth.Marshal()
		return out, c.finish(exported, flags)
	}

	var hash [16]byte
	if cli.Password != "" || len(cli.NTHash) == 0 {
		hash = NTHash(cli.Password)
	} else if len(cli.NTHash) == 16 {
		copy(hash[:], cli.NTHash)
	} else {
		return nil, fmt.Errorf("ntlm: NT hash of %d bytes, want 16", len(cli.NTHash))
	}
	key := NTOWFv2(hash, cli.User, cli.Domain)

	var ts [8]byte
	serverTS, haveTS := cm.TargetInfo.Get(AvTimestamp)
	if haveTS && len(serverTS) == 8 {
		copy(ts[:], serverTS)
	} else {
		haveTS = false
		now := time.Now
		if cli.Now != nil {
			now = cli.Now
		}
		binary.LittleEndian.PutUint64(ts[:], toFiletime(now()))
	}
	var clientChallenge [8]byte
	if _, err := io.ReadFull(c.rand(), clientChallenge[:]); err != nil {
		return nil, err
	}

	// Our AV pairs: the server's, with MsvAvFlags announcing the MIC
	// and the target name if we have one.
	pairs := make(AVPairs, 0, len(cm.TargetInfo)+2)
	avFlags := AvFlagMICPresent
	for _, p := range cm.TargetInfo {
		switch p.ID {
		case AvFlags:
			if len(p.Value) == 4 {
				avFlags |= binary.LittleEndian.Uint32(p.Value)
			}
		case AvTargetName, AvChannelBindings:
		default:
			pairs = append(pairs, p)
		}
	}
	var avfb [4]byte
	binary.LittleEndian.PutUint32(avfb[:], avFlags)
	pairs = append(pairs, AVPair{AvFlags, avfb[:]})
	if cli.TargetName != "" {
		pairs = append(pairs, AVPair{AvTargetName, encodeUTF16(cli.TargetName)})
	}

	blob := make([]byte, 0, 28+64)
	blob = append(blob, 1, 1, 0, 0, 0, 0, 0, 0)
	blob = append(blob, ts[:]...)
	blob = append(blob, clientChallenge[:]...)
	blob = append(blob, 0, 0, 0, 0)
	blob = append(blob, pairs.Marshal()...)
	blob = append(blob, 0, 0, 0, 0)

	proof := hmacMD5(nil, key[:], cm.ServerChallenge[:], blob)
	auth.NtChallengeResponse = append(proof, blob...)
	if haveTS {
		// With a server timestamp the LM response is Z(24) (MS-NLMP 3.1.5.1.2).
		auth.LmChallengeResponse = make([]byte, 24)
	} else {
		auth.LmChallengeResponse = append(hmacMD5(nil, key[:], cm.ServerChallenge[:], clientChallenge[:]), clientChallenge[:]...)
	}
	baseKey := hmacMD5(nil, key[:], proof)
	exported = baseKey
	if flags.Has(FlagKeyExch) {
		random := make([]byte, 16)
		if _, err := io.ReadFull(c.rand(), random); err != nil {
			return nil, err
		}
		auth.EncryptedRandomSessionKey = rc4K(baseKey, random)
		exported = random
	}
	out := auth.Marshal()
	mic := hmacMD5(nil, exported, c.negotiate, in, out)
	copy(out[authenticateMICOffset:authenticateMICEnd], mic)
	c.withMIC = true
	return out, c.finish(exported, flags)
}

func (c *ClientContext) finish(exported []byte, flags NegotiateFlags) error {
	sec, err := NewSecurity(exported, flags, RoleClient)
	if err != nil {
		return err
	}
	c.sec = sec
	c.negotiate = nil
	return nil
}

// Done reports whether the AUTHENTICATE message has been produced.
func (c *ClientContext) Done() bool { return c.state == stateDone }

// SessionKey returns the exported session key once Done.
func (c *ClientContext) SessionKey() []byte {
	if c.sec == nil {
		return nil
	}
	return c.sec.SessionKey()
}

// Flags returns the negotiated flags once Done.
func (c *ClientContext) Flags() NegotiateFlags {
	if c.sec == nil {
		return 0
	}
	return c.sec.Flags()
}

// Security returns the session security once Done.
func (c *ClientContext) Security() *Security { return c.sec }

func (c *ClientContext) security() (*Security, error) {
	if c.sec == nil {
		return nil, fmt.Errorf("%w: context not complete", ErrState)
	}
	return c.sec, nil
}

// Sign signs msg with the next client-to-server sequence number.
func (c *ClientContext) Sign(msg []byte) ([]byte, error) {
	s, err := c.security()
	if err != nil {
		return nil, err
	}
	return s.Sign(msg)
}

// Verify checks a server signature with the next server-to-client
// sequence number.
func (c *ClientContext) Verify(msg, sig []byte) error {
	s, err := c.security()
	if err != nil {
		return err
	}
	return s.Verify(msg, sig)
}

// SealWithin is Security.SealWithin on the client-to-server direction.
func (c *ClientContext) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	s, err := c.security()
	if err != nil {
		return nil, err
	}
	return s.SealWithin(msg, lo, hi)
}

// UnsealWithin is Security.UnsealWithin on the server-to-client direction.
func (c *ClientContext) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	s, err := c.security()
	if err != nil {
		return err
	}
	return s.UnsealWithin(msg, lo, hi, sig)
}
