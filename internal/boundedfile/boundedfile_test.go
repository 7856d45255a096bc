package boundedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(path, 5); err != nil || string(b) != "12345" {
		t.Errorf("at the bound: %q %v", b, err)
	}
	var tl *TooLargeError
	if _, err := Read(path, 4); !errors.As(err, &tl) || tl.Max != 4 || err.Error() != "larger than 4 bytes" {
		t.Errorf("over the bound: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing"), 5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Read(dir, 5); err == nil {
		t.Error("a directory read as a file")
	}
}
