package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A logon that the server turns into a guest one is refused over smb
// (exit 3, with a hint) unless --guest accepts it; the guest is then
// denied the enumeration (exit 4) by the modern policy.
func TestListGuestOutcome(t *testing.T) {
	s := serveBG(t, "--smb", "127.0.0.1:0", "--guest")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list := func(extra ...string) (int, string) {
		var out, errb strings.Builder
		code := listCmd(ctx, append([]string{"--server", s.smb, "-U", "visitor%whatever"}, extra...), &out, &errb, clEnv(nil, nil))
		return code, errb.String()
	}
	if code, stderr := list(); code != exitLogon || !strings.Contains(stderr, "guest account") || !strings.Contains(stderr, "--guest accepts") {
		t.Errorf("guest outcome by default: exit %d, stderr %q; want exit %d with the hint", code, stderr, exitLogon)
	}
	if code, stderr := list("--guest"); code != exitDenied {
		t.Errorf("with --guest: exit %d, stderr %q; want %d (the guest logs on, the policy denies)", code, stderr, exitDenied)
	}
}
