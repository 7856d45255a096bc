package krb5

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jcmturner/gokrb5/v8/types"
)

func loadGoldenPAC(t testing.TB, name string) ([]byte, goldenPAC, types.EncryptionKey) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenPAC
	if err := json.Unmarshal(j, &g); err != nil {
		t.Fatal(err)
	}
	k, err := hex.DecodeString(g.Key)
	if err != nil {
		t.Fatal(err)
	}
	return raw, g, types.EncryptionKey{KeyType: g.KeyType, KeyValue: k}
}

// TestPACGolden decodes PACs captured from the Samba AD DC (one signed
// with the server's AES-256 key, one with its RC4 key) and checks every
// field the captures recorded, and the server signature.
func TestPACGolden(t *testing.T) {
	for _, name := range []string{"pac_admin_aes", "pac_admin_rc4"} {
		t.Run(name, func(t *testing.T) {
			raw, g, key := loadGoldenPAC(t, name)
			pac, err := ParsePAC(raw)
			if err != nil {
				t.Fatal(err)
			}
			li := pac.LogonInfo
			var groups, extra []string
			for _, s := range li.GroupSIDs() {
				groups = append(groups, s.String())
			}
			for _, s := range li.ExtraSIDs {
				extra = append(extra, s.SID.String())
			}
			for _, c := range []struct{ what, got, want string }{
				{"client name", pac.ClientName, g.ClientName},
				{"effective name", li.EffectiveName, g.User},
				{"logon domain", li.LogonDomainName, g.Domain},
				{"logon server", li.LogonServer, g.LogonServer},
				{"user SID", li.UserSID().String(), g.UserSID},
				{"UPN", pac.UPN, g.UPN},
				{"DNS domain", pac.DNSDomain, g.DNSDomain},
			} {
				if c.got != c.want {
					t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
				}
			}
			if li.PrimaryGroupID != g.PrimaryGID {
				t.Errorf("primary group %d, want %d", li.PrimaryGroupID, g.PrimaryGID)
			}
			if !slices.Equal(groups, g.GroupSIDs) || !slices.Equal(extra, g.ExtraSIDs) {
				t.Errorf("groups %v extra %v, want %v %v", groups, extra, g.GroupSIDs, g.ExtraSIDs)
			}
			if pac.ClientTime.IsZero() {
				t.Errorf("client time not decoded")
			}
			if err := verifyServerChecksum(raw, pac, key); err != nil {
				t.Fatalf("server signature: %v", err)
			}
			// Any change to the signed data breaks the signature.
			bad := append([]byte(nil), raw...)
			bad[len(bad)/2] ^= 1
			if p2, err := ParsePAC(bad); err == nil {
				if err := verifyServerChecksum(bad, p2, key); !errors.Is(err, ErrIntegrity) {
					t.Errorf("tampered PAC: %v, want ErrIntegrity", err)
				}
			}
			wrong := types.EncryptionKey{KeyType: key.KeyType, KeyValue: make([]byte, len(key.KeyValue))}
			if err := verifyServerChecksum(raw, pac, wrong); !errors.Is(err, ErrIntegrity) {
				t.Errorf("wrong key: %v, want ErrIntegrity", err)
			}
		})
	}
}

// TestPACMalformed checks that truncations and hostile counts and offsets
// give ErrMalformed.
func TestPACMalformed(t *testing.T) {
	raw, _, _ := loadGoldenPAC(t, "pac_admin_aes")
	for n := 0; n < len(raw); n += 7 {
		if _, err := ParsePAC(raw[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), raw...)
		f(b)
		return b
	}
	logon := func(b []byte) int { // offset of the logon info buffer
		n := int(binary.LittleEndian.Uint32(b))
		for i := range n {
			if binary.LittleEndian.Uint32(b[8+16*i:]) == pacLogonInfo {
				return int(binary.LittleEndian.Uint64(b[8+16*i+8:]))
			}
		}
		t.Fatal("no logon info")
		return 0
	}
	for name, b := range map[string][]byte{
		"huge buffer count": mutate(func(b []byte) { binary.LittleEndian.PutUint32(b, 1<<30) }),
		"version":           mutate(func(b []byte) { b[4] = 1 }),
		"offset beyond":     mutate(func(b []byte) { binary.LittleEndian.PutUint64(b[16:], 1<<40) }),
		"size beyond":       mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[12:], 1<<31) }),
		"duplicate type": mutate(func(b []byte) {
			binary.LittleEndian.PutUint32(b[8+16:], binary.LittleEndian.Uint32(b[8:]))
		}),
		"ndr header": mutate(func(b []byte) { b[logon(b)+1] = 0 }),
		"object length": mutate(func(b []byte) {
			binary.LittleEndian.PutUint32(b[logon(b)+8:], 1<<31)
		}),
		// GroupCount is at 16 + 4 (referent) + 48 (times) + 48 (names) + 4 + 8.
		"group count": mutate(func(b []byte) {
			binary.LittleEndian.PutUint32(b[logon(b)+16+4+48+48+4+8:], 0x10000000)
		}),
	} {
		if _, err := ParsePAC(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestSIDString(t *testing.T) {
	s := SID{Authority: 5, Sub: []uint32{21, 1, 2, 3}}
	if got := s.Append(500).String(); got != "S-1-5-21-1-2-3-500" {
		t.Errorf("got %s", got)
	}
	if len(s.Sub) != 4 {
		t.Error("Append changed the receiver")
	}
}

// FuzzParsePAC: any input gives a PAC or an error wrapping ErrMalformed,
// never a panic; what decodes can be re-verified without a panic.
func FuzzParsePAC(f *testing.F) {
	for _, name := range []string{"pac_admin_aes", "pac_admin_rc4"} {
		raw, _, _ := loadGoldenPAC(f, name)
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pac, err := ParsePAC(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		_ = pac.LogonInfo.UserSID().String()
		_ = pac.LogonInfo.ResourceGroupSIDs()
		if pac.ServerChecksum != nil && pac.KDCChecksum != nil {
			verifyServerChecksum(b, pac, types.EncryptionKey{KeyType: 18, KeyValue: make([]byte, 32)})
		}
	})
}

func BenchmarkParsePAC(b *testing.B) {
	raw, _, _ := loadGoldenPAC(b, "pac_admin_aes")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParsePAC(raw); err != nil {
			b.Fatal(err)
		}
	}
}
