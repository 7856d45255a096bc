package wire

import "testing"

func TestStatusName(t *testing.T) {
	for _, tc := range []struct {
		s    uint32
		want string
	}{
		{0x00000000, "STATUS_SUCCESS"},
		{0x00000103, "STATUS_PENDING"},
		{0x80000005, "STATUS_BUFFER_OVERFLOW"},
		{0xC000006D, "STATUS_LOGON_FAILURE"},
		{0xC00000AE, "STATUS_PIPE_BUSY"},
		{0xC0000203, "STATUS_USER_SESSION_DELETED"},
		{0xC0000234, "STATUS_ACCOUNT_LOCKED_OUT"},
		{0xC0000001, ""},
		{0x12345678, ""},
	} {
		if got := StatusName(tc.s); got != tc.want {
			t.Errorf("StatusName(0x%08X) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
