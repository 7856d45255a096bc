package server

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test stops what it started: no goroutine survives the package.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
