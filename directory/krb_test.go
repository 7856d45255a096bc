package directory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/krb5"
)

// computerList is a discovery reduced to what two binds must agree on:
// every target and every exclusion, by name, SID and reason.
func computerList(d *directory.Discovery) []string {
	var out []string
	for _, c := range d.Targets {
		out = append(out, fmt.Sprintf("target %s %s %s %q %v", c.Name, c.SID, c.DNSHostName, c.OperatingSystem, c.LastLogon.Unix()))
	}
	for _, e := range d.Excluded {
		out = append(out, fmt.Sprintf("excluded %s %s %s", e.Computer.Name, e.Computer.SID, e.Reason))
	}
	slices.Sort(out)
	return out
}

// tapConn records every byte a connection reads and writes.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *tapConn) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	c.Conn = conn
	return c, err
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *tapConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// cacheTickets reads a credential cache when the bind asks for its ticket,
// as the command line does.
type cacheTickets struct{ path, conf string }

func (c cacheTickets) Ticket(ctx context.Context, spn string) (*krb5.Ticket, error) {
	cl, err := krb5.NewClient(ctx, krb5.CCache(c.path), krb5.Config{Krb5Conf: c.conf})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return cl.Ticket(ctx, spn)
}

// TestKerberosBind binds with Kerberos (SASL GSSAPI) on plain 389 with
// sealing, from a password, a keytab and a credential cache, and pages
// through the computers at page size 2: the answers equal those of the
// sealed NTLM bind. A signed-only layer is taken too; a wrong SPN, a
// ticket for another service, an expired ticket and an unreadable cache
// are refused with their reasons.
func TestKerberosBind(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := []string{"-U", "Administrator%" + addc.AdministratorPassword}
	for i := range 3 {
		if _, err := dc.SambaTool(ctx, append([]string{"computer", "add", fmt.Sprintf("NSKRB%d", i),
			fmt.Sprintf("--ip-address=127.1.251.%d", i+1), "--prepare-oldjoin"}, admin...)...); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	keytab := filepath.Join(dir, "user.keytab")
	if _, err := dc.SambaTool(ctx, "domain", "exportkeytab", keytab, "--principal="+addc.User); err != nil {
		t.Fatal(err)
	}
	ccache := filepath.Join(dir, "ccache")
	if err := dc.Kinit(ctx, addc.User, addc.UserPassword, ccache); err != nil {
		t.Fatal(err)
	}
	client := func(t *testing.T, cred krb5.Credential) *krb5.Client {
		t.Helper()
		cl, err := krb5.NewClient(ctx, cred, krb5.Config{Krb5Conf: dc.Krb5Conf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	base := directory.Config{
		Server: dc.Addr, ServerName: dc.Host, Security: directory.Sealed,
		User: addc.User, Domain: dc.Domain, Password: addc.UserPassword, PageSize: 2,
	}
	q := directory.Query{IncludeDisabled: true}
	ntlmConn, err := directory.Dial(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer ntlmConn.Close()
	want, err := ntlmConn.Computers(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if want.Seen < 5 {
		t.Fatalf("only %d computers", want.Seen)
	}

	for _, tc := range []struct {
		name string
		cred krb5.Credential
		sec  directory.Security
	}{
		{"password", krb5.Password(addc.User, dc.Realm, addc.UserPassword), directory.Sealed},
		{"keytab", krb5.Keytab(addc.User, dc.Realm, keytab), directory.Sealed},
		{"ccache", krb5.CCache("FILE:" + ccache), directory.Sealed},
		{"password-signed", krb5.Password(addc.User, dc.Realm, addc.UserPassword), directory.Signed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Bind, cfg.Security, cfg.Kerberos = directory.BindKerberos, tc.sec, client(t, tc.cred)
			cfg.User, cfg.Password = "", ""
			tap := &tapConn{}
			cfg.Dial = tap.dial
			c, err := directory.Dial(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Domain() != ntlmConn.Domain() {
				t.Errorf("domain %+v, NTLM bind says %+v", c.Domain(), ntlmConn.Domain())
			}
			got, err := c.Computers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if pages := c.Pages(); pages < int64(got.Seen/2) {
				t.Errorf("%d pages for %d computers at page size 2", pages, got.Seen)
			}
			if g, w := computerList(got), computerList(want); !slices.Equal(g, w) {
				t.Errorf("Kerberos bind found\n%s\nNTLM bind\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
			}
			// The resolver's lookups travel on the same layer.
			sid, err := c.AccountSID(ctx, addc.User)
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := dc.UserSID(ctx, addc.User); !strings.EqualFold(sid, s) {
				t.Errorf("SID of %s: %s, samba-tool says %s", addc.User, sid, s)
			}
			// What crossed the wire: the names searched for and found are
			// in clear only when the layer signs without sealing.
			wire := tap.bytes()
			for _, name := range []string{"NSKRB1", addc.User, "dNSHostName"} {
				if clear := bytes.Contains(wire, []byte(name)); clear != (tc.sec == directory.Signed) {
					t.Errorf("%s on the wire in clear: %v (security %s)", name, clear, tc.sec)
				}
			}
		})
	}

	refused := func(t *testing.T, cfg directory.Config, want ...error) {
		t.Helper()
		c, err := directory.Dial(ctx, cfg)
		if err == nil {
			c.Close()
			t.Fatal("bind accepted")
		}
		for _, w := range append([]error{directory.ErrBind}, want...) {
			if !errors.Is(err, w) {
				t.Errorf("Dial: %v, want %v", err, w)
			}
		}
		t.Log(err)
	}
	kcfg := func(t *testing.T, cred krb5.Credential) directory.Config {
		cfg := base
		cfg.Bind, cfg.Kerberos = directory.BindKerberos, client(t, cred)
		return cfg
	}
	pw := krb5.Password(addc.User, dc.Realm, addc.UserPassword)
	t.Run("unknown-spn", func(t *testing.T) {
		cfg := kcfg(t, pw)
		cfg.SPN = "ldap/nowhere." + dc.DNSDomain
		refused(t, cfg, krb5.ErrUnknownService)
	})
	t.Run("ticket-for-another-service", func(t *testing.T) {
		// A ticket for the member server's cifs service: the DC cannot
		// decrypt it.
		cfg := kcfg(t, pw)
		cfg.SPN = krb5.DefaultSPN(dc.ServerHost)
		refused(t, cfg)
	})
	t.Run("samba-refuses-gssapi-inside-tls", func(t *testing.T) {
		cfg := kcfg(t, pw)
		cfg.Security, cfg.CAFile = directory.StartTLS, dc.CAFile()
		refused(t, cfg)
	})
	t.Run("expired-ticket", func(t *testing.T) {
		short := filepath.Join(dir, "short")
		cmd := exec.CommandContext(ctx, "kinit", "-l", "5s", addc.User+"@"+dc.Realm)
		cmd.Env = dc.Env(short)
		cmd.Stdin = strings.NewReader(addc.UserPassword + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kinit: %v: %s", err, out)
		}
		time.Sleep(6 * time.Second)
		cfg := base
		cfg.Bind, cfg.Kerberos = directory.BindKerberos, cacheTickets{path: short, conf: dc.Krb5Conf}
		refused(t, cfg, krb5.ErrTicketTime)
	})
	t.Run("unreadable-cache", func(t *testing.T) {
		bad := filepath.Join(dir, "garbage")
		if err := os.WriteFile(bad, []byte("not a credential cache"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := base
		cfg.Bind, cfg.Kerberos = directory.BindKerberos, cacheTickets{path: bad, conf: dc.Krb5Conf}
		refused(t, cfg, krb5.ErrCredential)
	})
	t.Run("config", func(t *testing.T) {
		cfg := base
		cfg.Bind = directory.BindKerberos
		if _, err := directory.Dial(ctx, cfg); !errors.Is(err, directory.ErrConfig) {
			t.Errorf("no Kerberos client: %v", err)
		}
		cfg = base
		cfg.Security = directory.Signed
		if _, err := directory.Dial(ctx, cfg); !errors.Is(err, directory.ErrConfig) {
			t.Errorf("signed NTLM: %v", err)
		}
	})
}
