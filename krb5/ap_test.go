package krb5

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The tests below need no KDC: they issue tickets themselves, with the
// service key and PAC captured from the test domain (testdata), so that
// the PAC's server signature verifies as it does for a real ticket.

const (
	fakeRealm = "AD0.NETSESS.TEST"
	fakeSPN   = "cifs/srv.ad0.netsess.test"
)

type ticketSpec struct {
	sname      string
	cname      string
	start, end time.Time
	noPAC      bool
}

// issue makes a ticket as a KDC would, encrypted with the golden service
// key, carrying the golden PAC.
func issue(t testing.TB, spec ticketSpec) (*Ticket, types.EncryptionKey) {
	t.Helper()
	raw, g, svc := loadGoldenPAC(t, "pac_admin_aes")
	if spec.sname == "" {
		spec.sname = fakeSPN
	}
	if spec.cname == "" {
		spec.cname = g.ClientName
	}
	if spec.start.IsZero() {
		spec.start = time.Now().Add(-time.Minute)
	}
	if spec.end.IsZero() {
		spec.end = spec.start.Add(10 * time.Hour)
	}
	et, err := crypto.GetEtype(ETypeAES256)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := types.GenerateEncryptionKey(et)
	if err != nil {
		t.Fatal(err)
	}
	var ad types.AuthorizationData
	if !spec.noPAC {
		inner, err := asn1.Marshal(types.AuthorizationData{{ADType: adWin2kPAC, ADData: raw}})
		if err != nil {
			t.Fatal(err)
		}
		ad = types.AuthorizationData{{ADType: adIfRelevant, ADData: inner}}
	}
	cname := types.NewPrincipalName(1, spec.cname)
	etp := messages.EncTicketPart{
		Flags: types.NewKrbFlags(), Key: sess, CRealm: fakeRealm, CName: cname,
		Transited: messages.TransitedEncoding{TRType: 1, Contents: []byte{}},
		AuthTime:  spec.start.UTC().Truncate(time.Second), StartTime: spec.start.UTC().Truncate(time.Second),
		EndTime: spec.end.UTC().Truncate(time.Second), AuthorizationData: ad,
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		t.Fatal(err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	ed, err := crypto.GetEncryptedData(b, svc, keyusage.KDC_REP_TICKET, 2)
	if err != nil {
		t.Fatal(err)
	}
	sname := types.PrincipalName{NameType: 2, NameString: strings.Split(spec.sname, "/")}
	tkt := messages.Ticket{TktVNO: 5, Realm: fakeRealm, SName: sname, EncPart: ed}
	return &Ticket{SPN: spec.sname, Realm: fakeRealm, Client: spec.cname + "@" + fakeRealm, EType: sess.KeyType,
		tkt: tkt, key: sess, cname: cname, crealm: fakeRealm}, svc
}

// keysFor is a keytab with the golden service key under principals.
func keysFor(t testing.TB, svc types.EncryptionKey, principals ...string) *Keys {
	t.Helper()
	var es []keytabEntry
	for _, p := range principals {
		es = append(es, keytabEntry{principal: p, realm: fakeRealm, nameType: 2, kvno: 2, etype: svc.KeyType, key: svc.KeyValue})
	}
	k, err := ParseKeys(encodeKeytab(es))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAcceptorRoundTrip(t *testing.T) {
	ctx := context.Background()
	tkt, svc := issue(t, ticketSpec{})
	_, g, _ := loadGoldenPAC(t, "pac_admin_aes")
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN), Services: []string{fakeSPN}}
	ini := NewInitiator(tkt, nil)
	if err := ini.Accept(ctx, nil); !errors.Is(err, ErrState) {
		t.Errorf("Accept before Init: %v", err)
	}
	tok, err := ini.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reply, id, key, err := acc.Accept(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := ini.Accept(ctx, reply); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ini.SessionKey(), key) || len(key) != 32 || ini.SessionKeyType() != ETypeAES256 {
		t.Fatalf("session keys: %x / %x", ini.SessionKey(), key)
	}
	if bytes.Equal(key, tkt.key.KeyValue) {
		t.Error("session key is the ticket's, not a fresh acceptor subkey")
	}
	if id.User != g.ClientName || id.UserSID != g.UserSID || id.Domain != g.Domain || id.Service != fakeSPN+"@"+fakeRealm {
		t.Errorf("identity %+v", id)
	}
	if len(id.SIDs()) != 1+len(g.GroupSIDs)+len(g.ExtraSIDs) || id.Flags != DefaultFlags {
		t.Errorf("SIDs %v flags %#x", id.SIDs(), id.Flags)
	}
	if _, err := ini.Init(ctx); !errors.Is(err, ErrState) {
		t.Errorf("second Init: %v", err)
	}
	if err := ini.Accept(ctx, reply); !errors.Is(err, ErrState) {
		t.Errorf("second Accept: %v", err)
	}
	// Replay of the same token; a new authenticator is fine.
	if _, _, _, err := acc.Accept(ctx, tok); !errors.Is(err, ErrReplay) {
		t.Errorf("replay: %v, want ErrReplay", err)
	}
	tok2, _ := NewInitiator(tkt, nil).Init(ctx)
	if _, _, _, err := acc.Accept(ctx, tok2); err != nil {
		t.Errorf("fresh authenticator: %v", err)
	}
	// A bare AP-REQ (no GSS framing) is accepted too.
	_, bare, _ := UnwrapToken(mustInit(t, tkt))
	if _, _, _, err := acc.Accept(ctx, bare); err != nil {
		t.Errorf("bare AP-REQ: %v", err)
	}
}

func mustInit(t testing.TB, tkt *Ticket) []byte {
	t.Helper()
	tok, err := NewInitiator(tkt, nil).Init(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAcceptorWithoutMutual: without mutual authentication there is no
// AP-REP and the session key is the initiator's subkey.
func TestAcceptorWithoutMutual(t *testing.T) {
	tkt, svc := issue(t, ticketSpec{})
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
	ini := NewInitiator(tkt, nil)
	ini.Flags = FlagInteg
	tok, err := ini.Init(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reply, _, key, err := acc.Accept(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if reply != nil || !bytes.Equal(key, ini.auth.SubKey.KeyValue) {
		t.Errorf("reply %x, key %x, initiator subkey %x", reply, key, ini.auth.SubKey.KeyValue)
	}
}

func TestAcceptorRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for _, tc := range []struct {
		name string
		spec ticketSpec
		acc  func(svc types.EncryptionKey) *Acceptor
		want error
	}{
		{"expired", ticketSpec{start: now.Add(-20 * time.Hour), end: now.Add(-10 * time.Hour)}, nil, ErrTicketTime},
		{"not yet valid", ticketSpec{start: now.Add(time.Hour)}, nil, ErrTicketTime},
		{"service not served", ticketSpec{sname: "host/srv.ad0.netsess.test"}, func(svc types.EncryptionKey) *Acceptor {
			return &Acceptor{Keys: keysFor(t, svc, fakeSPN, "host/srv.ad0.netsess.test"), Services: []string{fakeSPN + "@" + fakeRealm}}
		}, ErrWrongService},
		{"no key for the service", ticketSpec{sname: "cifs/other.ad0.netsess.test"}, nil, ErrWrongService},
		{"key under another name, unmapped", ticketSpec{}, func(svc types.EncryptionKey) *Acceptor {
			return &Acceptor{Keys: keysFor(t, svc, "SRV$")}
		}, ErrWrongService},
		{"wrong key", ticketSpec{}, func(svc types.EncryptionKey) *Acceptor {
			bad := types.EncryptionKey{KeyType: svc.KeyType, KeyValue: make([]byte, len(svc.KeyValue))}
			return &Acceptor{Keys: keysFor(t, bad, fakeSPN)}
		}, ErrIntegrity},
		{"no PAC", ticketSpec{noPAC: true}, nil, ErrMalformed},
		{"PAC of another user", ticketSpec{cname: "mallory"}, nil, ErrIntegrity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tkt, svc := issue(t, tc.spec)
			acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN)}
			if tc.acc != nil {
				acc = tc.acc(svc)
			}
			_, _, _, err := acc.Accept(ctx, mustInit(t, tkt))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("mapped principal", func(t *testing.T) {
		tkt, svc := issue(t, ticketSpec{})
		acc := &Acceptor{Keys: keysFor(t, svc, "SRV$"), Map: map[string]string{strings.ToUpper(fakeSPN): "SRV$"}}
		if _, _, _, err := acc.Accept(ctx, mustInit(t, tkt)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no PAC allowed", func(t *testing.T) {
		tkt, svc := issue(t, ticketSpec{noPAC: true})
		acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN), AllowMissingPAC: true}
		_, id, _, err := acc.Accept(ctx, mustInit(t, tkt))
		if err != nil || id.UserSID != "" || id.SIDs() != nil {
			t.Fatalf("%v %+v", err, id)
		}
	})
	t.Run("clock skew both ways, and the acceptor's clock", func(t *testing.T) {
		tkt, svc := issue(t, ticketSpec{})
		acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN), MaxSkew: time.Minute}
		for _, off := range []time.Duration{2 * time.Minute, -2 * time.Minute} {
			tok, _ := NewInitiator(tkt, func() time.Time { return time.Now().Add(off) }).Init(ctx)
			if _, _, _, err := acc.Accept(ctx, tok); !errors.Is(err, ErrClockSkew) {
				t.Errorf("offset %v: %v", off, err)
			}
			acc2 := &Acceptor{Keys: acc.Keys, MaxSkew: time.Minute, Clock: func() time.Time { return time.Now().Add(off) }}
			if _, _, _, err := acc2.Accept(ctx, tok); err != nil {
				t.Errorf("acceptor clock with the same offset %v: %v", off, err)
			}
		}
	})
	t.Run("no keys, cancelled context", func(t *testing.T) {
		if _, _, _, err := (&Acceptor{}).Accept(ctx, []byte{1}); !errors.Is(err, ErrCredential) {
			t.Errorf("no keys: %v", err)
		}
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, _, err := (&Acceptor{}).Accept(c, []byte{1}); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}
	})
}

// TestInitiatorRefusesBadAPRep: a missing or short subkey, a reply that
// does not echo the authenticator's time, one encrypted with another key,
// a KRB-ERROR, and garbage each give their own error.
func TestInitiatorRefusesBadAPRep(t *testing.T) {
	ctx := context.Background()
	tkt, _ := issue(t, ticketSpec{})
	et, _ := crypto.GetEtype(ETypeAES256)
	good, _ := types.GenerateEncryptionKey(et)
	other, _ := types.GenerateEncryptionKey(et)
	for _, tc := range []struct {
		name  string
		reply func(ini *Initiator) []byte
		want  error
	}{
		{"good, bare", func(ini *Initiator) []byte {
			b, _, _ := buildAPRep(tkt.key, ini.auth.CTime, ini.auth.Cusec, good)
			return b
		}, nil},
		{"missing subkey", func(ini *Initiator) []byte {
			b, _, _ := buildAPRep(tkt.key, ini.auth.CTime, ini.auth.Cusec, types.EncryptionKey{})
			return WrapToken(TokenAPRep, b)
		}, ErrNoSubkey},
		{"short subkey", func(ini *Initiator) []byte {
			b, _, _ := buildAPRep(tkt.key, ini.auth.CTime, ini.auth.Cusec, types.EncryptionKey{KeyType: ETypeAES256, KeyValue: make([]byte, 16)})
			return WrapToken(TokenAPRep, b)
		}, ErrNoSubkey},
		{"subkey of unknown type", func(ini *Initiator) []byte {
			b, _, _ := buildAPRep(tkt.key, ini.auth.CTime, ini.auth.Cusec, types.EncryptionKey{KeyType: 99, KeyValue: make([]byte, 32)})
			return WrapToken(TokenAPRep, b)
		}, ErrNoSubkey},
		{"time not echoed", func(ini *Initiator) []byte {
			b, _, _ := buildAPRep(tkt.key, ini.auth.CTime.Add(time.Second), ini.auth.Cusec, good)
			return WrapToken(TokenAPRep, b)
		}, ErrIntegrity},
		{"other key", func(ini *Initiator) []byte {
			b, _, _ := buildAPRep(other, ini.auth.CTime, ini.auth.Cusec, good)
			return WrapToken(TokenAPRep, b)
		}, ErrIntegrity},
		{"KRB-ERROR skew", func(ini *Initiator) []byte {
			e := messages.NewKRBError(tkt.tkt.SName, fakeRealm, codeSkew, "too far")
			b, _ := e.Marshal()
			return WrapToken(TokenKRBError, b)
		}, ErrClockSkew},
		{"KRB-ERROR bare", func(ini *Initiator) []byte {
			e := messages.NewKRBError(tkt.tkt.SName, fakeRealm, codeNotUs, "")
			b, _ := e.Marshal()
			return b
		}, ErrWrongService},
		{"AP-REQ token", func(ini *Initiator) []byte { return WrapToken(TokenAPReq, []byte{0x30, 0}) }, ErrMalformed},
		{"garbage", func(ini *Initiator) []byte { return []byte{0x6f, 0x03, 0x30, 0x01, 0x00} }, ErrMalformed},
		{"empty", func(ini *Initiator) []byte { return nil }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ini := NewInitiator(tkt, nil)
			if _, err := ini.Init(ctx); err != nil {
				t.Fatal(err)
			}
			err := ini.Accept(ctx, tc.reply(ini))
			if tc.want == nil {
				if err != nil || !bytes.Equal(ini.SessionKey(), good.KeyValue) {
					t.Fatalf("%v, key %x", err, ini.SessionKey())
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if ini.SessionKey() != nil {
				t.Error("session key after a refused reply")
			}
		})
	}
}

func TestReplayCachePrunes(t *testing.T) {
	c := newReplayCache()
	now := time.Now()
	for i := range 10000 {
		if !c.add(fmt.Sprint(i), now.Add(time.Duration(i%2)*time.Hour-time.Second), now) {
			t.Fatal("fresh key refused")
		}
	}
	// Half the entries had expired when the cache pruned.
	if n := c.len(); n > 7500 {
		t.Errorf("cache holds %d entries", n)
	}
	if c.add("1", now.Add(time.Hour), now) {
		t.Error("live entry accepted twice")
	}
	if !c.add("0", now.Add(time.Hour), now) {
		t.Error("expired entry refused")
	}
}

func TestKDCErrorIs(t *testing.T) {
	for code, want := range map[int32]error{
		codeSkew: ErrClockSkew, codePreauthFailed: ErrWrongPassword, codeBadIntegrity: ErrWrongPassword,
		codeCPrincipalUnknown: ErrUnknownUser, codeSPrincipalUnknown: ErrUnknownService, codeRepeat: ErrReplay,
		codeNotUs: ErrWrongService, codeTktExpired: ErrTicketTime, codeModified: ErrIntegrity,
	} {
		err := fmt.Errorf("wrapped: %w", &KDCError{Code: code})
		if !errors.Is(err, want) {
			t.Errorf("code %d does not match %v", code, want)
		}
		if code != codeSkew && errors.Is(err, ErrClockSkew) {
			t.Errorf("code %d matches ErrClockSkew", code)
		}
	}
	if e := (&KDCError{Code: codeSkew, Text: "x"}).Error(); !strings.Contains(e, "KRB_AP_ERR_SKEW") {
		t.Errorf("message %q", e)
	}
	// The library's flattened errors keep the code.
	err := classify("logon", errors.New("[Root cause: KDC_Error] KDC_Error: AS Exchange Error: kerberos error response from KDC: KRB Error: (37) KRB_AP_ERR_SKEW Clock skew too great"))
	if !errors.Is(err, ErrClockSkew) {
		t.Errorf("classify: %v", err)
	}
}

func TestCredentialChecks(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Krb5Conf: "/nonexistent/krb5.conf"}
	if _, err := NewClient(ctx, Password("u", "R", "p"), cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("missing krb5.conf: %v", err)
	}
	cfg = Config{Krb5Conf: "", Realm: "R.TEST", KDC: "127.0.0.1:1"}
	t.Setenv("KRB5_CONFIG", "/dev/null")
	for name, c := range map[string]Credential{
		"short aes key":    AESKey("u", "R.TEST", make([]byte, 20)),
		"short nt hash":    NTHash("u", "R.TEST", make([]byte, 15)),
		"no user":          Password("", "R.TEST", "p"),
		"missing keytab":   Keytab("u", "R.TEST", "/nonexistent/keytab"),
		"missing ccache":   CCache("FILE:/nonexistent/ccache"),
		"keyring ccache":   CCache("KEYRING:persistent:0"),
		"empty credential": {},
	} {
		if _, err := NewClient(ctx, c, cfg); !errors.Is(err, ErrCredential) {
			t.Errorf("%s: %v, want ErrCredential", name, err)
		}
	}
	t.Setenv("KRB5CCNAME", "")
	if _, err := NewClient(ctx, CCache(""), cfg); !errors.Is(err, ErrCredential) {
		t.Errorf("empty KRB5CCNAME: %v", err)
	}
}

// FuzzAcceptToken: no input makes the acceptor panic; refusals wrap one
// of the package's errors.
func FuzzAcceptToken(f *testing.F) {
	tkt, svc := issue(f, ticketSpec{})
	keys := keysFor(f, svc, fakeSPN)
	f.Add(mustInit(f, tkt))
	_, bare, _ := UnwrapToken(mustInit(f, tkt))
	f.Add(bare)
	f.Fuzz(func(t *testing.T, b []byte) {
		acc := &Acceptor{Keys: keys}
		_, _, _, err := acc.Accept(context.Background(), b)
		if err == nil {
			return
		}
		for _, e := range []error{ErrMalformed, ErrIntegrity, ErrWrongService, ErrTicketTime, ErrClockSkew, ErrReplay} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unclassified refusal: %v", err)
	})
}

// FuzzInitiatorReply: no reply makes the initiator panic or yields a
// session key without a full-length subkey.
func FuzzInitiatorReply(f *testing.F) {
	tkt, _ := issue(f, ticketSpec{})
	et, _ := crypto.GetEtype(ETypeAES256)
	sub, _ := types.GenerateEncryptionKey(et)
	ctime := time.Now().UTC().Truncate(time.Second)
	good, _, err := buildAPRep(tkt.key, ctime, 7, sub)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(WrapToken(TokenAPRep, good))
	f.Add(good)
	e := messages.NewKRBError(tkt.tkt.SName, fakeRealm, codeSkew, "x")
	kb, _ := e.Marshal()
	f.Add(WrapToken(TokenKRBError, kb))
	f.Fuzz(func(t *testing.T, b []byte) {
		part, err := parseAPRep(b, tkt.key, ctime, 7)
		if err == nil && len(part.Subkey.KeyValue) != 32 {
			t.Fatalf("accepted a subkey of %d bytes", len(part.Subkey.KeyValue))
		}
	})
}

// BenchmarkContext measures one whole context without a KDC: our
// initiator's AP-REQ, the acceptor's checks (ticket, authenticator, PAC and
// its signature, replay cache) and AP-REP, and the initiator's check of it.
func BenchmarkContext(b *testing.B) {
	ctx := context.Background()
	tkt, svc := issue(b, ticketSpec{})
	acc := &Acceptor{Keys: keysFor(b, svc, fakeSPN)}
	// Authenticator times a microsecond apart: never taken for replays.
	start, n := time.Now(), 0
	clock := func() time.Time { n++; return start.Add(time.Duration(n) * time.Microsecond) }
	for b.Loop() {
		ini := NewInitiator(tkt, clock)
		tok, err := ini.Init(ctx)
		if err != nil {
			b.Fatal(err)
		}
		reply, _, _, err := acc.Accept(ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		if err := ini.Accept(ctx, reply); err != nil {
			b.Fatal(err)
		}
	}
}
