package krb5

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"go.uber.org/goleak"
	//lint:ignore SA1019 the NT hash is MD4 by definition.
	"golang.org/x/crypto/md4"

	"github.com/netsession/netsession/internal/addc"
)

func TestMain(m *testing.M) {
	code := addc.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func dcContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func ntHash(password string) []byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 2*len(u))
	for i, v := range u {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	h := md4.New()
	h.Write(b)
	return h.Sum(nil)
}

// apReq starts an initiator for spn and returns it with its AP-REQ.
func apReq(t *testing.T, ctx context.Context, cl *Client, spn string) (*Initiator, []byte) {
	t.Helper()
	ini, err := cl.Initiator(ctx, spn)
	if err != nil {
		t.Fatalf("initiator for %s: %v", spn, err)
	}
	tok, err := ini.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ini, tok
}

// exchange runs a whole context: our initiator's AP-REQ into acc, its
// AP-REP back into the initiator; both sides must agree on the key.
func exchange(t *testing.T, ctx context.Context, cl *Client, spn string, acc *Acceptor) *Identity {
	t.Helper()
	ini, tok := apReq(t, ctx, cl, spn)
	reply, id, key, err := acc.Accept(ctx, tok)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if err := ini.Accept(ctx, reply); err != nil {
		t.Fatalf("initiator accept of the AP-REP: %v", err)
	}
	if !bytes.Equal(ini.SessionKey(), key) || len(key) < 16 {
		t.Fatalf("session keys differ or short: initiator %x, acceptor %x", ini.SessionKey(), key)
	}
	return id
}

// dcClient logs on to the test domain with cred; closed when t ends.
func dcClient(t *testing.T, ctx context.Context, dc *addc.DC, cred Credential) *Client {
	t.Helper()
	cl, err := NewClient(ctx, cred, Config{Krb5Conf: dc.Krb5Conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func dcTicket(t *testing.T, ctx context.Context, cl *Client, spn string) *Ticket {
	t.Helper()
	tkt, err := cl.Ticket(ctx, spn)
	if err != nil {
		t.Fatal(err)
	}
	return tkt
}

func dcAcceptor(t *testing.T, dc *addc.DC) *Acceptor {
	t.Helper()
	keys, err := LoadKeys(dc.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	return &Acceptor{Keys: keys}
}

// TestDCCredentialForms logs on to the test domain with every credential
// form, obtains a ticket for the member server's cifs SPN, and has our
// acceptor (with the exported keytab) accept it; the identity is the
// user's.
func TestDCCredentialForms(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	cfg := Config{Krb5Conf: dc.Krb5Conf}
	aes256, err := StringToKey(addc.User, dc.Realm, addc.UserPassword, ETypeAES256)
	if err != nil {
		t.Fatal(err)
	}
	aes128, err := StringToKey(addc.User, dc.Realm, addc.UserPassword, ETypeAES128)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	userKeytab := filepath.Join(dir, "user.keytab")
	if _, err := dc.SambaTool(ctx, "domain", "exportkeytab", userKeytab, "--principal="+addc.User); err != nil {
		t.Fatal(err)
	}
	ccache := filepath.Join(dir, "ccache")
	if err := dc.Kinit(ctx, addc.User, addc.UserPassword, ccache); err != nil {
		t.Fatal(err)
	}
	userSID, err := dc.UserSID(ctx, addc.User)
	if err != nil {
		t.Fatal(err)
	}
	srvSID, err := dc.UserSID(ctx, addc.ServerAccount+"$")
	if err != nil {
		t.Fatal(err)
	}
	acc := dcAcceptor(t, dc)
	spn := DefaultSPN(dc.ServerHost)
	for _, tc := range []struct {
		name string
		cred Credential
		cfg  Config
		user string
		sid  string
	}{
		{"password", Password(addc.User, "", addc.UserPassword), cfg, addc.User, userSID},
		{"password explicit realm and KDC, no krb5.conf", Password(addc.User, dc.Realm, addc.UserPassword),
			Config{Krb5Conf: filepath.Join(dir, "none"), Realm: dc.Realm, KDC: dc.Addr}, addc.User, userSID},
		{"aes256 key", AESKey(addc.User, dc.Realm, aes256), cfg, addc.User, userSID},
		{"aes128 key", AESKey(addc.User, dc.Realm, aes128), cfg, addc.User, userSID},
		{"nt hash", NTHash(addc.User, dc.Realm, ntHash(addc.UserPassword)), cfg, addc.User, userSID},
		{"user keytab", Keytab(addc.User, dc.Realm, userKeytab), cfg, addc.User, userSID},
		{"machine keytab", Keytab(addc.ServerAccount+"$", dc.Realm, dc.Keytab), cfg, addc.ServerAccount + "$", srvSID},
		{"kinit ccache FILE:", CCache("FILE:" + ccache), cfg, addc.User, userSID},
		{"kinit ccache plain path", CCache(ccache), cfg, addc.User, userSID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "no krb5.conf") {
				t.Setenv("KRB5_CONFIG", "")
				tc.cfg.Krb5Conf = ""
			}
			cl, err := NewClient(ctx, tc.cred, tc.cfg)
			if err != nil && strings.Contains(tc.name, "no krb5.conf") && errors.Is(err, ErrConfig) {
				// /etc/krb5.conf exists on this machine: point at an
				// empty one so that only Realm and KDC count.
				empty := filepath.Join(dir, "empty.conf")
				os.WriteFile(empty, nil, 0o644)
				tc.cfg.Krb5Conf = empty
				cl, err = NewClient(ctx, tc.cred, tc.cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if !strings.EqualFold(cl.Principal(), tc.user+"@"+dc.Realm) {
				t.Errorf("principal %s", cl.Principal())
			}
			id := exchange(t, ctx, cl, spn, acc)
			if !strings.EqualFold(id.User, tc.user) || id.Realm != dc.Realm {
				t.Errorf("identity %s@%s, want %s@%s", id.User, id.Realm, tc.user, dc.Realm)
			}
			if id.UserSID != tc.sid {
				t.Errorf("PAC user SID %s, samba-tool says %s", id.UserSID, tc.sid)
			}
			if id.Domain != dc.Domain {
				t.Errorf("PAC logon domain %q, want %q", id.Domain, dc.Domain)
			}
			if id.Service != spn+"@"+dc.Realm {
				t.Errorf("service %s", id.Service)
			}
			if id.Flags&FlagMutual == 0 {
				t.Errorf("GSS flags %#x lack mutual", id.Flags)
			}
		})
	}
}

// TestDCLogonErrors checks that a wrong password, an unknown user and an
// unknown SPN each give their own error.
func TestDCLogonErrors(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	cfg := Config{Krb5Conf: dc.Krb5Conf}
	for _, tc := range []struct {
		name string
		cred Credential
		want error
	}{
		{"wrong password", Password(addc.User, "", "not-the-password"), ErrWrongPassword},
		{"wrong nt hash", NTHash(addc.User, dc.Realm, ntHash("not-the-password")), ErrWrongPassword},
		{"wrong aes key", AESKey(addc.User, dc.Realm, make([]byte, 32)), ErrWrongPassword},
		{"unknown user", Password("nsad_nosuchuser", "", "whatever1!"), ErrUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := NewClient(ctx, tc.cred, cfg)
			if err == nil {
				cl.Close()
				t.Fatal("logon succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrWrongPassword, ErrUnknownUser, ErrClockSkew, ErrKDCUnreachable} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
			var ke *KDCError
			if !errors.As(err, &ke) {
				t.Errorf("%v is not a *KDCError", err)
			}
		})
	}
	t.Run("unknown SPN", func(t *testing.T) {
		cl, err := NewClient(ctx, Password(addc.User, "", addc.UserPassword), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		_, err = cl.Ticket(ctx, "cifs/nosuchhost."+dc.DNSDomain)
		if !errors.Is(err, ErrUnknownService) {
			t.Fatalf("got %v, want ErrUnknownService", err)
		}
	})
	t.Run("no KDC", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = NewClient(ctx, Password(addc.User, dc.Realm, addc.UserPassword),
			Config{Krb5Conf: dc.Krb5Conf, Realm: dc.Realm, KDC: addr})
		if !errors.Is(err, ErrKDCUnreachable) {
			t.Fatalf("got %v, want ErrKDCUnreachable", err)
		}
	})
}

// TestDCClockSkew checks both places a skewed clock shows: the KDC
// refusing a pre-authentication timestamp two hours off (a hand-built
// AS-REQ, since the library takes the time from the system clock), and
// our acceptor refusing an authenticator from a client whose clock is off.
func TestDCClockSkew(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	key, err := StringToKey(addc.User, dc.Realm, addc.UserPassword, ETypeAES256)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := loadConfig(Config{Krb5Conf: dc.Krb5Conf})
	if err != nil {
		t.Fatal(err)
	}
	req, err := messages.NewASReqForTGT(dc.Realm, conf, types.NewPrincipalName(1, addc.User))
	if err != nil {
		t.Fatal(err)
	}
	req.ReqBody.EType = []int32{ETypeAES256}
	ts, err := asn1.Marshal(types.PAEncTSEnc{PATimestamp: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(ts, types.EncryptionKey{KeyType: ETypeAES256, KeyValue: key},
		keyusage.AS_REQ_PA_ENC_TIMESTAMP, 0)
	if err != nil {
		t.Fatal(err)
	}
	edb, err := ed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req.PAData = append(req.PAData, types.PAData{PADataType: patype.PA_ENC_TIMESTAMP, PADataValue: edb})
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	reply := kdcTCP(t, net.JoinHostPort(dc.Addr, "88"), b)
	err = parseKRBError(reply)
	if !errors.Is(err, ErrClockSkew) {
		t.Fatalf("KDC's answer to a timestamp 2h off: %v, want ErrClockSkew", err)
	}

	// The acceptor side: an initiator whose clock is 10 minutes ahead.
	cl := dcClient(t, ctx, dc, Password(addc.User, "", addc.UserPassword))
	tkt := dcTicket(t, ctx, cl, DefaultSPN(dc.ServerHost))
	acc := dcAcceptor(t, dc)
	for _, off := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		ini := NewInitiator(tkt, func() time.Time { return time.Now().Add(off) })
		tok, err := ini.Init(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := acc.Accept(ctx, tok); !errors.Is(err, ErrClockSkew) {
			t.Errorf("client clock %v off: %v, want ErrClockSkew", off, err)
		}
	}
	// Within the allowed skew it passes.
	ini := NewInitiator(tkt, func() time.Time { return time.Now().Add(2 * time.Minute) })
	tok, _ := ini.Init(ctx)
	if _, _, _, err := acc.Accept(ctx, tok); err != nil {
		t.Errorf("client clock 2m off: %v", err)
	}
}

// kdcTCP sends a message to a KDC over TCP (RFC 4120 section 7.2.2) and
// returns its answer.
func kdcTCP(t *testing.T, addr string, msg []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	out := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	if _, err := c.Write(append(out, msg...)); err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		t.Fatalf("KDC answer of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDCAcceptorRefusals: a replayed AP-REQ, a ticket for an SPN the
// acceptor does not serve, and a ticket for a service whose key the keytab
// lacks are each refused with their own error.
func TestDCAcceptorRefusals(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	cl := dcClient(t, ctx, dc, Password(addc.AdminUser, "", addc.AdminPassword))
	acc := dcAcceptor(t, dc)
	acc.Services = []string{DefaultSPN(dc.ServerHost)}

	_, tok := apReq(t, ctx, cl, DefaultSPN(dc.ServerHost))
	if _, _, _, err := acc.Accept(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := acc.Accept(ctx, tok); !errors.Is(err, ErrReplay) {
		t.Errorf("replay: %v, want ErrReplay", err)
	}
	// Another acceptor (another server) has its own cache.
	other := dcAcceptor(t, dc)
	if _, _, _, err := other.Accept(ctx, tok); err != nil {
		t.Errorf("first use on another acceptor: %v", err)
	}

	// host/ is in the keytab but not served.
	_, tok = apReq(t, ctx, cl, "host/"+dc.ServerHost)
	if _, _, _, err := acc.Accept(ctx, tok); !errors.Is(err, ErrWrongService) {
		t.Errorf("host/ ticket on a cifs/ acceptor: %v, want ErrWrongService", err)
	}
	// The DC's own cifs/: no key in the keytab.
	open := dcAcceptor(t, dc)
	_, tok = apReq(t, ctx, cl, DefaultSPN(dc.Host))
	if _, _, _, err := open.Accept(ctx, tok); !errors.Is(err, ErrWrongService) {
		t.Errorf("ticket for the DC's cifs/: %v, want ErrWrongService", err)
	}
	// A tampered ticket does not decrypt.
	_, tok = apReq(t, ctx, cl, DefaultSPN(dc.ServerHost))
	tok[len(tok)/3] ^= 0x40
	if _, _, _, err := acc.Accept(ctx, tok); err == nil {
		t.Error("tampered AP-REQ accepted")
	}
}

// TestDCPACMatchesDirectory checks the SIDs from the PAC against the
// directory's: the user's SID, the primary group, and the groups (Domain
// Admins for the admin, not for the plain user).
func TestDCPACMatchesDirectory(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	acc := dcAcceptor(t, dc)
	for _, u := range []struct {
		name, pass string
		admin      bool
	}{{addc.AdminUser, addc.AdminPassword, true}, {addc.User, addc.UserPassword, false}} {
		t.Run(u.name, func(t *testing.T) {
			cl := dcClient(t, ctx, dc, Password(u.name, "", u.pass))
			id := exchange(t, ctx, cl, DefaultSPN(dc.ServerHost), acc)
			sid, err := dc.UserSID(ctx, u.name)
			if err != nil {
				t.Fatal(err)
			}
			groups, err := dc.GroupSIDs(ctx, u.name)
			if err != nil {
				t.Fatal(err)
			}
			if id.UserSID != sid {
				t.Errorf("user SID %s, directory %s", id.UserSID, sid)
			}
			if id.PrimaryGroupSID != dc.DomainSID+"-513" {
				t.Errorf("primary group %s", id.PrimaryGroupSID)
			}
			// Every domain group of the PAC is one of the directory's,
			// and every global group of the directory is in the PAC.
			for _, g := range id.GroupSIDs {
				if !slices.Contains(groups, g) {
					t.Errorf("PAC group %s not among the directory's %v", g, groups)
				}
			}
			for _, g := range []string{dc.DomainSID + "-513"} {
				if !slices.Contains(id.GroupSIDs, g) {
					t.Errorf("PAC groups %v lack %s", id.GroupSIDs, g)
				}
			}
			hasDA := slices.Contains(id.GroupSIDs, dc.DomainSID+"-512")
			if hasDA != u.admin || slices.Contains(groups, dc.DomainSID+"-512") != u.admin {
				t.Errorf("Domain Admins in PAC %v, directory %v, want %v", hasDA, groups, u.admin)
			}
			t.Logf("%s: user %s groups %v extra %v", u.name, id.UserSID, id.GroupSIDs, id.ExtraSIDs)
		})
	}
}

// goldenPAC describes testdata/pac_*.bin: a PAC captured from the test
// domain, the service key that signs it, and what it must decode to.
type goldenPAC struct {
	Realm       string   `json:"realm"`
	KeyType     int32    `json:"key_type"`
	Key         string   `json:"key"`
	ClientName  string   `json:"client_name"`
	User        string   `json:"user"`
	Domain      string   `json:"domain"`
	UserSID     string   `json:"user_sid"`
	PrimaryGID  uint32   `json:"primary_group_id"`
	GroupSIDs   []string `json:"group_sids"`
	ExtraSIDs   []string `json:"extra_sids"`
	UPN         string   `json:"upn"`
	DNSDomain   string   `json:"dns_domain"`
	LogonServer string   `json:"logon_server"`
}

// TestDCCapturePAC decrypts a real service ticket with the exported keytab
// and checks its PAC against the directory; with NETSESS_UPDATE_GOLDEN=1
// it also writes the PAC and its expectations to testdata for the golden
// tests.
func TestDCCapturePAC(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	cl := dcClient(t, ctx, dc, Password(addc.AdminUser, "", addc.AdminPassword))
	tkt := dcTicket(t, ctx, cl, DefaultSPN(dc.ServerHost))
	keys, err := LoadKeys(dc.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := keys.kt.GetEncryptionKey(tkt.tkt.SName, tkt.tkt.Realm, tkt.tkt.EncPart.KVNO, tkt.tkt.EncPart.EType)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := crypto.DecryptEncPart(tkt.tkt.EncPart, key, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatal(err)
	}
	var etp messages.EncTicketPart
	if err := etp.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	raw, err := findPAC(etp.AuthorizationData)
	if err != nil || raw == nil {
		t.Fatalf("no PAC: %v", err)
	}
	pac, err := ParsePAC(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyServerChecksum(raw, pac, key); err != nil {
		t.Fatal(err)
	}
	// The server account supports AES, as Windows members do.
	if key.KeyType != ETypeAES256 || pac.ServerChecksum.Type != 16 {
		t.Errorf("ticket key type %d, PAC server checksum type %d: want AES-256", key.KeyType, pac.ServerChecksum.Type)
	}
	sid, err := dc.UserSID(ctx, addc.AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	li := pac.LogonInfo
	if li.UserSID().String() != sid || !strings.EqualFold(li.EffectiveName, addc.AdminUser) ||
		!strings.EqualFold(pac.ClientName, addc.AdminUser) || li.LogonDomainID.String() != dc.DomainSID {
		t.Errorf("PAC: user %s (%s), client %s, domain %s; directory %s, %s", li.UserSID(), li.EffectiveName,
			pac.ClientName, li.LogonDomainID, sid, dc.DomainSID)
	}
	if os.Getenv("NETSESS_UPDATE_GOLDEN") == "" {
		return
	}
	g := goldenPAC{
		Realm: dc.Realm, KeyType: key.KeyType, Key: hex.EncodeToString(key.KeyValue),
		ClientName: pac.ClientName, User: li.EffectiveName, Domain: li.LogonDomainName,
		UserSID: li.UserSID().String(), PrimaryGID: li.PrimaryGroupID, UPN: pac.UPN, DNSDomain: pac.DNSDomain,
		LogonServer: li.LogonServer,
	}
	for _, s := range li.GroupSIDs() {
		g.GroupSIDs = append(g.GroupSIDs, s.String())
	}
	for _, s := range li.ExtraSIDs {
		g.ExtraSIDs = append(g.ExtraSIDs, s.SID.String())
	}
	j, _ := json.MarshalIndent(g, "", "  ")
	if err := os.WriteFile(filepath.Join("testdata", "pac_admin_aes.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "pac_admin_aes.json"), append(j, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote testdata/pac_admin_aes.{bin,json}")
}
