package ntlm

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// The NTLMv2 example of MS-NLMP section 4.2.4: User "User", UserDom
// "Domain", Passwd "Password", RandomSessionKey 0x55 x16, Time zero,
// ClientChallenge 0xaa x8, ServerChallenge 0123456789abcdef, AV pairs
// MsvAvNbDomainName "Domain" and MsvAvNbComputerName "Server", and the
// flags 0xe28a8233 (KEY_EXCH, 56, 128, VERSION, TARGET_INFO, ESS,
// TARGET_TYPE_SERVER, ALWAYS_SIGN, NTLM, SEAL, SIGN, OEM, UNICODE).
const (
	nlmpFlags             = NegotiateFlags(0xe28a8233)
	nlmpServerChallenge   = "0123456789abcdef"
	nlmpClientChallenge   = "aaaaaaaaaaaaaaaa"
	nlmpTargetInfo        = "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"
	nlmpResponseKeyNT     = "0c868a403bfd7a93a3001ef22ef02e3f"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.1.1
	nlmpLMv2Response      = "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.2.1
	nlmpNTProofStr        = "68cd0ab851e51c96aabc927bebef6a1c"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.2.2
	nlmpSessionBaseKey    = "8de40ccadbc14a82f15cb0ad0de95ca3"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.1.2
	nlmpEncryptedKey      = "c5dad2544fc9799094ce1ce90bc9d03e"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.2.3
	nlmpClientSignKey     = "4788dc861b4782f35d43fd98fe1a2d39"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.4
	nlmpClientSealKey     = "59f600973cc4960a25480a7c196e4c58"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.4
	nlmpSealedPlaintext   = "54e50165bf1936dc996020c1811b0f06fb5f"                                                                                                                                                                                                                                                                                                                                                                                                                                             // 4.2.4.4
	nlmpSealedSignature   = "010000007fb38ec5c55d497600000000"                                                                                                                                                                                                                                                                                                                                                                                                                                                 // 4.2.4.4
	nlmpAuthenticateBytes = "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010005c00000010001000d8000000358288e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e" // 4.2.4.3
)

func TestNLMPVectorsNTLMv2(t *testing.T) {
	key := NTOWFv2(NTHash("Password"), "User", "Domain")
	if got := hex.EncodeToString(key[:]); got != nlmpResponseKeyNT {
		t.Fatalf("NTOWFv2 = %s, want %s", got, nlmpResponseKeyNT)
	}
	sc, cc := unhex(t, nlmpServerChallenge), unhex(t, nlmpClientChallenge)
	lm := append(hmacMD5(nil, key[:], sc, cc), cc...)
	if got := hex.EncodeToString(lm); got != nlmpLMv2Response {
		t.Errorf("LMv2 response = %s, want %s", got, nlmpLMv2Response)
	}
	// temp = 01 01 Z(6) Time ClientChallenge Z(4) ServerName Z(4)
	temp := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	temp = append(temp, make([]byte, 8)...)
	temp = append(temp, cc...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, unhex(t, nlmpTargetInfo)...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(nil, key[:], sc, temp)
	if got := hex.EncodeToString(proof); got != nlmpNTProofStr {
		t.Errorf("NTProofStr = %s, want %s", got, nlmpNTProofStr)
	}
	base := hmacMD5(nil, key[:], proof)
	if got := hex.EncodeToString(base); got != nlmpSessionBaseKey {
		t.Errorf("SessionBaseKey = %s, want %s", got, nlmpSessionBaseKey)
	}
	random := bytes.Repeat([]byte{0x55}, 16)
	if got := hex.EncodeToString(rc4K(base, random)); got != nlmpEncryptedKey {
		t.Errorf("EncryptedRandomSessionKey = %s, want %s", got, nlmpEncryptedKey)
	}
	if got := hex.EncodeToString(signKey(random, true)); got != nlmpClientSignKey {
		t.Errorf("client SIGNKEY = %s, want %s", got, nlmpClientSignKey)
	}
	if got := hex.EncodeToString(sealKey(nlmpFlags, random, true)); got != nlmpClientSealKey {
		t.Errorf("client SEALKEY = %s, want %s", got, nlmpClientSealKey)
	}

	// The AUTHENTICATE message of 4.2.4.3 decodes to the same values.
	auth, err := ParseAuthenticate(unhex(t, nlmpAuthenticateBytes))
	if err != nil {
		t.Fatal(err)
	}
	if auth.User != "User" || auth.Domain != "Domain" || auth.Workstation != "COMPUTER" {
		t.Errorf("names = %q %q %q", auth.User, auth.Domain, auth.Workstation)
	}
	if !bytes.Equal(auth.NtChallengeResponse, append(proof, temp...)) {
		t.Errorf("NtChallengeResponse differs from the computed one")
	}
	if !bytes.Equal(auth.LmChallengeResponse, lm) || hex.EncodeToString(auth.EncryptedRandomSessionKey) != nlmpEncryptedKey {
		t.Errorf("LM response or encrypted key differ")
	}
	if auth.MIC != nil {
		t.Errorf("the 4.2.4.3 message has no room for a MIC, got %x", auth.MIC)
	}
}

// TestNLMPVectorsSeal checks GSS_WrapEx of MS-NLMP 4.2.4.4 through
// Security: "Plaintext" in UTF-16, sequence number 0.
func TestNLMPVectorsSeal(t *testing.T) {
	random := bytes.Repeat([]byte{0x55}, 16)
	s, err := NewSecurity(random, nlmpFlags, RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	msg := encodeUTF16("Plaintext")
	sig, err := s.Seal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(msg); got != nlmpSealedPlaintext {
		t.Errorf("sealed = %s, want %s", got, nlmpSealedPlaintext)
	}
	if got := hex.EncodeToString(sig); got != nlmpSealedSignature {
		t.Errorf("signature = %s, want %s", got, nlmpSealedSignature)
	}
	// The acceptor side opens it.
	srv, err := NewSecurity(random, nlmpFlags, RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Unseal(msg, sig); err != nil {
		t.Fatal(err)
	}
	if string(msg) != string(encodeUTF16("Plaintext")) {
		t.Errorf("unsealed = %x", msg)
	}
}

// TestNLMPVectorsNTLMv1 checks the NTLMv1 example of MS-NLMP 4.2.2 (same
// user, password and server challenge as 4.2.4, no extended session
// security): NTOWFv1 (4.2.2.1.2), the NT response (4.2.2.2.1) and the
// session base key (4.2.2.1.3).
func TestNLMPVectorsNTLMv1(t *testing.T) {
	hash := NTHash("Password")
	if got := hex.EncodeToString(hash[:]); got != "a4f49c406510bdcab6824ee7c30fd852" {
		t.Fatalf("NTOWFv1 = %s", got)
	}
	var sc [8]byte
	copy(sc[:], unhex(t, nlmpServerChallenge))
	nt := desl(hash, sc[:])
	if got := hex.EncodeToString(nt); got != "67c43011f30298a2ad35ece64f16331c44bdbed927841f94" {
		t.Fatalf("NTLMv1 response = %s", got)
	}
	base := verifyNTLMv1(hash, FlagNTLM, sc, nt, nil)
	if got := hex.EncodeToString(base); got != "d87262b0cde4b1cb7499becccdf10784" {
		t.Fatalf("session base key = %s", got)
	}
	nt[0] ^= 1
	if verifyNTLMv1(hash, FlagNTLM, sc, nt, nil) != nil {
		t.Fatal("a wrong NTLMv1 response verified")
	}
}
