package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
)

func TestDecodeRefusals(t *testing.T) {
	good := (&AuthenticateMessage{Flags: FlagUnicode, User: "u", Domain: "d", NtChallengeResponse: make([]byte, 60)}).Marshal()
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name  string
		parse func([]byte) error
		in    []byte
	}{
		{"AUTHENTICATE: bad signature", authErr, mut(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"AUTHENTICATE: wrong type", authErr, mut(func(b []byte) []byte { b[8] = 2; return b })},
		{"AUTHENTICATE: truncated header", authErr, good[:63]},
		{"AUTHENTICATE: field past the end", authErr, mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[20:], 0xffff)
			return b
		})},
		{"AUTHENTICATE: offset past the end", authErr, mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[24:], 0xfffffff0)
			return b
		})},
		{"AUTHENTICATE: payload inside the header", authErr, mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[40:], 8)
			return b
		})},
		{"AUTHENTICATE: odd UTF-16 name", authErr, mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[36:], 1)
			return b
		})},
		{"NEGOTIATE: short", func(b []byte) error { _, err := ParseNegotiate(b); return err }, []byte("NTLMSSP\x00\x01\x00\x00")},
		{"CHALLENGE: target info past the end", func(b []byte) error { _, err := ParseChallenge(b); return err },
			func() []byte {
				c := (&ChallengeMessage{Flags: FlagUnicode, TargetInfo: AVPairs{{AvNbComputerName, encodeUTF16("S")}}}).Marshal()
				binary.LittleEndian.PutUint16(c[40:], uint16(len(c)))
				return c
			}()},
		{"AV pairs: no EOL", avErr, []byte{1, 0, 2, 0, 'a', 0}},
		{"AV pairs: value past the end", avErr, []byte{1, 0, 9, 0, 'a', 0, 0, 0, 0, 0}},
		{"AV pairs: EOL with a value", avErr, []byte{0, 0, 1, 0, 0}},
		{"AV pairs: duplicate", avErr, []byte{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}},
		{"AV pairs: too many", avErr, func() []byte {
			var b []byte
			for i := 1; i <= maxAVPairs+1; i++ {
				b = binary.LittleEndian.AppendUint16(b, uint16(0x100+i))
				b = append(b, 0, 0)
			}
			return append(b, 0, 0, 0, 0)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.in)
			var de *DecodeError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &de) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := ParseAuthenticate(good); err != nil {
		t.Fatalf("the unmodified message: %v", err)
	}
}

func authErr(b []byte) error { _, err := ParseAuthenticate(b); return err }
func avErr(b []byte) error   { _, err := ParseAVPairs(b); return err }

func TestMessagesRoundTrip(t *testing.T) {
	v := Version{Major: 6, Minor: 1, Build: 7601, Revision: 15}
	n := &NegotiateMessage{Flags: FlagUnicode | FlagNTLM, Domain: "DOM", Workstation: "WKS", Version: &v}
	gn, err := ParseNegotiate(n.Marshal())
	if err != nil || gn.Domain != "DOM" || gn.Workstation != "WKS" || *gn.Version != v ||
		!gn.Flags.Has(FlagOEMDomainSupplied|FlagOEMWorkstationSupplied|FlagVersion) {
		t.Fatalf("NEGOTIATE: %+v %v", gn, err)
	}
	c := &ChallengeMessage{Flags: FlagUnicode, TargetName: "SRV", ServerChallenge: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		TargetInfo: AVPairs{{AvNbComputerName, encodeUTF16("SRV")}, {AvTimestamp, make([]byte, 8)}}, Version: &v}
	gc, err := ParseChallenge(c.Marshal())
	if err != nil || gc.TargetName != "SRV" || gc.ServerChallenge != c.ServerChallenge ||
		gc.TargetInfo.String(AvNbComputerName) != "SRV" || !bytes.Equal(gc.RawTargetInfo, c.TargetInfo.Marshal()) {
		t.Fatalf("CHALLENGE: %+v %v", gc, err)
	}
	a := &AuthenticateMessage{Flags: FlagUnicode, User: "ü", Domain: "D", Workstation: "W",
		LmChallengeResponse: []byte{1}, NtChallengeResponse: []byte{2, 3}, EncryptedRandomSessionKey: make([]byte, 16), MIC: bytes.Repeat([]byte{9}, 16)}
	ga, err := ParseAuthenticate(a.Marshal())
	if err != nil || ga.User != "ü" || ga.Domain != "D" || ga.Workstation != "W" || !bytes.Equal(ga.MIC, a.MIC) ||
		!bytes.Equal(ga.NtChallengeResponse, a.NtChallengeResponse) || !bytes.Equal(ga.LmChallengeResponse, a.LmChallengeResponse) {
		t.Fatalf("AUTHENTICATE: %+v %v", ga, err)
	}
}

// TestSecurityConcurrentDirections sends and receives on one Security from
// two goroutines at once (run with -race).
func TestSecurityConcurrentDirections(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	cli, err := NewSecurity(key, DefaultClientFlags, RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewSecurity(key, DefaultClientFlags, RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var sigs [n][]byte
	for i := range sigs {
		sigs[i], _ = cli.Sign([]byte{byte(i)})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := srv.Sign([]byte{byte(i)}); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			if err := srv.Verify([]byte{byte(i)}, sigs[i]); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Sequence numbers are enforced: an out-of-order signature fails.
	s1, _ := cli.Sign([]byte("one"))
	s2, _ := cli.Sign([]byte("two"))
	if err := srv.Verify([]byte("two"), s2); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("skipped sequence number accepted: %v", err)
	}
	_ = s1
}
