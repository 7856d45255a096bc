package spnego_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/internal/tokenfile"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/spnego"
)

func testAccounts(t testing.TB) *ntlm.Accounts {
	t.Helper()
	a, err := ntlm.NewAccounts("NETSESS", false,
		ntlm.Account{Name: "alice", NTHash: ntlm.NTHash("AlicePass1"), Groups: []string{session.GroupAdministrators}},
		ntlm.Account{Name: "bob", NTHash: ntlm.NTHash("BobPass1")},
	)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// run drives an SPNEGO initiator against an SPNEGO acceptor until both
// are done.
func run(t *testing.T, ini *spnego.Initiator, acc *spnego.Acceptor) (*spnego.InitiatorContext, *spnego.AcceptorContext) {
	t.Helper()
	ctx := context.Background()
	cc, sc := ini.NewContext(), acc.NewContext(auth.Peer{Source: "127.0.0.1"})
	var in []byte
	for i := 0; !cc.Done(); i++ {
		if i > 4 {
			t.Fatal("exchange does not end")
		}
		out, _, err := cc.Step(ctx, in)
		if err != nil {
			t.Fatalf("initiator leg %d: %v", i, err)
		}
		if out == nil {
			break
		}
		if in, _, err = sc.Step(ctx, out); err != nil {
			t.Fatalf("acceptor leg %d: %v", i, err)
		}
	}
	if !cc.Done() || !sc.Done() {
		t.Fatalf("done: initiator %v acceptor %v", cc.Done(), sc.Done())
	}
	return cc, sc
}

// readTokens reads a token file.
func readTokens(t testing.TB, path string) []tokenfile.Token {
	t.Helper()
	toks, err := tokenfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// seedTokens returns every SPNEGO token of the test data: ours and the
// captured logons of the ntlm package.
func seedTokens(t testing.TB) [][]byte {
	var files []string
	for _, dir := range []string{"testdata", filepath.Join("..", "ntlm", "testdata")} {
		m, err := filepath.Glob(filepath.Join(dir, "*.spnego"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("only %d token files", len(files))
	}
	var out [][]byte
	for _, f := range files {
		for _, tk := range readTokens(t, f) {
			out = append(out, tk.Data)
		}
	}
	return out
}
