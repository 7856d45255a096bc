package ntlm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/netsession/netsession/auth"
)

func TestStateErrors(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	cli := &Client{User: "alice", Password: "AlicePass1"}
	a, i := srv.NewContext("x"), cli.NewContext()
	for _, c := range []interface {
		auth.Protector
		SessionKey() []byte
		Done() bool
	}{a, i} {
		if c.Done() || c.SessionKey() != nil || c.SignatureSize() != 16 {
			t.Fatalf("%T before any step", c)
		}
		if _, err := c.Sign([]byte("m")); !errors.Is(err, ErrState) {
			t.Fatalf("%T Sign before completion: %v", c, err)
		}
		if err := c.Verify([]byte("m"), make([]byte, 16)); !errors.Is(err, ErrState) {
			t.Fatalf("%T Verify before completion: %v", c, err)
		}
		if _, err := c.SealWithin([]byte("m"), 0, 1); !errors.Is(err, ErrState) {
			t.Fatalf("%T SealWithin before completion: %v", c, err)
		}
		if err := c.UnsealWithin([]byte("m"), 0, 1, make([]byte, 16)); !errors.Is(err, ErrState) {
			t.Fatalf("%T UnsealWithin before completion: %v", c, err)
		}
	}
	if _, ok := a.Logon(); ok || a.Caller().User != "" {
		t.Fatal("logon before completion")
	}
	if _, ok := a.Result(); ok || a.CanMIC() || i.CanMIC() {
		t.Fatal("result before completion")
	}
	// An initiator given a token first, or stepped after completion.
	if _, _, err := cli.NewContext().Step(context.Background(), []byte("x")); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if err := exchange(t, i, a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := i.Step(context.Background(), nil); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if _, _, err := a.Step(context.Background(), []byte{0xa1, 0}); !errors.Is(err, ErrChallengeReused) {
		t.Fatal(err)
	}
	if l, ok := a.Logon(); !ok || l.Identity.User != "alice" || len(l.SessionKey) != 16 || a.Security() == nil {
		t.Fatalf("logon %+v", l)
	}
	r, ok := a.Result()
	if !ok || r.Mechanism != auth.MechNTLM || r.Identity.User != "alice" || len(r.SessionKey) != 16 || !a.CanMIC() || !i.CanMIC() {
		t.Fatalf("result %+v", r)
	}
	// Range checks of sealing.
	if _, err := a.SealWithin(make([]byte, 4), 3, 9); err == nil {
		t.Fatal("seal range outside the message accepted")
	}
}

func TestErrorMessages(t *testing.T) {
	le := &LogonError{User: "alice", Domain: "WG", Workstation: "PC", Reason: ErrMICMismatch}
	for _, w := range []string{"alice", "WG", "PC", "MIC"} {
		if !strings.Contains(le.Error(), w) {
			t.Errorf("%q lacks %q", le, w)
		}
	}
	_, err := ParseAVPairs([]byte{1})
	if err == nil || !strings.Contains(err.Error(), "AV_PAIR") {
		t.Errorf("decode error %v", err)
	}
}

func TestNTLMv2BlobVersion(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	sc, auth := challenged(t, srv, &Client{User: "alice", Password: "AlicePass1"})
	auth[ntResponseAt(auth)+16] = 2 // RespType
	if _, _, err := sc.Step(context.Background(), auth); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
}
