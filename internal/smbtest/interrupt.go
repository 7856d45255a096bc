package smbtest

import (
	"testing"
	"time"
)

// CloseInterruptsRead checks that closing ends a blocked read: it starts
// read in a goroutine, requires it still blocked after 100ms, calls
// closeFn and requires the read to end with an error within 5 seconds
// (and closeFn to have taken under 2). It returns closeFn's error.
func CloseInterruptsRead(t testing.TB, read, closeFn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- read() }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("read returned before Close: %v", err)
	default:
	}
	start := time.Now()
	cerr := closeFn()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("read succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt the read")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	return cerr
}
