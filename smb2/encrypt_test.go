package smb2_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gosmb2 "github.com/cloudsoda/go-smb2"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

func withEncryption(p smb2.EncryptionPolicy) option {
	return func(s *smb2.Server) { s.Encryption = p }
}

// sniffer is a TCP relay in front of a server that records the protocol
// id of every NBSS frame in each direction.
type sniffer struct {
	addr  string
	mu    sync.Mutex
	ids   [2][]string // [0] client to server, [1] server to client
	conns []net.Conn
}

func newSniffer(t *testing.T, target string) *sniffer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sn := &sniffer{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		sn.mu.Lock()
		for _, c := range sn.conns {
			c.Close()
		}
		sn.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				return
			}
			sn.mu.Lock()
			sn.conns = append(sn.conns, c, s)
			sn.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); sn.relay(0, s, c); s.Close(); c.Close() }()
			go func() { defer wg.Done(); sn.relay(1, c, s); s.Close(); c.Close() }()
		}
	}()
	return sn
}

func (sn *sniffer) relay(dir int, dst io.Writer, src io.Reader) {
	var h [4]byte
	for {
		if _, err := io.ReadFull(src, h[:]); err != nil {
			return
		}
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		b := make([]byte, n)
		if _, err := io.ReadFull(src, b); err != nil {
			return
		}
		if n >= 4 {
			sn.mu.Lock()
			sn.ids[dir] = append(sn.ids[dir], string(b[:4]))
			sn.mu.Unlock()
		}
		if _, err := dst.Write(append(h[:], b...)); err != nil {
			return
		}
	}
}

// frames returns how many frames went each way in clear (SMB2) and
// encrypted.
func (sn *sniffer) frames() (clear, enc [2]int) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for d := range sn.ids {
		for _, id := range sn.ids[d] {
			switch id {
			case "\xfeSMB":
				clear[d]++
			case "\xfdSMB":
				enc[d]++
			}
		}
	}
	return clear, enc
}

func dialVia(addr, user, pass string, dialect uint16) (*gosmb2.Session, error) {
	d := &gosmb2.Dialer{
		Negotiator: gosmb2.Negotiator{SpecifiedDialect: dialect},
		Initiator:  &gosmb2.NTLMInitiator{User: user, Password: pass},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Dial(ctx, addr)
}

// TestGoSMB2Encrypted: go-smb2 at every 3.x dialect against "required"
// enumerates sessions, and after the logon every frame both ways is an
// encrypted one (negotiate and the session setup legs stay in clear).
func TestGoSMB2Encrypted(t *testing.T) {
	for _, pol := range []smb2.EncryptionPolicy{smb2.EncryptionRequired, smb2.EncryptionDesired} {
		for _, d := range []uint16{smb2.Dialect300, smb2.Dialect302, smb2.Dialect311} {
			t.Run(pol.String()+"/"+dialectName(d), func(t *testing.T) {
				f := newFixture(t, withEncryption(pol))
				sn := newSniffer(t, f.addr)
				s, err := dialVia(sn.addr, "alice", "AlicePass1", d)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Logoff() })
				c := srvsvc(t, s)
				res, err := c.EnumAll(context.Background(), 1, "", "", session.MaxPreferredLength)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Entries) != 1 || res.Entries[0].UserName != "alice" {
					t.Fatalf("entries %+v", res.Entries)
				}
				clear, enc := sn.frames()
				// In clear: NEGOTIATE and the session setup legs. The
				// server may send more frames than it got: a READ that
				// waits for the RPC answer gets an interim response too.
				if clear[0] > 3 || clear[1] > 3 || enc[0] < 4 || enc[1] < enc[0] {
					t.Fatalf("clear %v encrypted %v", clear, enc)
				}
			})
		}
	}
}

func dialectName(d uint16) string { return fmt.Sprintf("%04x", d) }

// TestEncryptionPolicyClear: "off" never encrypts, and "desired" serves a
// client that cannot encrypt (2.1) in clear.
func TestEncryptionPolicyClear(t *testing.T) {
	for _, tc := range []struct {
		pol smb2.EncryptionPolicy
		d   uint16
	}{{smb2.EncryptionOff, smb2.Dialect311}, {smb2.EncryptionOff, smb2.Dialect300}, {smb2.EncryptionDesired, smb2.Dialect210}} {
		f := newFixture(t, withEncryption(tc.pol))
		sn := newSniffer(t, f.addr)
		s, err := dialVia(sn.addr, "alice", "AlicePass1", tc.d)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Logoff() })
		if _, err := srvsvc(t, s).EnumAll(context.Background(), 0, "", "", session.MaxPreferredLength); err != nil {
			t.Fatal(err)
		}
		if _, enc := sn.frames(); enc != [2]int{} {
			t.Errorf("%v at %#x: encrypted frames %v", tc.pol, tc.d, enc)
		}
	}
}

// TestEncryptionRequiredRefusesClearClients: under "required" a 2.x
// client cannot log on, and no session reaches the table.
func TestEncryptionRequiredRefusesClearClients(t *testing.T) {
	f := newFixture(t, withEncryption(smb2.EncryptionRequired))
	for _, d := range []uint16{smb2.Dialect202, smb2.Dialect210} {
		s, err := dialVia(f.addr, "alice", "AlicePass1", d)
		if err == nil {
			s.Logoff()
			t.Fatalf("dialect %#x: logon accepted", d)
		}
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("dialect %#x: %v, want STATUS_ACCESS_DENIED (permission denied)", d, err)
		}
	}
	if n := f.table.Len(); n != 0 {
		t.Fatalf("%d sessions in the table", n)
	}
}

func TestParseEncryptionPolicy(t *testing.T) {
	for _, p := range []smb2.EncryptionPolicy{smb2.EncryptionOff, smb2.EncryptionDesired, smb2.EncryptionRequired} {
		got, err := smb2.ParseEncryptionPolicy(strings.ToUpper(p.String()))
		if err != nil || got != p {
			t.Errorf("%v: %v, %v", p, got, err)
		}
	}
	if _, err := smb2.ParseEncryptionPolicy("on"); err == nil {
		t.Error(`"on" accepted`)
	}
}

// TestEncryptedSessionUserFlags: SESS_NOENCRYPTION means a plaintext
// password logon, which never happens here: encrypted and clear sessions
// both report user flags 0.
func TestEncryptedSessionUserFlags(t *testing.T) {
	for _, pol := range []smb2.EncryptionPolicy{smb2.EncryptionRequired, smb2.EncryptionOff} {
		f := newFixture(t, withEncryption(pol))
		s := f.dial(t, "alice", "AlicePass1", smb2.Dialect311)
		res, err := srvsvc(t, s).EnumAll(context.Background(), 1, "", "", session.MaxPreferredLength)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != 1 || res.Entries[0].UserFlags != 0 {
			t.Errorf("%v: entries %+v, want one with user flags 0", pol, res.Entries)
		}
	}
}

// BenchmarkEnumEncrypted measures NetrSessionEnum level 1 calls through
// go-smb2 with 200 sessions in the table, signed only (off) and encrypted
// (required) at 3.1.1 (AES-128-GCM) and 3.0 (AES-128-CCM).
func BenchmarkEnumEncrypted(b *testing.B) {
	for _, tc := range []struct {
		name string
		pol  smb2.EncryptionPolicy
		d    uint16
	}{
		{"signed-3.1.1", smb2.EncryptionOff, smb2.Dialect311},
		{"gcm-3.1.1", smb2.EncryptionRequired, smb2.Dialect311},
		{"ccm-3.0", smb2.EncryptionRequired, smb2.Dialect300},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, withEncryption(tc.pol))
			for i := range 200 {
				if _, err := f.table.Open(session.Spec{Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), User: "bob"}); err != nil {
					b.Fatal(err)
				}
			}
			c := srvsvc(b, f.dial(b, "alice", "AlicePass1", tc.d))
			ctx := context.Background()
			for b.Loop() {
				if _, err := c.EnumAll(ctx, 1, "", "", session.MaxPreferredLength); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
