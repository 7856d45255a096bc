package pipeclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/internal/toymech"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/spnego"
	"github.com/netsession/netsession/srvs"
)

const toyDomain = "S-1-5-21-3623811015-3361044348-30300820"

func toyAccounts() map[string]toymech.Account {
	return map[string]toymech.Account{
		"dadmin": {Secret: "s3cret", SID: toyDomain + "-1105", GroupSIDs: []string{toyDomain + "-513", toyDomain + "-512"}},
		"duser":  {Secret: "pa55", SID: toyDomain + "-1106", GroupSIDs: []string{toyDomain + "-513"}},
		"alice":  {Secret: "toyalice", SID: toyDomain + "-1107"},
	}
}

// TestToyMechanism plugs a mechanism that smb2, pipeclient and dcerpc do
// not know into SPNEGO beside NTLM, on the SMB2 server and on the client,
// with no change to their code: the logon signs and encrypts with
// AES-256-GCM (derived from the mechanism's full 32-byte key), the
// identity's SIDs reach the pipe handler's Caller and the session table's
// access policy (Domain Admins by SID may enumerate at level 502, a plain
// domain user may not), NTLM still works through the same acceptor, and
// the throttling hook is shared by both mechanisms.
func TestToyMechanism(t *testing.T) {
	var mu sync.Mutex
	var seen []session.Caller
	whoami := func(ctx context.Context, conn net.Conn, c session.Caller) error {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		buf := make([]byte, 16)
		if _, err := conn.Read(buf); err != nil {
			return nil
		}
		_, _ = fmt.Fprintf(conn, "%s %s %s", c.User, c.SID, strings.Join(c.GroupSIDs, ","))
		return nil
	}
	th := &ntlm.Throttle{FailureDelay: -1, AccountBurst: 1}
	accounts, err := ntlm.NewAccounts("NETSESS", false, ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1")})
	if err != nil {
		t.Fatal(err)
	}
	acceptor, err := spnego.NewAcceptor(&ntlm.Server{Accounts: accounts, Throttle: th}, &toymech.Acceptor{Accounts: toyAccounts(), Throttle: th})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(s *smb2.Server) {
		s.Auth = acceptor
		s.Encryption = smb2.EncryptionRequired
		s.Pipes["whoami"] = smb2.PipeHandler(whoami)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	enum := func(t *testing.T, ini auth.Initiator) (*pipeclient.Conn, *srvs.EnumResult, error) {
		t.Helper()
		c, err := f.dial(t, pipeclient.Options{Auth: ini, Ciphers: []uint16{pipeclient.CipherAES256GCM}, RequireEncryption: true})
		if err != nil {
			t.Fatal(err)
		}
		if on, cipher := c.Encrypting(); !on || cipher != pipeclient.CipherAES256GCM || c.Guest() {
			t.Fatalf("encrypting %v cipher %#x, guest %v", on, cipher, c.Guest())
		}
		_, cl := bindSrvs(t, ctx, c)
		res, err := cl.EnumAll(ctx, 502, "", "", session.MaxPreferredLength)
		return c, res, err
	}

	t.Run("Domain Admins by SID", func(t *testing.T) {
		c, res, err := enum(t, spnego.MustInitiator(&toymech.Initiator{User: "dadmin", Secret: "s3cret"}))
		if err != nil {
			t.Fatalf("level 502 as a Domain Admin: %v", err)
		}
		// The session table lists the toy logon under its user name.
		var users []string
		for _, e := range res.Entries {
			users = append(users, e.UserName)
		}
		if !slices.Contains(users, "dadmin") {
			t.Fatalf("sessions listed: %q", users)
		}
		p, err := c.OpenPipe(ctx, "whoami")
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 512)
		n, _, err := p.Transceive(ctx, []byte("?"), out)
		if err != nil {
			t.Fatal(err)
		}
		want := "dadmin " + toyDomain + "-1105 " + toyDomain + "-513," + toyDomain + "-512"
		if got := string(out[:n]); got != want {
			t.Fatalf("the pipe handler saw %q, want %q", got, want)
		}
		mu.Lock()
		last := seen[len(seen)-1]
		mu.Unlock()
		if session.ClassOf(last) != session.ClassAdmin || len(last.Groups) != 0 {
			t.Fatalf("caller %+v is class %v", last, session.ClassOf(last))
		}
	})
	t.Run("Domain Users only", func(t *testing.T) {
		_, _, err := enum(t, spnego.MustInitiator(&toymech.Initiator{User: "duser", Secret: "pa55"}))
		if !errors.Is(err, session.StatusAccessDenied) {
			t.Fatalf("level 502 as a plain domain user: %v, want ERROR_ACCESS_DENIED", err)
		}
	})
	t.Run("NTLM through the same acceptor", func(t *testing.T) {
		// alice is no administrator: the call is refused by the policy,
		// after a successful NTLM logon with AES-256 encryption.
		if _, _, err := enum(t, &ntlm.Client{User: "alice", Password: "AlicePass1"}); !errors.Is(err, session.StatusAccessDenied) {
			t.Fatal(err)
		}
	})
	t.Run("one throttle for both mechanisms", func(t *testing.T) {
		// One wrong toy secret spends alice's budget (AccountBurst 1)...
		_, err := f.dial(t, pipeclient.Options{Auth: &toymech.Initiator{User: "alice", Secret: "wrong"}})
		var pe *pipeclient.Error
		if !errors.As(err, &pe) || pe.Status != ntstatus.LogonFailure {
			t.Fatalf("wrong toy secret: %v", err)
		}
		// ...so alice is locked out, for NTLM too, correct password or not.
		if _, err := f.dial(t, pipeclient.Options{Auth: &ntlm.Client{User: "alice", Password: "AlicePass1"}}); !errors.As(err, &pe) || pe.Status != ntstatus.AccountLockedOut {
			t.Fatalf("NTLM logon of a locked-out account: %v", err)
		}
	})
}
