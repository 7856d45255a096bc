// Package tokenfile reads the token files of the tests: one security
// token per line, "c2s HEX" (client to server) or "s2c HEX", in exchange
// order; blank lines and lines starting with # are skipped.
package tokenfile

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// Token is one line of a token file.
type Token struct {
	FromClient bool
	Data       []byte
}

// Read reads the token file at path.
func Read(path string) ([]Token, error) {
	var out []Token
	err := eachLine(path, func(line string) error {
		dir, h, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if !ok || (dir != "c2s" && dir != "s2c") || err != nil {
			return fmt.Errorf("%s: bad line %q", path, line)
		}
		out = append(out, Token{FromClient: dir == "c2s", Data: b})
		return nil
	})
	return out, err
}

// ReadHex reads a file of bare messages, one hexadecimal message a line
// without a direction (the captures of the tests); blank lines and lines
// starting with # are skipped.
func ReadHex(path string) ([][]byte, error) {
	var out [][]byte
	err := eachLine(path, func(line string) error {
		b, err := hex.DecodeString(line)
		if err != nil {
			return fmt.Errorf("%s: bad line %q: %w", path, line, err)
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// eachLine calls fn with each line of the file at path that is neither
// blank nor a comment, trimmed of surrounding space, and stops at fn's
// first error.
func eachLine(path string, fn func(line string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
