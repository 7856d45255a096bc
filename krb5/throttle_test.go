package krb5

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/ntlm"
)

// TestKerberosThrottle: refused AP-REQs go through the logon throttle
// (the one NTLM uses): a forged ticket or one for another service counts
// against its source, a replay against its source and its client; each
// failing answer is held back; a source that has spent its budget gets
// no first logon of a new account verified there (the throttle's rule
// against spraying) while an account already good from it goes on; an
// account that has spent its own budget is locked out; and a correct
// logon is never refused because of other accounts' failures.
func TestKerberosThrottle(t *testing.T) {
	ctx := context.Background()
	const delay = 20 * time.Millisecond
	th := &ntlm.Throttle{FailureDelay: delay, SourceBurst: 5, AccountBurst: 3, SourceAccountBurst: 3}
	_, svc := issue(t, ticketSpec{})
	acc := &Acceptor{Keys: keysFor(t, svc, fakeSPN), Services: []string{fakeSPN}, AllowMissingPAC: true}
	const a, b = "10.0.0.1", "10.0.0.2"
	token := func(user, spn string) []byte {
		tkt, _ := issue(t, ticketSpec{cname: user, sname: spn, noPAC: true})
		return mustInit(t, tkt)
	}
	logon := func(source string, tok []byte) (time.Duration, error) {
		t.Helper()
		ac, err := acc.AuthAcceptorsWith(th)[1].Accept(ctx, auth.Peer{Source: source})
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := ac.Step(ctx, tok)
		if (err == nil) != done {
			t.Fatalf("done %v with %v", done, err)
		}
		var d interface{ AnswerDelay() time.Duration }
		if errors.As(err, &d) {
			return d.AnswerDelay(), err
		}
		return 0, err
	}
	mustFail := func(what, source string, tok []byte, want error) {
		t.Helper()
		d, err := logon(source, tok)
		if !errors.Is(err, want) || !errors.Is(err, auth.ErrLogonFailure) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
		if d != delay {
			t.Errorf("%s: answer held back %v, want %v", what, d, delay)
		}
	}
	mustPass := func(what, source string, tok []byte) {
		t.Helper()
		if _, err := logon(source, tok); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	mustPass("alice from A", a, token("alice", fakeSPN))
	// Five failures from A: forged tickets and tickets for another service.
	for range 3 {
		forged := token("alice", fakeSPN)
		// The ticket's cipher text sits in the AP-REQ: flip a byte of it.
		i := bytes.Index(forged, ticketCipher(t, forged))
		forged[i+10] ^= 1
		mustFail("forged ticket", a, forged, ErrIntegrity)
	}
	for range 2 {
		mustFail("ticket for another service", a, token("alice", "cifs/other.ad0.netsess.test"), ErrWrongService)
	}
	// A's budget is spent: alice, already good from A, goes on; bob's
	// first logon from A is not verified (so his ticket is not used up).
	mustPass("alice again from A", a, token("alice", fakeSPN))
	bobTok := token("bob", fakeSPN)
	if d, err := logon(a, bobTok); !errors.Is(err, ntlm.ErrThrottled) || !errors.Is(err, auth.ErrLogonFailure) || d != 0 {
		t.Fatalf("bob's first logon from a spraying source: %v (held %v)", err, d)
	}
	// From B, bob's very ticket was never verified: accepted.
	mustPass("bob from B", b, bobTok)
	// Replays of it count against bob: three lock his account.
	for range 3 {
		mustFail("replay", b, bobTok, ErrReplay)
	}
	if _, err := logon(b, token("bob", fakeSPN)); !errors.Is(err, auth.ErrAccountLockedOut) {
		t.Fatalf("bob after his budget: %v, want locked out", err)
	}
	// Nobody else suffers: carol's first logon from B (three failures,
	// none hers), alice's from B.
	mustPass("carol from B", b, token("carol", fakeSPN))
	mustPass("alice from B", b, token("alice", fakeSPN))
	// Without a throttle nothing is held back.
	ac, _ := acc.AuthAcceptors()[1].Accept(ctx, auth.Peer{Source: a})
	_, _, err := ac.Step(ctx, bobTok)
	var d interface{ AnswerDelay() time.Duration }
	if !errors.Is(err, ErrReplay) || !errors.As(err, &d) || d.AnswerDelay() != 0 {
		t.Errorf("unthrottled replay: %v", err)
	}
}

// ticketCipher returns the cipher text of the ticket in an AP-REQ token.
func ticketCipher(t *testing.T, tok []byte) []byte {
	t.Helper()
	_, msg, err := UnwrapToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		t.Fatal(err)
	}
	return req.Ticket.EncPart.Cipher
}

// TestDCEKerberosThrottle: the DCE-style acceptors (ncacn_ip_tcp) share
// the throttle: a ticket for another service is held back and counted
// against its source, and once the source has spent its budget a new
// account's first logon from it is not verified, while the same logon
// from another source is accepted.
func TestDCEKerberosThrottle(t *testing.T) {
	ctx := context.Background()
	const delay = 20 * time.Millisecond
	const spn = "host/srv.ad0.netsess.test"
	th := &ntlm.Throttle{FailureDelay: delay, SourceBurst: 2, AccountBurst: 3, SourceAccountBurst: 3}
	_, svc := issue(t, ticketSpec{sname: spn})
	acc := &Acceptor{Keys: keysFor(t, svc, spn), Services: []string{spn}, AllowMissingPAC: true}
	apReq := func(user, sname string) []byte {
		tkt, _ := issue(t, ticketSpec{cname: user, sname: sname, noPAC: true})
		ic, err := (&Mechanism{Tickets: &fixedTickets{t: tkt}, SPN: sname}).DCEForHost("srv.ad0.netsess.test", true).Initiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req, _, err := ic.Step(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	first := func(source string, req []byte) (time.Duration, error) {
		t.Helper()
		ac, err := acc.DCEAcceptorsWith(th)[0].Accept(ctx, auth.Peer{Source: source})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ac.Step(ctx, req)
		var d interface{ AnswerDelay() time.Duration }
		if errors.As(err, &d) {
			return d.AnswerDelay(), err
		}
		return 0, err
	}
	const a, b = "10.0.0.1", "10.0.0.2"
	for range 2 {
		d, err := first(a, apReq("alice", "host/other.ad0.netsess.test"))
		if !errors.Is(err, ErrWrongService) || !errors.Is(err, auth.ErrLogonFailure) || d != delay {
			t.Fatalf("ticket for another service: %v (held %v, want %v)", err, d, delay)
		}
	}
	bob := apReq("bob", spn)
	if d, err := first(a, bob); !errors.Is(err, ntlm.ErrThrottled) || d != 0 {
		t.Fatalf("bob's first logon from a spraying source: %v (held %v)", err, d)
	}
	if _, err := first(b, bob); err != nil {
		t.Fatalf("bob from another source: %v", err)
	}
}
