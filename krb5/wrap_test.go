package krb5

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
)

// wrapVector is one entry of testdata/wrap_vectors.json, which
// testdata/wrap_vectors.py builds from RFC 4121 with another
// implementation's RFC 3961 primitives (impacket).
type wrapVector struct {
	Name         string `json:"name"`
	EType        int32  `json:"etype"`
	Key          string `json:"key"`
	Message      string `json:"message"`
	FromAcceptor bool   `json:"from_acceptor"`
	Sealed       bool   `json:"sealed"`
	Seq          uint64 `json:"seq"`
	Confounder   string `json:"confounder"`
	Token        string `json:"token"`
}

func loadWrapVectors(t testing.TB) []wrapVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wrap_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []wrapVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWrapVectors: tokens from the acceptor (sealed, signed, with filler
// and rotation) unwrap on the initiator's side to their message; the
// initiator's tokens are made byte for byte as the vectors say (same
// confounder) and unwrap on the acceptor's side.
func TestWrapVectors(t *testing.T) {
	for _, v := range loadWrapVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			key, msg, tok := unhex(t, v.Key), unhex(t, v.Message), unhex(t, v.Token)
			conf := bytes.NewReader(unhex(t, v.Confounder))
			// The receiving side is the other one.
			recv, err := newWrapper(v.EType, key, v.FromAcceptor, true, 0, v.Seq, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, sealed, err := recv.Unwrap(tok)
			if err != nil || sealed != v.Sealed || !bytes.Equal(got, msg) {
				t.Fatalf("Unwrap: %x sealed %v, %v; want %x sealed %v", got, sealed, err, msg, v.Sealed)
			}
			if _, _, err := recv.Unwrap(tok); !errors.Is(err, ErrSequence) {
				t.Errorf("replay: %v, want ErrSequence", err)
			}
			if v.FromAcceptor {
				return
			}
			send, err := newWrapper(v.EType, key, true, true, v.Seq, 0, conf)
			if err != nil {
				t.Fatal(err)
			}
			mine, err := send.Wrap(msg, v.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine, tok) {
				t.Errorf("Wrap:\n got %x\nwant %x", mine, tok)
			}
			if len(mine) != len(msg)+send.Overhead(v.Sealed) {
				t.Errorf("token of %d bytes for %d, overhead %d", len(mine), len(msg), send.Overhead(v.Sealed))
			}
		})
	}
}

// TestWrapSambaOffer unwraps a token captured from Samba 4.17's LDAP
// server with the AP-REP subkey of its context: the SASL GSSAPI
// security-layer offer, signed, with its checksum rotated to the front
// (EC 12, RRC 12). It offers no layer, integrity and confidentiality with
// buffers of up to 64 KiB.
func TestWrapSambaOffer(t *testing.T) {
	key := unhex(t, "ef09b4fb66d679222100e90e32fcf6d413b839cd3acec43273b0a508d12fea56")
	tok := unhex(t, "050405ff000c000c000000003a301655a575240ee445b210367e31cc07010000")
	w, err := newWrapper(ETypeAES256, key, true, true, 0, 0x3a301655, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, sealed, err := w.Unwrap(tok)
	if err != nil || sealed || !bytes.Equal(msg, []byte{7, 1, 0, 0}) {
		t.Fatalf("%x sealed %v, %v", msg, sealed, err)
	}
}

// TestWrapVectorsGenerator reruns the generator and compares its output
// with the stored vectors, so that they stay what the independent
// implementation says.
func TestWrapVectorsGenerator(t *testing.T) {
	sambapeer.RequireImpacket(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", filepath.Join("testdata", "wrap_vectors.py")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "wrap_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("the generator's vectors differ from testdata/wrap_vectors.json:\n%s", out)
	}
}

func wrapperPair(t testing.TB, etype int32) (ini, acc *Wrapper) {
	t.Helper()
	key := bytes.Repeat([]byte{0x3c}, 32)
	if etype == ETypeAES128 {
		key = key[:16]
	}
	ini, err := newWrapper(etype, key, true, true, 100, 900, nil)
	if err != nil {
		t.Fatal(err)
	}
	acc, err = newWrapper(etype, key, false, true, 900, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ini, acc
}

// TestWrapRoundTrip: both directions, both protections, sequences that
// advance; sealed tokens do not carry the message in clear.
func TestWrapRoundTrip(t *testing.T) {
	for _, et := range []int32{ETypeAES128, ETypeAES256} {
		ini, acc := wrapperPair(t, et)
		for i, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("directory "), 1000)} {
			for _, seal := range []bool{true, false} {
				for _, dir := range []struct{ from, to *Wrapper }{{ini, acc}, {acc, ini}} {
					tok, err := dir.from.Wrap(msg, seal)
					if err != nil {
						t.Fatal(err)
					}
					if seal && len(msg) > 4 && bytes.Contains(tok, msg) {
						t.Errorf("etype %d msg %d: sealed token carries the message in clear", et, i)
					}
					got, sealed, err := dir.to.Unwrap(tok)
					if err != nil || sealed != seal || !bytes.Equal(got, msg) {
						t.Fatalf("etype %d msg %d seal %v: %x %v %v", et, i, seal, got, sealed, err)
					}
				}
			}
		}
	}
}

// TestWrapRefuses: every way a token can be wrong is refused with its
// error, and a refused token does not advance the sequence.
func TestWrapRefuses(t *testing.T) {
	ini, acc := wrapperPair(t, ETypeAES256)
	msg := []byte("0\x0c\x02\x01\x02c\x07\x04\x00\n\x01\x00")
	for _, seal := range []bool{true, false} {
		tok, err := acc.Wrap(msg, seal)
		if err != nil {
			t.Fatal(err)
		}
		mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(tok)) }
		for name, tc := range map[string]struct {
			tok  []byte
			want error
		}{
			"short":          {tok[:10], ErrMalformed},
			"not wrap":       {mutate(func(b []byte) []byte { b[1] = 0x05; return b }), ErrMalformed},
			"filler":         {mutate(func(b []byte) []byte { b[3] = 0; return b }), ErrMalformed},
			"own side":       {mutate(func(b []byte) []byte { b[2] &^= wrapSentByAcceptor; return b }), ErrIntegrity},
			"no subkey flag": {mutate(func(b []byte) []byte { b[2] &^= wrapAcceptorSubkey; return b }), ErrIntegrity},
			"seal flag":      {mutate(func(b []byte) []byte { b[2] ^= wrapSealed; return b }), nil},
			"sequence":       {mutate(func(b []byte) []byte { b[15]++; return b }), nil},
			"body":           {mutate(func(b []byte) []byte { b[20] ^= 0x80; return b }), ErrIntegrity},
			"checksum":       {mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrIntegrity},
			"truncated":      {tok[:len(tok)-1], nil},
			"huge EC":        {mutate(func(b []byte) []byte { b[4], b[5] = 0xff, 0xff; return b }), ErrMalformed},
		} {
			_, _, err := ini.Unwrap(tc.tok)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("seal %v, %s: %v, want %v", seal, name, err, tc.want)
			}
		}
		// The good token still unwraps: nothing above moved the sequence.
		if got, _, err := ini.Unwrap(tok); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("seal %v: the good token after the refusals: %v", seal, err)
		}
	}
	if _, err := newWrapper(ETypeRC4, make([]byte, 16), true, true, 0, 0, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("RC4: %v", err)
	}
	if _, err := newWrapper(ETypeAES256, make([]byte, 16), true, true, 0, 0, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("short key: %v", err)
	}
	if _, err := NewInitiator(nil, nil).Wrapper(); !errors.Is(err, ErrState) {
		t.Errorf("Wrapper before Accept: %v", err)
	}
}

// FuzzUnwrap feeds the initiator's Unwrap arbitrary tokens, seeded with
// the vectors: an error or a message, never a panic, and a message only
// for a token that verifies.
func FuzzUnwrap(f *testing.F) {
	for _, v := range loadWrapVectors(f) {
		if v.FromAcceptor {
			b, _ := hex.DecodeString(v.Token)
			f.Add(b, v.EType == ETypeAES256)
		}
	}
	f.Add([]byte{0x05, 0x04, 0x07, 0xff, 0, 0, 0, 0}, true)
	f.Add(unhex(f, "050405ff000c000c000000003a301655a575240ee445b210367e31cc07010000"), true)
	f.Fuzz(func(t *testing.T, tok []byte, aes256 bool) {
		et, key := ETypeAES128, unhex(t, "505152535455565758595a5b5c5d5e5f")
		seq := uint64(5)
		if aes256 {
			et, key, seq = ETypeAES256, unhex(t, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"), 0x1234567
		}
		w, err := newWrapper(et, key, true, true, 0, seq, nil)
		if err != nil {
			t.Fatal(err)
		}
		msg, _, err := w.Unwrap(tok)
		if err == nil && len(msg) > len(tok) {
			t.Fatalf("message of %d bytes from a token of %d", len(msg), len(tok))
		}
	})
}
