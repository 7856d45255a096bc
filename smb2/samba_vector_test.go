package smb2_test

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/spnego"
)

// TestSambaCapture311 replays the key schedule on a real SMB 3.1.1
// exchange between rpcclient and Samba 4.17 (alice / AlicePass1): the
// exported NTLM session key, the pre-authentication hash chain over
// NEGOTIATE and both SESSION_SETUP legs, the SP800-108 signing key and the
// negotiated signing algorithm must verify every signed message Samba and
// rpcclient exchanged, in both directions.
func TestSambaCapture311(t *testing.T) {
	f, err := os.Open("testdata/rpcclient-samba-311.hex")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type msg struct {
		fromServer bool
		b          []byte
	}
	var msgs []msg
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		dir, hx, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg{dir == "s", b})
	}
	if len(msgs) < 8 {
		t.Fatalf("%d messages", len(msgs))
	}
	// The negotiated signing algorithm, from the NEGOTIATE response.
	neg := msgs[1].b
	body := neg[wire.HeaderSize:]
	if le.Uint16(body[4:]) != 0x0311 {
		t.Fatalf("dialect %#x", le.Uint16(body[4:]))
	}
	alg := smbcrypto.AlgAESCMAC
	off, n := int(le.Uint32(body[60:])), int(le.Uint16(body[6:]))
	for i := 0; i < n; i++ {
		off = (off + 7) &^ 7
		typ, dl := le.Uint16(neg[off:]), int(le.Uint16(neg[off+2:]))
		if typ == wire.CtxSigning {
			alg = le.Uint16(neg[off+8+2:])
		}
		off += 8 + dl
	}
	// The exported session key from the AUTHENTICATE in the second leg.
	ss, err := wire.ParseSessionSetupRequest(msgs[4].b)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := spnego.ParseNegTokenResp(ss.SecurityBuffer)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ntlm.ParseAuthenticate(resp.ResponseToken)
	if err != nil {
		t.Fatal(err)
	}
	owf := ntlm.NTOWFv2(ntlm.NTHash("AlicePass1"), auth.User, auth.Domain)
	mac := hmac.New(md5.New, owf[:])
	mac.Write(auth.NtChallengeResponse[:16])
	key := mac.Sum(nil)
	if auth.Flags.Has(ntlm.FlagKeyExch) {
		c, _ := rc4.NewCipher(key)
		exported := make([]byte, 16)
		c.XORKeyStream(exported, auth.EncryptedRandomSessionKey)
		key = exported
	}
	// The chain: NEGOTIATE request and response, first SESSION_SETUP
	// request and response, final SESSION_SETUP request.
	var h [smbcrypto.PreauthSize]byte
	for _, m := range msgs[:5] {
		h = smbcrypto.PreauthUpdate(h, m.b)
	}
	keys := smbcrypto.DeriveKeys(0x0311, key, h[:])
	signer, err := smbcrypto.NewSigner(alg, keys.Signing)
	if err != nil {
		t.Fatal(err)
	}
	verified := 0
	for i, m := range msgs {
		if le.Uint32(m.b[16:])&wire.FlagSigned == 0 {
			continue
		}
		if err := signer.Verify(m.b); err != nil {
			t.Errorf("message %d (server %v, command %d): %v", i, m.fromServer, le.Uint16(m.b[12:]), err)
		}
		verified++
	}
	if verified < 10 || alg != smbcrypto.AlgAESGMAC {
		t.Errorf("%d signed messages verified with algorithm %d", verified, alg)
	}
	// A chain that leaves out a message derives a key that fails.
	var bad [smbcrypto.PreauthSize]byte
	for _, m := range msgs[:4] {
		bad = smbcrypto.PreauthUpdate(bad, m.b)
	}
	badSigner, _ := smbcrypto.NewSigner(alg, smbcrypto.DeriveKeys(0x0311, key, bad[:]).Signing)
	if badSigner.Verify(msgs[5].b) == nil {
		t.Error("truncated preauth chain verified")
	}
}
