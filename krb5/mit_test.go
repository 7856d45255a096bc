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

// TestDCMITInterop runs contexts between our code and MIT Kerberos's
// GSS-API both ways, with tickets from the test domain: MIT initiates
// (credential cache from kinit) and our acceptor answers, MIT checking
// our AP-REP; our initiator starts and MIT's acceptor (with the exported
// keytab) answers, our initiator checking MIT's AP-REP. Both sides end
// with the same session key.
func TestDCMITInterop(t *testing.T) {
	dc := addc.Shared(t)
	ctx := dcContext(t)
	cc := filepath.Join(t.TempDir(), "ccache")
	if err := dc.Kinit(ctx, addc.AdminUser, addc.AdminPassword, cc); err != nil {
		t.Fatal(err)
	}
	env := append(dc.Env(cc), "KRB5_KTNAME=FILE:"+dc.Keytab, "KRB5RCACHETYPE=none")
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
		mitWrapExchange(t, p, ini)
	})
}

// mitWrapExchange checks our Wrap tokens against MIT's gss_unwrap and
// MIT's gss_wrap tokens against our Unwrap, sealed and signed, on the
// established context: every message comes back whole and with the
// protection asked for; a tampered token and a replay are refused.
func mitWrapExchange(t *testing.T, p *mitPeer, ini *Initiator) {
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
}
