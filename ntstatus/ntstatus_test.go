package ntstatus_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/netsession/netsession/ntstatus"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		s    ntstatus.Status
		want string
	}{
		{ntstatus.Success, "STATUS_SUCCESS"},
		{ntstatus.Pending, "STATUS_PENDING"},
		{ntstatus.BufferOverflow, "STATUS_BUFFER_OVERFLOW"},
		{0xC000006D, "STATUS_LOGON_FAILURE"},
		{ntstatus.PipeBusy, "STATUS_PIPE_BUSY"},
		{ntstatus.UserSessionDeleted, "STATUS_USER_SESSION_DELETED"},
		{0xC0000234, "STATUS_ACCOUNT_LOCKED_OUT"},
		{0xC0000001, ""},
		{0x12345678, ""},
	} {
		if got := tc.s.Name(); got != tc.want {
			t.Errorf("Name(0x%08X) = %q, want %q", uint32(tc.s), got, tc.want)
		}
	}
	if s := ntstatus.Status(0xC0000001).String(); s != "NTSTATUS 0xC0000001" {
		t.Errorf("unnamed String = %q", s)
	}
}

func TestError(t *testing.T) {
	var err error = fmt.Errorf("tree connect: %w", ntstatus.BadNetworkName)
	if !errors.Is(err, ntstatus.BadNetworkName) || errors.Is(err, ntstatus.AccessDenied) {
		t.Fatal("errors.Is")
	}
	var st ntstatus.Status
	if !errors.As(err, &st) || st != ntstatus.BadNetworkName || err.Error() != "tree connect: STATUS_BAD_NETWORK_NAME" {
		t.Fatalf("%v / %v", st, err)
	}
	if !ntstatus.LogonFailure.IsError() || ntstatus.BufferOverflow.IsError() || ntstatus.Pending.IsError() {
		t.Fatal("IsError")
	}
}
