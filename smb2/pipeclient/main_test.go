package pipeclient_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: the
// client runs nothing in the background, and an interrupted exchange must
// not leave anything waiting either.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
