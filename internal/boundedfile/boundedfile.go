// Package boundedfile reads a whole small file (an accounts file, a seed
// file) with a bound on its size, so that a mistaken path such as a device
// or a huge log cannot exhaust memory.
package boundedfile

import (
	"fmt"
	"io"
	"os"
)

// TooLargeError reports a file longer than the bound.
type TooLargeError struct {
	Max int64
}

func (e *TooLargeError) Error() string { return fmt.Sprintf("larger than %d bytes", e.Max) }

// Read returns the contents of the file at path. It reads at most max+1
// bytes and fails with a *TooLargeError when there are more than max;
// other errors are those of os.Open and the read.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &TooLargeError{Max: max}
	}
	return data, nil
}
