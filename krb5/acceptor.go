package krb5

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/netsession/netsession/auth"
)

// Authorization data types (RFC 4120 section 7.5.4, MS-PAC).
const (
	adIfRelevant = 1
	adWin2kPAC   = 128
)

// DefaultMaxSkew is the clock skew an acceptor allows by default, as
// Kerberos implementations do.
const DefaultMaxSkew = 5 * time.Minute

// Keys are a service's long-term keys, read from a keytab.
type Keys struct {
	kt *keytab.Keytab
}

// LoadKeys reads a keytab file.
func LoadKeys(path string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: keytab: %v", ErrCredential, err)
	}
	return ParseKeys(b)
}

// ParseKeys decodes a keytab.
func ParseKeys(b []byte) (*Keys, error) {
	kt := keytab.New()
	if err := safeUnmarshal(func() error { return kt.Unmarshal(b) }); err != nil {
		return nil, fmt.Errorf("%w: keytab: %v", ErrCredential, err)
	}
	if len(kt.Entries) == 0 {
		return nil, fmt.Errorf("%w: keytab holds no keys", ErrCredential)
	}
	return &Keys{kt: kt}, nil
}

// Principals lists the principals the keytab has keys for, as
// name/instance@REALM, each once.
func (k *Keys) Principals() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range k.kt.Entries {
		p := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Identity is who an accepted AP-REQ authenticates, from the ticket and
// its PAC.
type Identity struct {
	User    string // the client principal's name, e.g. "alice"
	Realm   string // the client's realm
	Service string // the service principal the ticket is for, name/instance@REALM
	// From the PAC (empty without one):
	Domain            string   // NetBIOS logon domain
	UserSID           string   // the user's SID
	PrimaryGroupSID   string   // the primary group's SID
	GroupSIDs         []string // groups of the logon domain
	ExtraSIDs         []string // other SIDs (other domains, well-known ones)
	ResourceGroupSIDs []string // domain-local groups of a resource domain
	// Flags are the GSS context flags the initiator asked for.
	Flags uint32
	// PAC is the whole decoded PAC, nil without one.
	PAC *PAC
}

// SIDs lists the user's SID followed by every group and extra SID.
func (id *Identity) SIDs() []string {
	if id.UserSID == "" {
		return nil
	}
	out := []string{id.UserSID}
	out = append(out, id.GroupSIDs...)
	out = append(out, id.ExtraSIDs...)
	return append(out, id.ResourceGroupSIDs...)
}

// Acceptor accepts AP-REQs for the services whose keys it holds. Its
// replay cache is its own: give each server one Acceptor. Safe for
// concurrent use once set up.
type Acceptor struct {
	// Keys are the services' keys; tickets are decrypted with the key of
	// the ticket's service principal.
	Keys *Keys
	// Services, when not empty, are the only service principals accepted
	// (name/instance, optionally @REALM; case-insensitive), e.g.
	// "cifs/srv.example.com": a ticket for another principal is refused
	// even if the keytab has its key.
	Services []string
	// Map names, for a ticket's service principal (name/instance,
	// case-insensitive), the keytab principal whose key decrypts it,
	// when the keytab lacks entries under the ticket's own name.
	Map map[string]string
	// MaxSkew is the allowed clock skew (default DefaultMaxSkew).
	MaxSkew time.Duration
	// Clock gives the time (default time.Now).
	Clock func() time.Time
	// AllowMissingPAC accepts tickets without a PAC (from non-AD KDCs);
	// their Identity has no SIDs.
	AllowMissingPAC bool
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// Throttle bounds guessing through the auth mechanisms
	// (AuthAcceptors), which know the peer: it is asked once a ticket
	// has decrypted and names its client (user@realm in lower case),
	// and every verified outcome is recorded; a refused ticket that names
	// no client (a forgery, a ticket for another service) counts against
	// its source. nil never throttles. Accept itself does not throttle.
	Throttle auth.Throttle

	once   sync.Once
	replay *replayCache
}

func (a *Acceptor) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

func (a *Acceptor) skew() time.Duration {
	if a.MaxSkew > 0 {
		return a.MaxSkew
	}
	return DefaultMaxSkew
}

// Accept checks an AP-REQ (in a GSS-API initial context token, or bare)
// and returns the AP-REP token to send back (nil when the client did not
// ask for mutual authentication), the caller's identity and the session
// key: a fresh acceptor subkey when an AP-REP is sent, otherwise the
// authenticator's subkey or the ticket's session key.
func (a *Acceptor) Accept(ctx context.Context, token []byte) (reply []byte, id *Identity, sessionKey []byte, err error) {
	r, err := a.accept(ctx, token)
	if err != nil {
		return nil, nil, nil, err
	}
	return r.reply, r.id, bytes.Clone(r.key.KeyValue), nil
}

// acceptance is an accepted AP-REQ: the reply, the caller, and the
// context's key (subkey says whether it is the acceptor's subkey) and
// sequence numbers, for per-message tokens.
type acceptance struct {
	reply            []byte
	id               *Identity
	key              types.EncryptionKey
	subkey           bool
	sendSeq, recvSeq uint64
	// ticketKey is the ticket's session key: a DCE-style initiator's
	// AP-REP (the third leg) is encrypted with it.
	ticketKey types.EncryptionKey
}

// wrapper returns the per-message protection of the accepted context;
// an error for keys without RFC 4121 tokens.
func (r *acceptance) wrapper() (*Wrapper, error) {
	return newWrapper(r.key.KeyType, r.key.KeyValue, false, r.subkey, r.sendSeq, r.recvSeq, nil)
}

// accept checks an AP-REQ (acceptGated without a gate).
func (a *Acceptor) accept(ctx context.Context, token []byte) (*acceptance, error) {
	r, _, err := a.acceptGated(ctx, token, nil)
	return r, err
}

// acceptGated checks an AP-REQ. When gate is not nil it is asked, once
// the ticket has decrypted and names its client, whether that client's
// logon is verified further (the throttle); its error ends the check. The
// returned account is the client's throttle name, "" when the ticket did
// not get that far.
func (a *Acceptor) acceptGated(ctx context.Context, token []byte, gate func(account string) error) (*acceptance, string, error) {
	account := ""
	if err := ctx.Err(); err != nil {
		return nil, account, err
	}
	if a.Keys == nil {
		return nil, account, fmt.Errorf("%w: acceptor without keys", ErrCredential)
	}
	a.once.Do(func() { a.replay = newReplayCache() })
	msg := token
	if len(token) > 0 && token[0] == 0x60 {
		tokID, m, err := UnwrapToken(token)
		if err != nil {
			return nil, account, err
		}
		if tokID != TokenAPReq {
			return nil, account, fmt.Errorf("%w: token %#04x where an AP-REQ was expected", ErrMalformed, tokID)
		}
		msg = m
	}
	var req messages.APReq
	if err := safeUnmarshal(func() error { return req.Unmarshal(msg) }); err != nil {
		return nil, account, fmt.Errorf("%w: AP-REQ: %v", ErrMalformed, err)
	}
	if types.IsFlagSet(&req.APOptions, flags.APOptionUseSessionKey) {
		return nil, account, fmt.Errorf("%w: user-to-user tickets are not supported", ErrWrongService)
	}
	tkt := req.Ticket
	if len(tkt.SName.NameString) == 0 {
		return nil, account, fmt.Errorf("%w: ticket without a service name", ErrMalformed)
	}
	sname := strings.Join(tkt.SName.NameString, "/")
	service := sname + "@" + tkt.Realm
	if !a.serves(sname, tkt.Realm) {
		return nil, account, fmt.Errorf("%w: ticket for %s", ErrWrongService, service)
	}
	lookup := tkt.SName
	if m, ok := a.mapped(sname); ok {
		lookup = types.PrincipalName{NameType: tkt.SName.NameType, NameString: strings.Split(m, "/")}
	}
	key, _, err := a.Keys.kt.GetEncryptionKey(lookup, tkt.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
	if err != nil {
		return nil, account, fmt.Errorf("%w: no key for %s (kvno %d, etype %d) in the keytab",
			ErrWrongService, service, tkt.EncPart.KVNO, tkt.EncPart.EType)
	}
	plain, err := decrypt(tkt.EncPart, key, keyusage.KDC_REP_TICKET)
	if err != nil {
		return nil, account, fmt.Errorf("%w: ticket for %s does not decrypt with the keytab's key", ErrIntegrity, service)
	}
	var etp messages.EncTicketPart
	if err := safeUnmarshal(func() error { return etp.Unmarshal(plain) }); err != nil {
		return nil, account, fmt.Errorf("%w: ticket's encrypted part: %v", ErrMalformed, err)
	}
	account = throttleAccount(etp.CName.NameString, etp.CRealm)
	if gate != nil {
		if err := gate(account); err != nil {
			return nil, account, err
		}
	}
	now := a.now().UTC()
	skew := a.skew()
	start := etp.StartTime
	if start.IsZero() {
		start = etp.AuthTime
	}
	if now.Before(start.Add(-skew)) {
		return nil, account, fmt.Errorf("%w: ticket valid from %v", ErrTicketTime, start)
	}
	if now.After(etp.EndTime.Add(skew)) {
		return nil, account, fmt.Errorf("%w: ticket expired at %v", ErrTicketTime, etp.EndTime)
	}
	plainAuth, err := decrypt(req.EncryptedAuthenticator, etp.Key, keyusage.AP_REQ_AUTHENTICATOR)
	if err != nil {
		return nil, account, fmt.Errorf("%w: authenticator does not decrypt with the ticket's session key", ErrIntegrity)
	}
	var auth types.Authenticator
	if err := safeUnmarshal(func() error { return auth.Unmarshal(plainAuth) }); err != nil {
		return nil, account, fmt.Errorf("%w: authenticator: %v", ErrMalformed, err)
	}
	if !auth.CName.Equal(etp.CName) || !strings.EqualFold(auth.CRealm, etp.CRealm) {
		return nil, account, fmt.Errorf("%w: authenticator's client differs from the ticket's", ErrIntegrity)
	}
	ctime := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ctime); d > skew || d < -skew {
		return nil, account, fmt.Errorf("%w: authenticator time %v, acceptor time %v", ErrClockSkew, ctime, now)
	}
	var gssFlags uint32
	if auth.Cksum.CksumType == gssChecksumType {
		c := auth.Cksum.Checksum
		if len(c) < 24 || binary.LittleEndian.Uint32(c) != 16 {
			return nil, account, fmt.Errorf("%w: GSS checksum of %d bytes", ErrMalformed, len(c))
		}
		gssFlags = binary.LittleEndian.Uint32(c[20:])
	}
	if auth.SubKey.KeyType != 0 || len(auth.SubKey.KeyValue) != 0 {
		if err := checkSubkey(auth.SubKey); err != nil {
			return nil, account, fmt.Errorf("%w: authenticator: %v", ErrMalformed, err)
		}
	}

	id := &Identity{
		User:    strings.Join(etp.CName.NameString, "/"),
		Realm:   etp.CRealm,
		Service: service,
		Flags:   gssFlags,
	}
	if err := a.identify(id, etp, key); err != nil {
		return nil, account, err
	}
	// The replay check comes last, so that only authenticators that
	// passed every other check take room in the cache.
	replayKey := strings.Join([]string{etp.CRealm, id.User, service, ctime.Format(time.RFC3339Nano)}, "\x00")
	if !a.replay.add(replayKey, ctime.Add(skew), now) {
		return nil, account, fmt.Errorf("%w: from %s@%s at %v", ErrReplay, id.User, id.Realm, ctime)
	}

	sk := etp.Key
	if len(auth.SubKey.KeyValue) != 0 {
		sk = auth.SubKey
	}
	// Without an AP-REP both sides count from the authenticator's
	// sequence number (RFC 4121 section 4.2.6.1, as MIT does).
	seq := uint64(uint32(auth.SeqNumber))
	if !types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) && gssFlags&FlagMutual == 0 {
		return &acceptance{id: id, key: sk, sendSeq: seq, recvSeq: seq, ticketKey: etp.Key}, account, nil
	}
	et, err := crypto.GetEtype(sk.KeyType)
	if err != nil {
		return nil, account, fmt.Errorf("%w: key type %d", ErrMalformed, sk.KeyType)
	}
	sub, err := types.GenerateEncryptionKey(et)
	if err != nil {
		return nil, account, err
	}
	rep, repSeq, err := buildAPRep(etp.Key, auth.CTime, auth.Cusec, sub)
	if err != nil {
		return nil, account, err
	}
	a.logf("kerberos logon accepted", "user", id.User, "realm", id.Realm, "service", service)
	return &acceptance{reply: WrapToken(TokenAPRep, rep), id: id,
		key: sub, subkey: true, sendSeq: repSeq, recvSeq: seq, ticketKey: etp.Key}, account, nil
}

func (a *Acceptor) logf(msg string, args ...any) {
	if a.Logger != nil {
		a.Logger.Debug(msg, args...)
	}
}

// serves reports whether the acceptor takes tickets for sname@realm.
func (a *Acceptor) serves(sname, realm string) bool {
	if len(a.Services) == 0 {
		return true
	}
	for _, s := range a.Services {
		name, r, hasRealm := strings.Cut(s, "@")
		if strings.EqualFold(name, sname) && (!hasRealm || strings.EqualFold(r, realm)) {
			return true
		}
	}
	return false
}

func (a *Acceptor) mapped(sname string) (string, bool) {
	for k, v := range a.Map {
		if strings.EqualFold(k, sname) {
			return v, true
		}
	}
	return "", false
}

// identify fills id from the ticket's PAC, verifying its server signature
// with the service key.
func (a *Acceptor) identify(id *Identity, etp messages.EncTicketPart, key types.EncryptionKey) error {
	raw, err := findPAC(etp.AuthorizationData)
	if err != nil {
		return err
	}
	if raw == nil {
		if a.AllowMissingPAC {
			return nil
		}
		return fmt.Errorf("%w: ticket without a PAC", ErrMalformed)
	}
	pac, err := ParsePAC(raw)
	if err != nil {
		return err
	}
	if err := verifyServerChecksum(raw, pac, key); err != nil {
		return err
	}
	if pac.ClientName != "" && !strings.EqualFold(pac.ClientName, id.User) {
		return fmt.Errorf("%w: PAC is for %q, the ticket for %q", ErrIntegrity, pac.ClientName, id.User)
	}
	li := pac.LogonInfo
	id.PAC = pac
	id.Domain = li.LogonDomainName
	id.UserSID = li.UserSID().String()
	id.PrimaryGroupSID = li.LogonDomainID.Append(li.PrimaryGroupID).String()
	for _, s := range li.GroupSIDs() {
		id.GroupSIDs = append(id.GroupSIDs, s.String())
	}
	for _, s := range li.ExtraSIDs {
		id.ExtraSIDs = append(id.ExtraSIDs, s.SID.String())
	}
	for _, s := range li.ResourceGroupSIDs() {
		id.ResourceGroupSIDs = append(id.ResourceGroupSIDs, s.String())
	}
	return nil
}

// findPAC returns the PAC inside the ticket's AD-IF-RELEVANT elements, or
// nil when there is none.
func findPAC(ad types.AuthorizationData) ([]byte, error) {
	var found []byte
	for _, e := range ad {
		if e.ADType != adIfRelevant {
			continue
		}
		var inner types.AuthorizationData
		if err := safeUnmarshal(func() error { return inner.Unmarshal(e.ADData) }); err != nil {
			return nil, fmt.Errorf("%w: AD-IF-RELEVANT: %v", ErrMalformed, err)
		}
		for _, ie := range inner {
			if ie.ADType == adWin2kPAC {
				if found != nil {
					return nil, fmt.Errorf("%w: two PACs", ErrMalformed)
				}
				found = ie.ADData
			}
		}
	}
	return found, nil
}

// verifyServerChecksum checks the PAC's server signature: a keyed
// checksum, with the service key, of the PAC with both signatures zeroed.
func verifyServerChecksum(raw []byte, pac *PAC, key types.EncryptionKey) error {
	if pac.ServerChecksum == nil || pac.KDCChecksum == nil {
		return fmt.Errorf("%w: PAC without signatures", ErrIntegrity)
	}
	data := bytes.Clone(raw)
	for _, s := range []*PACSignature{pac.ServerChecksum, pac.KDCChecksum} {
		clear(data[s.off : s.off+len(s.Signature)])
	}
	et, err := crypto.GetChksumEtype(pac.ServerChecksum.Type)
	if err != nil {
		return fmt.Errorf("%w: PAC server checksum type %d", ErrIntegrity, pac.ServerChecksum.Type)
	}
	if et.GetETypeID() != key.KeyType {
		return fmt.Errorf("%w: PAC server checksum type %d does not match the service key's type %d",
			ErrIntegrity, pac.ServerChecksum.Type, key.KeyType)
	}
	if !et.VerifyChecksum(key.KeyValue, data, pac.ServerChecksum.Signature, keyusage.KERB_NON_KERB_CKSUM_SALT) {
		return fmt.Errorf("%w: PAC server signature does not verify", ErrIntegrity)
	}
	return nil
}

// buildAPRep makes the AP-REP: the authenticator's time and the acceptor
// subkey, encrypted with the ticket's session key (key usage 12).
// It returns the AP-REP and its sequence number, where the acceptor's MIC
// tokens start.
func buildAPRep(ticketKey types.EncryptionKey, ctime time.Time, cusec int, sub types.EncryptionKey) ([]byte, uint64, error) {
	var seq [4]byte
	rand.Read(seq[:])
	part := messages.EncAPRepPart{
		CTime:          ctime,
		Cusec:          cusec,
		Subkey:         sub,
		SequenceNumber: int64(binary.BigEndian.Uint32(seq[:]) & 0x3fffffff),
	}
	b, err := marshalAPRep(ticketKey, part)
	if err != nil {
		return nil, 0, err
	}
	return b, uint64(part.SequenceNumber), nil
}

// marshalAPRep encrypts part with key (key usage 12) into a bare AP-REP:
// the acceptor's answer (buildAPRep) and a DCE-style initiator's third leg.
func marshalAPRep(key types.EncryptionKey, part messages.EncAPRepPart) ([]byte, error) {
	pb, err := asn1.Marshal(part)
	if err != nil {
		return nil, fmt.Errorf("krb5: AP-REP: %w", err)
	}
	pb = asn1tools.AddASNAppTag(pb, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(pb, key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, fmt.Errorf("krb5: AP-REP: %w", err)
	}
	b, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return nil, fmt.Errorf("krb5: AP-REP: %w", err)
	}
	return asn1tools.AddASNAppTag(b, asnAppTag.APREP), nil
}

// replayCache remembers authenticators until they are too old to pass
// the skew check anyway. It prunes itself as it grows: no goroutine.
type replayCache struct {
	mu        sync.Mutex
	seen      map[string]time.Time // key -> expiry
	nextPrune int
}

func newReplayCache() *replayCache {
	return &replayCache{seen: map[string]time.Time{}, nextPrune: 1024}
}

// add records key until expiry and reports whether it was new (an
// expired entry counts as absent).
func (c *replayCache) add(key string, expiry, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.seen[key]; ok && now.Before(exp) {
		return false
	}
	if len(c.seen) >= c.nextPrune {
		for k, exp := range c.seen {
			if !now.Before(exp) {
				delete(c.seen, k)
			}
		}
		c.nextPrune = max(1024, 2*len(c.seen))
	}
	c.seen[key] = expiry
	return true
}

// len is the number of remembered authenticators.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
