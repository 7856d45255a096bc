package ntlm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/netsession/netsession/internal/boundedfile"
)

// Account is one local account: its name as configured, its NT hash and
// the local groups it belongs to. The plaintext password of the accounts
// file is turned into the NT hash at load time and not kept.
type Account struct {
	Name   string
	NTHash [16]byte
	Groups []string
}

// Accounts is the local account database of the acceptor, as read from the
// accounts file. Names are matched case-insensitively.
type Accounts struct {
	// Domain is the NetBIOS name of the account domain (the workgroup),
	// reported to clients in the CHALLENGE and in the caller identity of
	// guest logons.
	Domain string
	// Guest maps a logon by an unknown user to the guest account.
	Guest bool
	users map[string]Account
}

// NewAccounts builds an account database in code. Names must be unique
// case-insensitively.
func NewAccounts(domain string, guest bool, accounts ...Account) (*Accounts, error) {
	a := &Accounts{Domain: domain, Guest: guest, users: make(map[string]Account, len(accounts))}
	for i, acc := range accounts {
		if err := checkName(acc.Name); err != nil {
			return nil, &AccountsError{Index: i, Name: acc.Name, Err: err}
		}
		k := foldName(acc.Name)
		if _, dup := a.users[k]; dup {
			return nil, &AccountsError{Index: i, Name: acc.Name, Err: errors.New("duplicate user name (names are case-insensitive)")}
		}
		acc.Groups = append([]string(nil), acc.Groups...)
		a.users[k] = acc
	}
	return a, nil
}

// Lookup returns the account called name, compared case-insensitively.
func (a *Accounts) Lookup(name string) (Account, bool) {
	if a == nil {
		return Account{}, false
	}
	acc, ok := a.users[foldName(name)]
	return acc, ok
}

// Len returns the number of accounts.
func (a *Accounts) Len() int {
	if a == nil {
		return 0
	}
	return len(a.users)
}

func foldName(s string) string { return strings.ToUpper(s) }

// AccountsError is a problem in an accounts file. File is empty for
// databases built with NewAccounts; Index is -1 for problems not tied to
// one entry.
type AccountsError struct {
	File  string
	Index int
	Name  string
	Err   error
}

func (e *AccountsError) Error() string {
	var b strings.Builder
	b.WriteString("accounts")
	if e.File != "" {
		b.WriteString(" file ")
		b.WriteString(e.File)
	}
	if e.Index >= 0 {
		fmt.Fprintf(&b, ": users[%d]", e.Index)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%q)", e.Name)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *AccountsError) Unwrap() error { return e.Err }

// maxAccountsFile bounds the size of an accounts file.
const maxAccountsFile = 16 << 20

// LoadAccounts reads the JSON accounts file at path:
//
//	{"domain": "NETSESS", "guest": false, "users": [
//	  {"name": "alice", "password": "AlicePass1", "groups": ["Administrators"]},
//	  {"name": "bob", "nt_hash": "<32 hex digits>"}]}
//
// Unknown fields are refused, every user needs exactly one of password and
// nt_hash, and names must be unique case-insensitively. Errors name the
// file, the entry (index and name) and the problem.
func LoadAccounts(path string) (*Accounts, error) {
	data, err := boundedfile.Read(path, maxAccountsFile)
	if err != nil {
		return nil, &AccountsError{File: path, Index: -1, Err: err}
	}
	return ParseAccounts(path, data)
}

type accountsFile struct {
	Domain *string           `json:"domain"`
	Guest  bool              `json:"guest"`
	Users  []json.RawMessage `json:"users"`
}

type userEntry struct {
	Name     *string  `json:"name"`
	Password *string  `json:"password"`
	NTHash   *string  `json:"nt_hash"`
	Groups   []string `json:"groups"`
}

func strictDecode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// ParseAccounts parses accounts file content; file names it in errors.
func ParseAccounts(file string, data []byte) (*Accounts, error) {
	var af accountsFile
	if err := strictDecode(data, &af); err != nil {
		return nil, &AccountsError{File: file, Index: -1, Err: err}
	}
	if af.Domain == nil || strings.TrimSpace(*af.Domain) == "" {
		return nil, &AccountsError{File: file, Index: -1, Err: errors.New(`"domain" is missing or empty`)}
	}
	if err := checkName(*af.Domain); err != nil {
		return nil, &AccountsError{File: file, Index: -1, Err: fmt.Errorf("domain: %w", err)}
	}
	accs := make([]Account, 0, len(af.Users))
	for i, raw := range af.Users {
		var u userEntry
		if err := strictDecode(raw, &u); err != nil {
			name := ""
			var probe struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(raw, &probe) == nil {
				name = probe.Name
			}
			return nil, &AccountsError{File: file, Index: i, Name: name, Err: err}
		}
		acc, err := u.account()
		if err != nil {
			name := ""
			if u.Name != nil {
				name = *u.Name
			}
			return nil, &AccountsError{File: file, Index: i, Name: name, Err: err}
		}
		accs = append(accs, acc)
	}
	a, err := NewAccounts(*af.Domain, af.Guest, accs...)
	if err != nil {
		var ae *AccountsError
		if errors.As(err, &ae) {
			ae.File = file
		}
		return nil, err
	}
	return a, nil
}

func (u *userEntry) account() (Account, error) {
	if u.Name == nil {
		return Account{}, errors.New(`"name" is missing`)
	}
	if err := checkName(*u.Name); err != nil {
		return Account{}, fmt.Errorf("name: %w", err)
	}
	acc := Account{Name: *u.Name}
	switch {
	case u.Password != nil && u.NTHash != nil:
		return Account{}, errors.New(`has both "password" and "nt_hash"; give exactly one`)
	case u.Password != nil:
		acc.NTHash = NTHash(*u.Password)
	case u.NTHash != nil:
		h, err := hex.DecodeString(*u.NTHash)
		if err != nil || len(h) != 16 {
			return Account{}, errors.New(`"nt_hash" must be 32 hexadecimal digits`)
		}
		copy(acc.NTHash[:], h)
	default:
		return Account{}, errors.New(`has neither "password" nor "nt_hash"; give exactly one`)
	}
	for j, g := range u.Groups {
		if strings.TrimSpace(g) == "" || strings.IndexFunc(g, unicode.IsControl) >= 0 {
			return Account{}, fmt.Errorf("groups[%d] %q is not a valid group name", j, g)
		}
	}
	acc.Groups = u.Groups
	return acc, nil
}

// checkName accepts names that can travel in an AUTHENTICATE_MESSAGE and
// be compared unambiguously.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case strings.TrimSpace(s) != s:
		return errors.New("leading or trailing white space")
	case strings.ContainsAny(s, `\@/"`):
		return errors.New(`contains one of \ @ / "`)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("contains a control character")
	case len(encodeUTF16(s)) > 512:
		return errors.New("longer than 256 UTF-16 units")
	}
	return nil
}
