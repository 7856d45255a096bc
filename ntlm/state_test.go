package ntlm

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestStateErrors(t *testing.T) {
	srv := &Server{Accounts: testAccounts(t)}
	cli := &Client{User: "alice", Password: "AlicePass1"}
	for _, typ := range []uint8{AuthTypeNTLMSSP, AuthTypeSPNEGO} {
		a, err := srv.NewAcceptor(typ, "x")
		if err != nil {
			t.Fatal(err)
		}
		i, err := cli.NewInitiator(typ)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []SecurityContext{a, i} {
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
	}
	if _, err := srv.NewAcceptor(68, "x"); !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	if _, err := cli.NewInitiator(16); !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	// An initiator given a token first, or stepped after completion.
	if _, _, err := cli.NewContext().Step(context.Background(), []byte("x")); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	cc, sc := runSPNEGO(t, cli, srv)
	if _, _, err := cc.Step(context.Background(), nil); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if _, _, err := sc.Step(context.Background(), []byte{0xa1, 0}); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if l, ok := sc.Logon(); !ok || l.Caller.User != "alice" || len(l.SessionKey) != 16 || sc.NTLM().Security() == nil {
		t.Fatalf("logon %+v", l)
	}
	// Range checks of sealing.
	if _, err := sc.SealWithin(make([]byte, 4), 3, 9); err == nil {
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
