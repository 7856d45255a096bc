package dcerpc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFaultErrorsMatch(t *testing.T) {
	tests := []struct {
		err    error
		target error
		want   bool
	}{
		{&Fault{Status: StatusBadStubData}, ErrBadStub, true},
		{&Fault{Status: StatusOpRangeError}, ErrOpRange, true},
		{&Fault{Status: StatusOpRangeError}, ErrBadStub, false},
		{fmt.Errorf("call: %w", &Fault{Status: 5}), &Fault{Status: 5}, true},
		{&Fault{Status: StatusBadStubData}, ErrBadStub, true},
		{&Fault{Status: 5}, &Fault{Status: 6}, false},
		{fmt.Errorf("x: %w", ErrBadStub), ErrBadStub, true},
		{errors.New("other"), ErrBadStub, false},
	}
	for i, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%d: errors.Is(%v, %v) = %v", i, tt.err, tt.target, got)
		}
	}
	for _, e := range []error{&Fault{Status: StatusUnknownInterface}, ErrOpRange, &Fault{Status: 0x1234}} {
		if !strings.HasPrefix(e.Error(), "dcerpc: ") || !strings.Contains(e.Error(), "0x") {
			t.Errorf("message %q", e.Error())
		}
	}
	if s := (&Fault{Status: StatusUnknownInterface}).Error(); !strings.Contains(s, "the RPC failed") || !strings.Contains(s, "nca_s_unknown_if") {
		t.Errorf("Fault message %q", s)
	}
}
