package pipeclient_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/netsession/netsession/smb2/pipeclient"
)

// TestNoAuth: a Dial without an initiator fails cleanly at session setup
// (an anonymous logon is asked for explicitly, with an empty
// *ntlm.Client).
func TestNoAuth(t *testing.T) {
	f := newFixture(t)
	_, err := f.dial(t, pipeclient.Options{})
	var pe *pipeclient.Error
	if err == nil || !strings.Contains(err.Error(), "Auth") {
		t.Fatalf("no initiator: %v", err)
	}
	if ok := errors.As(err, &pe); !ok || pe.Op != "session setup" || pe.Status != 0 {
		t.Fatalf("no initiator: %#v", err)
	}
}
