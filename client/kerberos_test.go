package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
)

// dcKerberos logs on to the test domain with cred and returns the
// Kerberos initiator for spn.
func dcKerberos(t *testing.T, ctx context.Context, dc *addc.DC, cred krb5.Credential, spn string) *krb5.Mechanism {
	t.Helper()
	cl, err := krb5.NewClient(ctx, cred, krb5.Config{Krb5Conf: dc.Krb5Conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &krb5.Mechanism{Tickets: cl, SPN: spn}
}

// TestKerberosDCSrvsvc lists the sessions of the domain controller's own
// srvsvc over \PIPE\srvsvc, logged on with Kerberos in SPNEGO, with each
// credential form; our own session is in the list at level 1 under the
// user's name.
func TestKerberosDCSrvsvc(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	aes, err := krb5.StringToKey(addc.AdminUser, dc.Realm, addc.AdminPassword, krb5.ETypeAES256)
	if err != nil {
		t.Fatal(err)
	}
	hash := ntlm.NTHash(addc.AdminPassword)
	ccache := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, ccache); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cred krb5.Credential
	}{
		{"password", krb5.Password(addc.AdminUser, dc.Realm, addc.AdminPassword)},
		{"aes key", krb5.AESKey(addc.AdminUser, dc.Realm, aes)},
		{"nt hash", krb5.NTHash(addc.AdminUser, dc.Realm, hash[:])},
		{"kinit ccache", krb5.CCache("FILE:" + ccache)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mech := dcKerberos(t, ctx, dc, tc.cred, "") // the SPN comes from the host
			c, err := client.Dial(ctx, dc.Host, client.Options{Credentials: client.Credentials{Kerberos: mech}, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Mechanism() != auth.MechKerberos {
				t.Errorf("mechanism %v, want Kerberos", c.Mechanism())
			}
			for _, l := range []session.Level{session.Level0, session.Level1} {
				res, err := c.EnumAll(ctx, l, client.Filter{})
				if err != nil {
					t.Fatalf("level %d: %v", l, err)
				}
				if len(res.Sessions) == 0 {
					t.Fatalf("level %d: no sessions, ours at least expected", l)
				}
				if l == session.Level1 {
					found := false
					for _, s := range res.Sessions {
						found = found || strings.EqualFold(s.UserName, addc.AdminUser) || strings.HasSuffix(strings.ToLower(s.UserName), `\`+addc.AdminUser)
					}
					if !found {
						t.Errorf("level 1: our session (%s) not listed: %+v", addc.AdminUser, res.Sessions)
					}
				}
			}
		})
	}
}

// TestKerberosNoNTLMFallback: a Kerberos-only logon against our server
// offering NTLM alone fails as a logon failure and never uses NTLM; with
// NTLMFallback the same server logs on with NTLM and says so; over TCP an
// initiator without DCE-style Kerberos is refused, naming the SMB
// transport.
func TestKerberosNoNTLMFallback(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mech := dcKerberos(t, ctx, dc, krb5.Password(addc.User, dc.Realm, addc.UserPassword), krb5.DefaultSPN(dc.ServerHost))
	_, addr := smbServer(t, 1)

	_, err := client.Dial(ctx, addr, client.Options{Credentials: client.Credentials{Kerberos: mech, User: adminUser, Password: adminPass}, Timeout: 10 * time.Second})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Kind != client.KindLogonFailure {
		t.Fatalf("Kerberos-only logon to an NTLM-only server: %v, want a logon failure", err)
	}

	c, err := client.Dial(ctx, addr, client.Options{Credentials: client.Credentials{Kerberos: mech, NTLMFallback: true, User: adminUser, Password: adminPass}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("with NTLM fallback: %v", err)
	}
	if c.Mechanism() != auth.MechNTLM {
		t.Errorf("mechanism %v, want NTLM", c.Mechanism())
	}
	if _, err := c.EnumAll(ctx, session.Level1, client.Filter{}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	_, err = client.Dial(ctx, addr, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{Kerberos: notDCE{mech}}})
	if !errors.Is(err, client.ErrKerberosTransport) || !strings.Contains(err.Error(), "transport smb") {
		t.Errorf("Kerberos over TCP: %v", err)
	}
}
