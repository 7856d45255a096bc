package tokenfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# comment\n\nc2s 0102\ns2c  ff \n"), 0o600)
	toks, err := Read(good)
	if err != nil || len(toks) != 2 || !toks[0].FromClient || toks[1].FromClient || toks[0].Data[1] != 2 || toks[1].Data[0] != 0xff {
		t.Fatalf("%+v %v", toks, err)
	}
	for _, bad := range []string{"x2y 00\n", "c2s zz\n", "c2s\n"} {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte(bad), 0o600)
		if _, err := Read(p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestReadHex(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# comment\n\n0102\n  ff \n"), 0o600)
	msgs, err := ReadHex(good)
	if err != nil || len(msgs) != 2 || len(msgs[0]) != 2 || msgs[0][1] != 2 || len(msgs[1]) != 1 || msgs[1][0] != 0xff {
		t.Fatalf("%x %v", msgs, err)
	}
	for _, bad := range []string{"zz\n", "c2s 00\n", "012\n"} {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte(bad), 0o600)
		if _, err := ReadHex(p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ReadHex(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
