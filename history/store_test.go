package history

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	for _, tc := range []struct{ xdg, want string }{
		{"/data", "/data/netsess/history.db"},
		{"", "/home/u/.local/share/netsess/history.db"},
		{"relative/dir", "/home/u/.local/share/netsess/history.db"},
	} {
		got, err := defaultPath(tc.xdg, home)
		if err != nil || got != filepath.FromSlash(tc.want) {
			t.Errorf("XDG_DATA_HOME=%q: %q, %v; want %q", tc.xdg, got, err, tc.want)
		}
	}
	if _, err := defaultPath("", func() (string, error) { return "", errors.New("no home") }); err == nil {
		t.Error("no home directory: no error")
	}
}

func TestErrors(t *testing.T) {
	base := errors.New("connection refused")
	e := fmt.Errorf("wrapped: %w", &Error{Engine: "postgres", Op: "apply", Unavailable: true, Err: base})
	if !errors.Is(e, ErrUnavailable) || !errors.Is(e, base) {
		t.Errorf("unavailable error does not match: %v", e)
	}
	if errors.Is(&Error{Engine: "sqlite", Op: "query", Err: base}, ErrUnavailable) {
		t.Error("a query error matches ErrUnavailable")
	}
	var se *SchemaError
	if !errors.As(fmt.Errorf("open: %w", &SchemaError{Database: 9, Supported: 1}), &se) || se.Database != 9 {
		t.Error("SchemaError not found by errors.As")
	}
}
