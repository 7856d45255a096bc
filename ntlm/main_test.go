package ntlm

import (
	"testing"

	"go.uber.org/goleak"
)

// Nothing in this package starts goroutines; the tests' helper processes
// must be reaped too.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
