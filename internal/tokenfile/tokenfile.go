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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Token
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		dir, h, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if !ok || (dir != "c2s" && dir != "s2c") || err != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		out = append(out, Token{FromClient: dir == "c2s", Data: b})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
