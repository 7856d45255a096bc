package ntlm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/internal/childpipe"
	"github.com/netsession/netsession/internal/sambapeer"
)

// TestGoSMB2Initiator runs cloudsoda/go-smb2's exported NTLM initiator
// against our acceptor, with a password and with an NT hash, and checks its
// signature (NTLMInitiator.Sum, sequence number 0) with our Verify.
func TestGoSMB2Initiator(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	hash := NTHash("BobPass1")
	for _, in := range []*smb2.NTLMInitiator{
		{User: "alice", Password: "AlicePass1", Domain: "WORKGROUP", Workstation: "GOSMB2"},
		{User: "bob", Hash: hash[:]},
		{}, // anonymous
	} {
		t.Run("user="+in.User, func(t *testing.T) {
			ctx := context.Background()
			sc := srv.NewContext("127.0.0.1")
			neg, err := in.InitSecContext()
			if err != nil {
				t.Fatal(err)
			}
			chal, _, err := sc.Step(ctx, neg)
			if err != nil {
				t.Fatal(err)
			}
			auth, err := in.AcceptSecContext(chal)
			if err != nil {
				t.Fatal(err)
			}
			if _, done, err := sc.Step(ctx, auth); err != nil || !done {
				t.Fatalf("done=%v err=%v", done, err)
			}
			if in.User == "" {
				if !sc.Caller().IsAnonymous() || !bytes.Equal(sc.SessionKey(), in.SessionKey()) {
					t.Fatalf("anonymous: caller %+v, keys %x / %x", sc.Caller(), sc.SessionKey(), in.SessionKey())
				}
				return
			}
			if !sc.hadMIC {
				t.Error("go-smb2 announces a MIC; the acceptor did not check one")
			}
			if got := sc.Caller().User; got != in.User {
				t.Errorf("caller %q", got)
			}
			if !bytes.Equal(sc.SessionKey(), in.SessionKey()) {
				t.Fatalf("session key %x, go-smb2 has %x", sc.SessionKey(), in.SessionKey())
			}
			msg := []byte("signed by go-smb2")
			if err := sc.Verify(msg, in.Sum(msg)); err != nil {
				t.Fatalf("go-smb2 signature: %v", err)
			}
			// Tampering with its AUTHENTICATE (the MIC covers the flags)
			// makes a fresh exchange fail.
			sc2 := srv.NewContext("127.0.0.1")
			neg2, _ := in.InitSecContext()
			chal2, _, err := sc2.Step(ctx, neg2)
			if err != nil {
				t.Fatal(err)
			}
			auth2, err := in.AcceptSecContext(chal2)
			if err != nil {
				t.Fatal(err)
			}
			auth2[60] ^= byte(FlagSign)
			if _, _, err := sc2.Step(ctx, auth2); !errors.Is(err, ErrMICMismatch) {
				t.Fatalf("flags changed under the MIC: %v", err)
			}
		})
	}
}

// impacketPeer runs a script of testdata under /usr/bin/python3. Without python3 or
// impacket the test is skipped, except under CI=true where that is a
// failure.
func impacketPeer(t *testing.T, script string, args ...string) (send func([]byte), recv func() []byte) {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		sambapeer.Unavailable(t, "impacket peer", err)
	}
	if out, err := exec.Command(py, "-c", "import impacket.ntlm, Cryptodome.Cipher.ARC4").CombinedOutput(); err != nil {
		sambapeer.Unavailable(t, "impacket peer", fmt.Errorf("%w: %s", err, out))
	}
	cmd := exec.Command(py, append([]string{"testdata/" + script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, stdout := childpipe.Start(t, cmd)
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("impacket driver: %v\n%s", err, stderr.String())
		}
	})
	r := bufio.NewReader(stdout)
	send = func(b []byte) {
		if _, err := io.WriteString(stdin, hex.EncodeToString(b)+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	recv = func() []byte {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("impacket driver: %v\n%s", err, stderr.String())
		}
		return unhex(t, strings.TrimSpace(line))
	}
	return send, recv
}

func TestImpacketInitiator(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	bobHash := NTHash("BobPass1")
	tests := []struct {
		name, mode, user, pass, domain, hash string
		wantErr                              error
		wantUser                             string
	}{
		{"v2 password", "v2", "alice", "AlicePass1", "", "", nil, "alice"},
		{"v2 hash with domain", "v2", "bob", "", "NETSESS", hex.EncodeToString(bobHash[:]), nil, "bob"},
		{"v2 sign and seal", "v2sign", "alice", "AlicePass1", "WORKGROUP", "", nil, "alice"},
		{"v2 anonymous", "v2", "", "", "", "", nil, ""},
		{"v2 wrong password", "v2", "alice", "nope", "", "", ErrWrongPassword, ""},
		{"v1 refused", "v1", "alice", "AlicePass1", "", "", ErrNTLMv1, ""},
		{"v1 allowed by configuration", "v1", "alice", "AlicePass1", "", "", nil, "alice"},
		{"v1 allowed, wrong password", "v1", "alice", "bad", "", "", ErrWrongPassword, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send, recv := impacketPeer(t, "impacket_initiator.py", tt.mode, tt.user, tt.pass, tt.domain, tt.hash)
			ctx := context.Background()
			s := *srv
			s.AllowNTLMv1 = strings.HasPrefix(tt.name, "v1 allowed")
			sc := s.NewContext("127.0.0.1")
			chal, _, err := sc.Step(ctx, recv())
			if err != nil {
				t.Fatal(err)
			}
			send(chal)
			auth := recv()
			key := recv()
			_, done, err := sc.Step(ctx, auth)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrLogonFailure) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !done {
				t.Fatalf("done=%v err=%v", done, err)
			}
			if c := sc.Caller(); c.User != tt.wantUser || c.IsAnonymous() != (tt.user == "") {
				t.Fatalf("caller %+v", c)
			}
			if !bytes.Equal(sc.SessionKey(), key) {
				t.Fatalf("session key %x, impacket has %x", sc.SessionKey(), key)
			}
			if tt.mode != "v2sign" {
				return
			}
			if err := sc.Verify([]byte("impacket signed message"), recv()); err != nil {
				t.Fatalf("impacket signature: %v", err)
			}
			sealed, sig := recv(), recv()
			if err := sc.UnsealWithin(sealed, 0, len(sealed), sig); err != nil {
				t.Fatalf("impacket sealed message: %v", err)
			}
			if string(sealed) != "impacket sealed message" {
				t.Fatalf("unsealed %q", sealed)
			}
		})
	}
}

// TestInitiatorCheckedByImpacket has impacket's primitives verify what our
// initiator produces: NTProofStr, key exchange, MIC, a signature and a
// sealed message; and our initiator verify a signature impacket makes with
// the server-to-client keys.
func TestInitiatorCheckedByImpacket(t *testing.T) {
	for _, cli := range []*Client{
		{User: "alice", Password: "AlicePass1", Domain: "NETSESS", Workstation: "GOCLIENT"},
		{User: "Bob", Password: "BobPass1", Flags: FlagUnicode | FlagNTLM | FlagSign | FlagSeal | FlagExtendedSessionSecurity | Flag128},
	} {
		t.Run(cli.User, func(t *testing.T) {
			send, recv := impacketPeer(t, "impacket_verifier.py", cli.Password)
			srv := &Server{Accounts: testAccounts(t)}
			cc, sc := cli.NewContext(), srv.NewContext("127.0.0.1")
			neg, chal, auth := handshakeTokens(t, cc, sc)
			send(neg)
			send(chal)
			send(auth)
			if key := recv(); !bytes.Equal(key, cc.SessionKey()) {
				t.Fatalf("impacket derives session key %x, we have %x", key, cc.SessionKey())
			}
			msg := []byte("signed by our initiator")
			sig, err := cc.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			send(msg)
			send(sig)
			sealed := []byte("sealed by our initiator")
			sig, err = cc.SealWithin(sealed, 0, len(sealed))
			if err != nil {
				t.Fatal(err)
			}
			send(sealed)
			send(sig)
			if plain := recv(); string(plain) != "sealed by our initiator" {
				t.Fatalf("impacket unsealed %q", plain)
			}
			if err := cc.Verify([]byte("impacket server message"), recv()); err != nil {
				t.Fatalf("impacket's server signature: %v", err)
			}
		})
	}
}
