package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2/pipeclient"
	"github.com/netsession/netsession/srvs"
)

// Every failure maps to one reason of the closed set, with its raw code.
func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name   string
		err    error
		reason client.Reason
		status uint32
		fault  uint32
	}{
		{"nil", nil, "", 0, 0},
		{"dns", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, client.ReasonNameNotResolved, 0, 0},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, client.ReasonTimeout, 0, 0},
		{"refused", refused, client.ReasonPortClosed, 0, 0},
		{"refused in client", &client.Error{Kind: client.KindUnreachable, Op: "connect", Err: refused}, client.ReasonPortClosed, 0, 0},
		{"unreachable", &client.Error{Kind: client.KindUnreachable, Err: syscall.EHOSTUNREACH}, client.ReasonUnreachable, 0, 0},
		{"reset", &client.Error{Kind: client.KindUnreachable, Err: syscall.ECONNRESET}, client.ReasonUnreachable, 0, 0},
		{"timeout", &client.Error{Kind: client.KindTimeout, Err: context.DeadlineExceeded}, client.ReasonTimeout, 0, 0},
		{"bare deadline", fmt.Errorf("x: %w", os.ErrDeadlineExceeded), client.ReasonTimeout, 0, 0},
		{"canceled", &client.Error{Kind: client.KindCanceled, Err: context.Canceled}, client.ReasonCanceled, 0, 0},
		{"bare canceled", context.Canceled, client.ReasonCanceled, 0, 0},
		{"logon", &client.Error{Kind: client.KindLogonFailure, NTStatus: ntstatus.LogonFailure, Err: &pipeclient.Error{Op: "session setup", Status: ntstatus.LogonFailure, Err: pipeclient.ErrStatus}}, client.ReasonLogonFailure, 0xC000006D, 0},
		{"guest", &client.Error{Kind: client.KindLogonFailure, Err: fmt.Errorf("%w: no keys", client.ErrGuestLogon)}, client.ReasonGuestRefused, 0, 0},
		{"denied", &client.Error{Kind: client.KindAccessDenied, Status: session.StatusAccessDenied, Err: &srvs.StatusError{Status: session.StatusAccessDenied}}, client.ReasonAccessDenied, 5, 0},
		{"level", &client.Error{Kind: client.KindInvalidLevel, Status: session.StatusInvalidLevel}, client.ReasonInvalidLevel, 0x7C, 0},
		{"not supported", &client.Error{Kind: client.KindNotSupported, Status: session.StatusNotSupported}, client.ReasonNotSupported, 0x32, 0},
		{"not found", &client.Error{Kind: client.KindNotFound, Status: session.StatusUserNotFound}, client.ReasonStatus, uint32(session.StatusUserNotFound), 0},
		{"status", &client.Error{Kind: client.KindStatus, Status: 0x846}, client.ReasonStatus, 0x846, 0},
		{"fault", &client.Error{Kind: client.KindFault, Fault: 0x1C010002, Err: &dcerpc.Fault{Status: 0x1C010002}}, client.ReasonRPCFault, 0, 0x1C010002},
		{"protocol", &client.Error{Kind: client.KindProtocol, Err: dcerpc.ErrMalformed}, client.ReasonProtocolError, 0, 0},
		{"unknown", errors.New("something"), client.ReasonProtocolError, 0, 0},
	}
	for _, tc := range tests {
		f := client.Classify(tc.err)
		if f.Reason != tc.reason || f.Status != tc.status || f.HasStatus != (tc.status != 0) || f.Fault != tc.fault || f.HasFault != (tc.fault != 0) {
			t.Errorf("%s: %+v, want %q status %#x fault %#x", tc.name, f, tc.reason, tc.status, tc.fault)
		}
		if client.ReasonOf(tc.err) != tc.reason {
			t.Errorf("%s: ReasonOf %q", tc.name, client.ReasonOf(tc.err))
		}
		if tc.err != nil && f.Detail != tc.err.Error() {
			t.Errorf("%s: detail %q", tc.name, f.Detail)
		}
	}
	seen := map[client.Reason]bool{}
	for _, r := range client.Reasons() {
		if seen[r] || strings.HasPrefix(r.Description(), "unknown") || strings.ToLower(string(r)) != string(r) {
			t.Errorf("reason %q", r)
		}
		seen[r] = true
	}
	if len(seen) != 13 {
		t.Errorf("%d reasons, want the 13 of the documented set", len(seen))
	}
}
