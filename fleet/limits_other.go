//go:build !unix

package fleet

import "errors"

// RaiseFileLimit is not available here; Start then skips its descriptor
// check.
func RaiseFileLimit() (soft, hard uint64, raised bool, err error) {
	return 0, 0, false, errors.New("fleet: no descriptor limit to raise on this system")
}
