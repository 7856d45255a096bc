package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

func TestWrapError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	tests := []struct {
		name   string
		parent context.Context
		op     string
		err    error
		authed bool
		want   Kind
	}{
		{"status 5", bg, "NetrSessionEnum", &srvs.StatusError{Op: "NetrSessionEnum", Level: 1, Status: 5}, true, KindAccessDenied},
		{"status 0x7C", bg, "NetrSessionEnum", &srvs.StatusError{Op: "NetrSessionEnum", Status: 0x7C}, false, KindInvalidLevel},
		{"status 0x32", bg, "NetrSessionEnum", &srvs.StatusError{Op: "NetrSessionEnum", Status: 0x32}, false, KindNotSupported},
		{"status 0x8AD", bg, "NetrSessionEnum", &srvs.StatusError{Op: "NetrSessionEnum", Status: 0x8AD}, false, KindNotFound},
		{"status 0x908", bg, "NetrSessionDel", &srvs.StatusError{Op: "NetrSessionDel", Status: 0x908}, false, KindNotFound},
		{"status 8", bg, "NetrSessionEnum", &srvs.StatusError{Op: "NetrSessionEnum", Status: 8}, false, KindStatus},
		{"fault", bg, "NetrSessionEnum", &dcerpc.Fault{Status: 0x1C010002}, true, KindFault},
		{"fault 5 confirmed", bg, "NetrSessionEnum", &dcerpc.Fault{Status: 5}, false, KindFault},
		{"fault 5 after auth3", bg, "NetrSessionEnum", &dcerpc.Fault{Status: 5}, true, KindLogonFailure},
		{"samba refused auth3", bg, "NetrSessionEnum", &dcerpc.Fault{Status: 0x1C01000B}, true, KindLogonFailure},
		{"proto error at bind", bg, "bind", &dcerpc.Fault{Status: 0x1C01000B}, true, KindFault},
		{"proto error confirmed", bg, "NetrSessionEnum", &dcerpc.Fault{Status: 0x1C01000B}, false, KindFault},
		{"fault 0x721 at bind", bg, "bind", &dcerpc.Fault{Status: 0x721}, true, KindLogonFailure},
		{"bind_nak auth", bg, "bind", &dcerpc.BindNakError{Reason: dcerpc.NakReasonInvalidChecksum}, true, KindLogonFailure},
		{"bind_nak version", bg, "bind", &dcerpc.BindNakError{Reason: dcerpc.NakReasonProtocolVersionNotSupport}, true, KindProtocol},
		{"bind_nak no auth", bg, "bind", &dcerpc.BindNakError{}, false, KindProtocol},
		{"context rejected", bg, "bind", &dcerpc.ContextRejectedError{}, false, KindProtocol},
		{"auth error", bg, "bind", fmt.Errorf("%w: bad challenge", dcerpc.ErrAuth), true, KindLogonFailure},
		{"samba auth3 fault", bg, "NetrSessionEnum", fmt.Errorf("%w: answer for call_id 2, expected 3", dcerpc.ErrProtocol), true, KindLogonFailure},
		{"samba disconnect", bg, "NetrSessionEnum", io.EOF, true, KindLogonFailure},
		{"EOF later", bg, "NetrSessionEnum", io.ErrUnexpectedEOF, false, KindUnreachable},
		{"EOF at bind", bg, "bind", io.EOF, true, KindUnreachable},
		{"reset", bg, "NetrSessionEnum", syscall.ECONNRESET, false, KindUnreachable},
		{"refused", bg, "connect", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, KindUnreachable},
		{"not registered", bg, "connect", epm.ErrNotRegistered, false, KindUnreachable},
		{"deadline", bg, "bind", fmt.Errorf("x: %w", context.DeadlineExceeded), true, KindTimeout},
		{"stream deadline", bg, "NetrSessionEnum", os.ErrDeadlineExceeded, true, KindTimeout},
		{"canceled", canceled, "NetrSessionEnum", errors.New("use of closed connection"), true, KindCanceled},
		{"malformed", bg, "NetrSessionEnum", dcerpc.ErrMalformed, false, KindProtocol},
	}
	for _, tc := range tests {
		e := wrapError(tc.parent, tc.op, "srv", tc.err, tc.authed)
		if e.Kind != tc.want || !errors.Is(e, tc.err) && !errors.Is(e, context.Canceled) {
			t.Errorf("%s: kind %v, want %v (%v)", tc.name, e.Kind, tc.want, e)
		}
	}
	// An *Error passes through.
	orig := &Error{Kind: KindFault}
	if wrapError(bg, "x", "s", fmt.Errorf("w: %w", orig), false) != orig {
		t.Error("*Error rewrapped")
	}
	// Kind names and sentinels.
	for k := KindUnreachable; k <= KindProtocol; k++ {
		e := &Error{Kind: k, Status: session.StatusAccessDenied}
		if k.String() == "" || !errors.Is(e, &kindError{k}) || errors.Is(e, &kindError{k + 1}) {
			t.Errorf("kind %d", k)
		}
	}
	if Kind(99).String() != "kind(99)" {
		t.Error(Kind(99).String())
	}
}
