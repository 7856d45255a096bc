package krb5

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
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/internal/childpipe"
	"github.com/netsession/netsession/internal/sambapeer"
)

const python = "/usr/bin/python3"

// mitPeer runs testdata/mitgss.py (MIT's libgssapi_krb5 through ctypes).
type mitPeer struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

func startMIT(t *testing.T, ctx context.Context, env []string, args ...string) *mitPeer {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		sambapeer.Unavailable(t, "python3", err)
	}
	p := &mitPeer{cmd: exec.CommandContext(ctx, python, append([]string{filepath.Join("testdata", "mitgss.py")}, args...)...)}
	p.cmd.Env = env
	p.cmd.Stderr = &p.stderr
	in, out := childpipe.Start(t, p.cmd)
	p.in, p.out = in, bufio.NewReader(out)
	t.Cleanup(func() {
		p.in.Close()
		p.cmd.Wait()
	})
	return p
}

func (p *mitPeer) readLine(t *testing.T) string {
	t.Helper()
	line, err := p.out.ReadString('\n')
	if err != nil {
		p.in.Close()
		p.cmd.Wait()
		t.Fatalf("MIT peer: %v: %s", err, p.stderr.String())
	}
	return strings.TrimSpace(line)
}

func (p *mitPeer) readToken(t *testing.T) []byte {
	t.Helper()
	line := p.readLine(t)
	if line == "-" {
		return nil
	}
	b, err := hex.DecodeString(line)
	if err != nil {
		t.Fatalf("MIT peer token %q: %v", line, err)
	}
	return b
}

func (p *mitPeer) send(t *testing.T, tok []byte) {
	t.Helper()
	if _, err := fmt.Fprintf(p.in, "%x\n", tok); err != nil {
		t.Fatal(err)
	}
}

// mitSetup returns the shared DC, a test context, a kinit credential
// cache of the Domain Admin, and the environment for the MIT peer (that
// cache, the member server's keytab, no replay cache).
func mitSetup(t *testing.T) (*addc.DC, context.Context, string, []string) {
	t.Helper()
	dc := addc.Shared(t)
	ctx := dcContext(t)
	cc := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, cc); err != nil {
		t.Fatal(err)
	}
	return dc, ctx, cc, append(dc.Env(cc), "KRB5_KTNAME=FILE:"+dc.Keytab, "KRB5RCACHETYPE=none")
}

// TestDCMITInterop runs contexts between our code and MIT Kerberos's
// GSS-API both ways, with tickets from the test domain: MIT initiates
// (credential cache from kinit) and our acceptor answers, MIT checking
// our AP-REP; our initiator starts and MIT's acceptor (with the exported
// keytab) answers, our initiator checking MIT's AP-REP. Both sides end
// with the same session key.
func TestDCMITInterop(t *testing.T) {
	dc, ctx, cc, env := mitSetup(t)
	sid, err := dc.UserSID(ctx, addc.AdminUser)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("MIT initiator, our acceptor", func(t *testing.T) {
		acc := dcAcceptor(t, dc)
		acc.Services = []string{DefaultSPN(dc.ServerHost)}
		p := startMIT(t, ctx, env, "init", "cifs@"+dc.ServerHost)
		tok := p.readToken(t)
		reply, id, key, err := acc.Accept(ctx, tok)
		if err != nil {
			t.Fatalf("our acceptor refused MIT's AP-REQ: %v", err)
		}
		if id.UserSID != sid || !strings.EqualFold(id.User, addc.AdminUser) {
			t.Errorf("identity %s %s, want %s %s", id.User, id.UserSID, addc.AdminUser, sid)
		}
		p.send(t, reply)
		f := strings.Fields(p.readLine(t))
		if len(f) != 3 || f[0] != "ok" {
			t.Fatalf("MIT on our AP-REP: %v %s", f, p.stderr.String())
		}
		if f[1] != hex.EncodeToString(key) {
			t.Errorf("session keys differ: MIT %s, ours %x", f[1], key)
		}
		if _, _, _, err := acc.Accept(ctx, tok); err == nil {
			t.Error("MIT's AP-REQ accepted twice")
		}
	})

	t.Run("our initiator, MIT acceptor", func(t *testing.T) {
		cl := dcClient(t, ctx, dc, CCache(cc))
		ini, tok := apReq(t, ctx, cl, DefaultSPN(dc.ServerHost))
		p := startMIT(t, ctx, env, "accept")
		p.send(t, tok)
		reply := p.readToken(t)
		f := strings.Fields(p.readLine(t))
		if len(f) != 3 || f[0] != "ok" {
			t.Fatalf("MIT acceptor: %v %s", f, p.stderr.String())
		}
		if !strings.EqualFold(f[2], addc.AdminUser+"@"+dc.Realm) {
			t.Errorf("MIT sees client %s", f[2])
		}
		if err := ini.Accept(ctx, reply); err != nil {
			t.Fatalf("our initiator refused MIT's AP-REP: %v", err)
		}
		if hex.EncodeToString(ini.SessionKey()) != f[1] {
			t.Errorf("session keys differ: MIT %s, ours %x", f[1], ini.SessionKey())
		}
		w := mitWrapExchange(t, p, ini)
		// MIC tokens go on from the Wrap tokens' sequence numbers (one
		// numbering for both, as in MIT).
		checkMICWithMIT(t, p, w.MIC, w.VerifyMIC)
	})
}

// mic asks the MIT peer for its MIC token over msg.
func (p *mitPeer) mic(t *testing.T, msg []byte) []byte {
	t.Helper()
	if _, err := fmt.Fprintf(p.in, "mic %x\n", msg); err != nil {
		t.Fatal(err)
	}
	return p.readToken(t)
}

// verify has the MIT peer check tok over msg; "" means it verified,
// otherwise MIT's reason.
func (p *mitPeer) verify(t *testing.T, msg, tok []byte) string {
	t.Helper()
	if _, err := fmt.Fprintf(p.in, "verify %x %x\n", msg, tok); err != nil {
		t.Fatal(err)
	}
	line := p.readLine(t)
	if line == "ok" {
		return ""
	}
	return line
}

// checkMICWithMIT exchanges MIC tokens (as SPNEGO's mechListMIC uses
// them) between our context and MIT's, both ways and twice (the sequence
// numbers count up), and checks that MIT refuses a replayed or altered
// token of ours and that we refuse an altered one of MIT's.
func checkMICWithMIT(t *testing.T, p *mitPeer, getMIC func([]byte) ([]byte, error), verifyMIC func(msg, tok []byte) error) {
	t.Helper()
	msg := []byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	var first []byte
	for i := range 2 {
		ours, err := getMIC(msg)
		if err != nil {
			t.Fatal(err)
		}
		if why := p.verify(t, msg, ours); why != "" {
			t.Fatalf("MIT refused our MIC %d (% x): %s", i, ours, why)
		}
		if i == 0 {
			first = ours
		}
		theirs := p.mic(t, msg)
		if err := verifyMIC(msg, theirs); err != nil {
			t.Fatalf("we refused MIT's MIC %d (% x): %v", i, theirs, err)
		}
	}
	if why := p.verify(t, msg, first); why == "" {
		t.Error("MIT accepted our first MIC again")
	}
	ours, _ := getMIC(msg)
	ours[len(ours)-1] ^= 1
	if why := p.verify(t, msg, ours); why == "" {
		t.Error("MIT accepted an altered MIC")
	}
	theirs := p.mic(t, msg)
	theirs[len(theirs)-1] ^= 1
	if err := verifyMIC(msg, theirs); !errors.Is(err, ErrMIC) {
		t.Errorf("we accepted MIT's altered MIC: %v", err)
	}
}

// TestDCMITMIC: RFC 4121 MIC tokens between our acceptor context (the
// auth mechanism, as SPNEGO drives it) and MIT's GSS-API initiator, with
// a ticket from the test domain (AES keys). MIT checks the sequence
// numbers (replay and sequence flags asked for), the acceptor-subkey flag
// and the key usages. (Our initiator with MIT's acceptor: the end of
// TestDCMITInterop, after the Wrap tokens.)
func TestDCMITMIC(t *testing.T) {
	dc, ctx, _, env := mitSetup(t)

	t.Run("MIT initiator, our acceptor", func(t *testing.T) {
		acc := dcAcceptor(t, dc)
		p := startMIT(t, ctx, env, "init", "cifs@"+dc.ServerHost)
		ac, err := acc.AuthAcceptors()[1].Accept(ctx, auth.Peer{Source: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		reply, done, err := ac.Step(ctx, p.readToken(t))
		if err != nil || !done {
			t.Fatalf("our acceptor: %v", err)
		}
		p.send(t, reply)
		if f := strings.Fields(p.readLine(t)); len(f) != 3 || f[0] != "ok" {
			t.Fatalf("MIT on our AP-REP: %v %s", f, p.stderr.String())
		}
		mc := ac.(auth.MICContext)
		if !mc.CanMIC() {
			t.Fatal("no MIC with the DC's ticket")
		}
		checkMICWithMIT(t, p, mc.GetMIC, mc.VerifyMIC)
	})
}

// mitWrapExchange checks our Wrap tokens against MIT's gss_unwrap and
// MIT's gss_wrap tokens against our Unwrap, sealed and signed, on the
// established context: every message comes back whole and with the
// protection asked for; a tampered token and a replay are refused.
func mitWrapExchange(t *testing.T, p *mitPeer, ini *Initiator) *Wrapper {
	t.Helper()
	w, err := ini.Wrapper()
	if err != nil {
		t.Fatal(err)
	}
	ask := func(format string, args ...any) []string {
		t.Helper()
		fmt.Fprintf(p.in, format+"\n", args...)
		f := strings.Fields(p.readLine(t))
		if len(f) != 2 || f[0] == "error" {
			t.Fatalf("MIT: %v", f)
		}
		return f
	}
	msgs := [][]byte{[]byte("0\x0c\x02\x01\x02c\x07\x04\x00\n\x01\x00"), bytes.Repeat([]byte("seal me "), 300), {0x04, 0xff, 0xff, 0xff}}
	for _, seal := range []bool{true, false} {
		conf := map[bool]string{true: "1", false: "0"}[seal]
		for _, msg := range msgs {
			tok, err := w.Wrap(msg, seal)
			if err != nil {
				t.Fatal(err)
			}
			if f := ask("unwrap %x", tok); f[0] != conf || f[1] != hex.EncodeToString(msg) {
				t.Errorf("MIT unwrapped our token (seal %v) as %v", seal, f)
			}
			f := ask("wrap %s %x", conf, msg)
			mitTok, _ := hex.DecodeString(f[1])
			got, sealed, err := w.Unwrap(mitTok)
			if err != nil || sealed != seal || !bytes.Equal(got, msg) {
				t.Errorf("our Unwrap of MIT's token (seal %v): %x sealed %v, %v", seal, got, sealed, err)
			}
			if _, _, err := w.Unwrap(mitTok); !errors.Is(err, ErrSequence) {
				t.Errorf("MIT's token unwrapped twice: %v", err)
			}
		}
	}
	tok, err := w.Wrap(msgs[0], true)
	if err != nil {
		t.Fatal(err)
	}
	tok[len(tok)-20] ^= 1
	fmt.Fprintf(p.in, "unwrap %x\n", tok)
	if f := strings.Fields(p.readLine(t)); len(f) == 0 || f[0] != "error" {
		t.Errorf("MIT took a tampered token: %v", f)
	}
	return w
}
