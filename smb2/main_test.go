package smb2_test

import (
	"testing"

	"go.uber.org/goleak"
)

// go-smb2 closes garbage-collected files from a finalizer, and that close
// waits forever when the file's connection is already gone (our tests
// delete sessions under live clients). That client-side goroutine is the
// only one tolerated.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("runtime.runFinalizers"))
}
