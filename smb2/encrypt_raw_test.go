package smb2_test

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/spnego"
)

// encClient is a raw 3.0 client that can encrypt: it announces
// SMB2_GLOBAL_CAP_ENCRYPTION and keeps the session's cipher keys.
type encClient struct {
	*rawClient
	flags    uint16 // SessionFlags of the final SESSION_SETUP answer
	enc, dec cipher.AEAD
	nonce    uint64
}

func dialEnc(t *testing.T, addr string, caps uint32) *encClient {
	t.Helper()
	c := &encClient{rawClient: dialRaw(t, addr)}
	nb := negotiateBody(smb2.Dialect300)
	le.PutUint32(nb[8:], caps)
	st, body, err := c.do(c.build(wire.CmdNegotiate, nb), false)
	if err != nil || st != smb2.StatusSuccess {
		t.Fatalf("negotiate: %v %v", st, err)
	}
	if got := le.Uint32(body[24:]) & wire.CapEncryption; got != caps&wire.CapEncryption {
		t.Fatalf("server capabilities %#x for client's %#x", le.Uint32(body[24:]), caps)
	}
	return c
}

// login logs on and returns the final status.
func (c *encClient) login(user, pass string) smb2.Status {
	t := c.t
	t.Helper()
	sp := spnego.MustInitiator(&ntlm.Client{User: user, Password: pass}).NewContext()
	ctx := context.Background()
	tok, _, err := sp.Step(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, body, err := c.do(c.build(wire.CmdSessionSetup, sessionSetupBody(tok)), false)
		if err != nil {
			t.Fatal(err)
		}
		if st != smb2.StatusMoreProcessingRequired && st != smb2.StatusSuccess {
			return st
		}
		off, n := int(le.Uint16(body[4:])), int(le.Uint16(body[6:]))
		in := body[off-wire.HeaderSize : off-wire.HeaderSize+n]
		if tok, _, err = sp.Step(ctx, in); err != nil {
			t.Fatal(err)
		}
		if st == smb2.StatusSuccess {
			c.flags = le.Uint16(body[2:])
			keys := smbcrypto.DeriveKeys(smb2.Dialect300, sp.SessionKey(), nil)
			c.signer, _ = smbcrypto.NewSigner(smbcrypto.AlgAESCMAC, keys.Signing)
			c.enc, _ = smbcrypto.NewCipher(smbcrypto.CipherAES128CCM, keys.ClientToServer)
			c.dec, _ = smbcrypto.NewCipher(smbcrypto.CipherAES128CCM, keys.ServerToClient)
			return st
		}
	}
}

// sealed sends msg encrypted and returns the decrypted answer's status,
// body and header.
func (c *encClient) sealed(msg []byte) (smb2.Status, []byte, wire.Header, error) {
	c.nonce++
	var n [11]byte
	le.PutUint64(n[:], c.nonce)
	if err := c.sendFrame(smbcrypto.Seal(nil, c.enc, n[:], c.sid, msg)); err != nil {
		return 0, nil, wire.Header{}, err
	}
	resp, err := c.recv()
	if err != nil {
		return 0, nil, wire.Header{}, err
	}
	th, err := smbcrypto.ParseTransformHeader(resp)
	if err != nil {
		return 0, nil, wire.Header{}, err
	}
	plain, err := smbcrypto.Open(c.dec, th, resp)
	if err != nil {
		return 0, nil, wire.Header{}, err
	}
	h, err := wire.ParseHeader(plain)
	if err != nil {
		return 0, nil, h, err
	}
	return smb2.Status(h.Status), plain[wire.HeaderSize:], h, nil
}

// TestEncryptionRequiredRefusesClearRequests: on an encrypting session
// under "required", a signed request in clear is refused with
// STATUS_ACCESS_DENIED while the same request encrypted succeeds, and the
// answer to it is encrypted; under "desired" the clear request is served
// (and answered encrypted, the session encrypts).
func TestEncryptionRequiredRefusesClearRequests(t *testing.T) {
	for _, pol := range []smb2.EncryptionPolicy{smb2.EncryptionRequired, smb2.EncryptionDesired} {
		t.Run(pol.String(), func(t *testing.T) {
			f := newFixture(t, withEncryption(pol))
			c := dialEnc(t, f.addr, wire.CapEncryption)
			if st := c.login("alice", "AlicePass1"); st != smb2.StatusSuccess {
				t.Fatalf("login: %v", st)
			}
			if c.flags&wire.SessionEncryptData == 0 {
				t.Fatalf("session flags %#x without ENCRYPT_DATA", c.flags)
			}
			clear := c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`))
			if err := c.signer.Sign(clear); err != nil {
				t.Fatal(err)
			}
			if pol == smb2.EncryptionRequired {
				st, _, err := c.do(clear, false)
				if err != nil || st != smb2.StatusAccessDenied {
					t.Fatalf("clear TREE_CONNECT: %v, %v; want ACCESS_DENIED", st, err)
				}
			} else {
				if err := c.sendFrame(clear); err != nil {
					t.Fatal(err)
				}
				resp, err := c.recv()
				if err != nil || !bytes.HasPrefix(resp, []byte(smbcrypto.ProtocolTransform)) {
					t.Fatalf("answer to a clear request on an encrypting session: %.4q, %v", resp, err)
				}
			}
			st, body, h, err := c.sealed(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)))
			if err != nil || st != smb2.StatusSuccess {
				t.Fatalf("encrypted TREE_CONNECT: %v, %v", st, err)
			}
			if flags := le.Uint32(body[4:]); flags&0x8000 == 0 {
				t.Errorf("share flags %#x without ENCRYPT_DATA", flags)
			}
			c.tree = h.TreeID
			// An encrypted ECHO (no session lookup) is answered encrypted.
			if st, _, _, err := c.sealed(c.build(wire.CmdEcho, wire.AppendSmall(nil))); err != nil || st != smb2.StatusSuccess {
				t.Fatalf("encrypted ECHO: %v, %v", st, err)
			}
		})
	}
}

// TestEncryptionRequiredRefusesSessions: under "required" a 3.0 client
// without SMB2_GLOBAL_CAP_ENCRYPTION is refused at session setup, and so
// is a 3.1.1 client that shares no cipher with the server (whose
// NEGOTIATE answer names cipher 0).
func TestEncryptionRequiredRefusesSessions(t *testing.T) {
	f := newFixture(t, withEncryption(smb2.EncryptionRequired))
	c := dialEnc(t, f.addr, 0)
	if st := c.login("alice", "AlicePass1"); st != smb2.StatusAccessDenied {
		t.Fatalf("3.0 without CAP_ENCRYPTION: %v, want ACCESS_DENIED", st)
	}

	r := dialRaw(t, f.addr)
	st, body, err := r.do(r.build(wire.CmdNegotiate, negotiate311Body(0x0009)), false)
	if err != nil || st != smb2.StatusSuccess {
		t.Fatalf("negotiate: %v %v", st, err)
	}
	if cipher, ok := responseCipher(t, body); !ok || cipher != 0 {
		t.Fatalf("encryption context: cipher %#x (present %v), want 0", cipher, ok)
	}
	sp := spnego.MustInitiator(&ntlm.Client{User: "alice", Password: "AlicePass1"}).NewContext()
	tok, _, _ := sp.Step(context.Background(), nil)
	for {
		st, body, err := r.do(r.build(wire.CmdSessionSetup, sessionSetupBody(tok)), false)
		if err != nil {
			t.Fatal(err)
		}
		if st != smb2.StatusMoreProcessingRequired {
			if st != smb2.StatusAccessDenied {
				t.Fatalf("3.1.1 without a common cipher: %v, want ACCESS_DENIED", st)
			}
			break
		}
		off, n := int(le.Uint16(body[4:])), int(le.Uint16(body[6:]))
		if tok, _, err = sp.Step(context.Background(), body[off-wire.HeaderSize:off-wire.HeaderSize+n]); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.table.Len(); n != 0 {
		t.Fatalf("%d sessions in the table", n)
	}
}

// TestEncryptionBadMessagesClose: a forged encrypted message, one for a
// session without keys and one whose inner header names another session
// all end the connection.
func TestEncryptionBadMessagesClose(t *testing.T) {
	f := newFixture(t, withEncryption(smb2.EncryptionRequired))
	for _, tc := range []struct {
		name  string
		forge func(c *encClient) []byte
	}{
		{"flipped byte", func(c *encClient) []byte {
			var n [11]byte
			m := smbcrypto.Seal(nil, c.enc, n[:], c.sid, c.build(wire.CmdEcho, wire.AppendSmall(nil)))
			m[len(m)-1] ^= 1
			return m
		}},
		{"unknown session", func(c *encClient) []byte {
			var n [11]byte
			return smbcrypto.Seal(nil, c.enc, n[:], c.sid+1, c.build(wire.CmdEcho, wire.AppendSmall(nil)))
		}},
		{"inner session differs", func(c *encClient) []byte {
			var n [11]byte
			c.sid++
			inner := c.build(wire.CmdEcho, wire.AppendSmall(nil))
			c.sid--
			return smbcrypto.Seal(nil, c.enc, n[:], c.sid, inner)
		}},
		{"random key", func(c *encClient) []byte {
			k := make([]byte, 16)
			rand.Read(k)
			a, _ := smbcrypto.NewCipher(smbcrypto.CipherAES128CCM, k)
			var n [11]byte
			return smbcrypto.Seal(nil, a, n[:], c.sid, c.build(wire.CmdEcho, wire.AppendSmall(nil)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialEnc(t, f.addr, wire.CapEncryption)
			if st := c.login("alice", "AlicePass1"); st != smb2.StatusSuccess {
				t.Fatalf("login: %v", st)
			}
			if err := c.sendFrame(tc.forge(c)); err != nil {
				t.Fatal(err)
			}
			if resp, err := c.recv(); err == nil {
				t.Fatalf("answered %x", resp)
			}
		})
	}
}

// negotiate311Body offers 3.1.1 with SHA-512 pre-authentication and the
// given ciphers.
func negotiate311Body(ciphers ...uint16) []byte {
	b := negotiateBody(smb2.Dialect311)
	pre := le.AppendUint16(nil, 1)
	pre = le.AppendUint16(pre, 32)
	pre = le.AppendUint16(pre, wire.HashSHA512)
	pre = append(pre, make([]byte, 32)...)
	enc := le.AppendUint16(nil, uint16(len(ciphers)))
	for _, id := range ciphers {
		enc = le.AppendUint16(enc, id)
	}
	for (wire.HeaderSize+len(b))%8 != 0 {
		b = append(b, 0)
	}
	le.PutUint32(b[28:], uint32(wire.HeaderSize+len(b)))
	le.PutUint16(b[32:], 2)
	for i, ctx := range []struct {
		typ  uint16
		data []byte
	}{{wire.CtxPreauthIntegrity, pre}, {wire.CtxEncryption, enc}} {
		if i > 0 {
			for (wire.HeaderSize+len(b))%8 != 0 {
				b = append(b, 0)
			}
		}
		b = le.AppendUint16(b, ctx.typ)
		b = le.AppendUint16(b, uint16(len(ctx.data)))
		b = le.AppendUint32(b, 0)
		b = append(b, ctx.data...)
	}
	return b
}

// responseCipher finds the cipher of a NEGOTIATE answer's encryption
// context.
func responseCipher(t *testing.T, body []byte) (uint16, bool) {
	t.Helper()
	cnt := int(le.Uint16(body[6:]))
	off := int(le.Uint32(body[60:])) - wire.HeaderSize
	for i := 0; i < cnt; i++ {
		off = (off + 7) &^ 7
		typ, n := le.Uint16(body[off:]), int(le.Uint16(body[off+2:]))
		data := body[off+8 : off+8+n]
		if typ == wire.CtxEncryption {
			if le.Uint16(data) != 1 {
				t.Fatalf("encryption context with %d ciphers", le.Uint16(data))
			}
			return le.Uint16(data[2:]), true
		}
		off += 8 + n
	}
	return 0, false
}

// TestEncryptionPerSessionKeys: two sessions on one connection each
// encrypt with their own keys; a message of one session sealed with the
// other's key ends the connection.
func TestEncryptionPerSessionKeys(t *testing.T) {
	f := newFixture(t, withEncryption(smb2.EncryptionRequired))
	c := dialEnc(t, f.addr, wire.CapEncryption)
	if st := c.login("alice", "AlicePass1"); st != smb2.StatusSuccess {
		t.Fatalf("alice: %v", st)
	}
	sidA, encA, decA := c.sid, c.enc, c.dec
	c.sid, c.signer = 0, nil // bob's setup is signed with bob's key
	if st := c.login("bob", "BobPass1"); st != smb2.StatusSuccess {
		t.Fatalf("bob: %v", st)
	}
	if c.sid == sidA {
		t.Fatal("one session id for two logons")
	}
	sidB, encB, decB := c.sid, c.enc, c.dec
	for _, s := range []struct {
		sid      uint64
		enc, dec cipher.AEAD
	}{{sidA, encA, decA}, {sidB, encB, decB}, {sidA, encA, decA}} {
		c.sid, c.enc, c.dec = s.sid, s.enc, s.dec
		st, _, h, err := c.sealed(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)))
		if err != nil || st != smb2.StatusSuccess || h.SessionID != s.sid {
			t.Fatalf("session %#x: %v, %v (answer of session %#x)", s.sid, st, err, h.SessionID)
		}
	}
	if f.table.Len() != 2 {
		t.Fatalf("%d sessions in the table", f.table.Len())
	}
	c.sid, c.enc = sidB, encA
	if _, _, _, err := c.sealed(c.build(wire.CmdEcho, wire.AppendSmall(nil))); err == nil {
		t.Fatal("a message of bob's session sealed with alice's key was answered")
	}
}
