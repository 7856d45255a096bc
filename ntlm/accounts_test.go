package ntlm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAccounts(t *testing.T) {
	a, err := LoadAccounts(filepath.Join("testdata", "accounts-good.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Domain != "NETSESS" || a.Guest || a.Len() != 3 {
		t.Fatalf("%+v", a)
	}
	alice, ok := a.Lookup("ALICE")
	if !ok || alice.Name != "alice" || alice.NTHash != NTHash("AlicePass1") || len(alice.Groups) != 1 {
		t.Fatalf("alice: %+v %v", alice, ok)
	}
	// bob's nt_hash in the file is MD4(UTF-16LE("BobPass1")) as impacket computes it.
	if bob, ok := a.Lookup("Bob"); !ok || bob.NTHash != NTHash("BobPass1") {
		t.Fatalf("bob: %+v", bob)
	}
	if _, ok := a.Lookup("carol"); ok {
		t.Fatal("carol found")
	}
}

func TestAccountsErrors(t *testing.T) {
	const good = `{"name": "alice", "password": "p"}`
	tests := []struct {
		name, json string
		want       []string // substrings of the message
	}{
		{"not JSON", `{`, []string{"f.json"}},
		{"unknown top-level field", `{"domain": "D", "userz": []}`, []string{"f.json", "userz"}},
		{"no domain", `{"users": []}`, []string{"f.json", "domain"}},
		{"unknown user field", `{"domain": "D", "users": [` + good + `, {"name": "bob", "pasword": "x"}]}`, []string{"f.json", "users[1]", `"bob"`, "pasword"}},
		{"both secrets", `{"domain": "D", "users": [{"name": "bob", "password": "x", "nt_hash": "00000000000000000000000000000000"}]}`, []string{"users[0]", `"bob"`, "exactly one"}},
		{"no secret", `{"domain": "D", "users": [{"name": "bob"}]}`, []string{"users[0]", "neither"}},
		{"short hash", `{"domain": "D", "users": [{"name": "bob", "nt_hash": "abcd"}]}`, []string{"users[0]", "32 hexadecimal"}},
		{"bad hash digits", `{"domain": "D", "users": [{"name": "bob", "nt_hash": "zz000000000000000000000000000000"}]}`, []string{"nt_hash"}},
		{"no name", `{"domain": "D", "users": [{"password": "x"}]}`, []string{"users[0]", "name"}},
		{"duplicate", `{"domain": "D", "users": [` + good + `, {"name": "ALICE", "password": "q"}]}`, []string{"users[1]", `"ALICE"`, "duplicate"}},
		{"bad name", `{"domain": "D", "users": [{"name": "dom\\user", "password": "q"}]}`, []string{"users[0]", "name"}},
		{"empty group", `{"domain": "D", "users": [{"name": "u", "password": "q", "groups": [""]}]}`, []string{"users[0]", "groups[0]"}},
		{"trailing data", `{"domain": "D"} {}`, []string{"trailing"}},
		{"wrong type", `{"domain": "D", "users": [{"name": 5, "password": "q"}]}`, []string{"users[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAccounts("f.json", []byte(tt.json))
			var ae *AccountsError
			if !errors.As(err, &ae) || ae.File != "f.json" {
				t.Fatalf("err = %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}
	_, err := LoadAccounts(filepath.Join(t.TempDir(), "missing.json"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSplitUser(t *testing.T) {
	for _, tt := range []struct{ in, user, domain string }{
		{`NETSESS\alice`, "alice", "NETSESS"},
		{"alice@netsess.example", "alice", "netsess.example"},
		{"alice", "alice", ""},
		{"", "", ""},
	} {
		if u, d := SplitUser(tt.in); u != tt.user || d != tt.domain {
			t.Errorf("SplitUser(%q) = %q, %q", tt.in, u, d)
		}
	}
}
