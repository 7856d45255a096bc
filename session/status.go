package session

import "fmt"

// Status is a NET_API_STATUS: the 32-bit Win32 error or NERR code that
// NetSessionEnum, NetSessionGetInfo and NetSessionDel return, and that
// NetrSessionEnum / NetrSessionDel carry in the last four bytes of their
// response stub.
//
// Status implements error, so a failed query returns it directly and callers
// can test for a particular code with errors.Is(err, session.StatusAccessDenied)
// or recover it with errors.As. StatusSuccess and StatusMoreData are not
// failures; the table never returns them as errors.
type Status uint32

// The codes the session methods use (values as Windows and Samba define them).
const (
	StatusSuccess            Status = 0x00000000 // NERR_Success
	StatusAccessDenied       Status = 0x00000005 // ERROR_ACCESS_DENIED
	StatusNotEnoughMemory    Status = 0x00000008 // ERROR_NOT_ENOUGH_MEMORY
	StatusNotSupported       Status = 0x00000032 // ERROR_NOT_SUPPORTED
	StatusInvalidParameter   Status = 0x00000057 // ERROR_INVALID_PARAMETER
	StatusInvalidName        Status = 0x0000007B // ERROR_INVALID_NAME
	StatusInvalidLevel       Status = 0x0000007C // ERROR_INVALID_LEVEL
	StatusMoreData           Status = 0x000000EA // ERROR_MORE_DATA
	StatusBufTooSmall        Status = 0x0000084B // NERR_BufTooSmall
	StatusUserNotFound       Status = 0x000008AD // NERR_UserNotFound
	StatusNetNameNotFound    Status = 0x00000906 // NERR_NetNameNotFound
	StatusClientNameNotFound Status = 0x00000908 // NERR_ClientNameNotFound
	StatusInvalidComputer    Status = 0x0000092F // NERR_InvalidComputer
)

type statusText struct{ name, msg string }

// text is a switch rather than a map so the package holds no variables.
func (s Status) text() (statusText, bool) {
	switch s {
	case StatusSuccess:
		return statusText{"NERR_Success", "success"}, true
	case StatusAccessDenied:
		return statusText{"ERROR_ACCESS_DENIED", "access denied"}, true
	case StatusNotEnoughMemory:
		return statusText{"ERROR_NOT_ENOUGH_MEMORY", "not enough memory"}, true
	case StatusNotSupported:
		return statusText{"ERROR_NOT_SUPPORTED", "not supported"}, true
	case StatusInvalidParameter:
		return statusText{"ERROR_INVALID_PARAMETER", "invalid parameter"}, true
	case StatusInvalidName:
		return statusText{"ERROR_INVALID_NAME", "invalid name"}, true
	case StatusInvalidLevel:
		return statusText{"ERROR_INVALID_LEVEL", "invalid level"}, true
	case StatusMoreData:
		return statusText{"ERROR_MORE_DATA", "more data is available"}, true
	case StatusBufTooSmall:
		return statusText{"NERR_BufTooSmall", "buffer too small"}, true
	case StatusUserNotFound:
		return statusText{"NERR_UserNotFound", "user name not found"}, true
	case StatusNetNameNotFound:
		return statusText{"NERR_NetNameNotFound", "share name not found"}, true
	case StatusClientNameNotFound:
		return statusText{"NERR_ClientNameNotFound", "client name not found"}, true
	case StatusInvalidComputer:
		return statusText{"NERR_InvalidComputer", "invalid computer name"}, true
	}
	return statusText{}, false
}

// Statuses returns every code this package names, in ascending order.
func Statuses() []Status {
	return []Status{
		StatusSuccess, StatusAccessDenied, StatusNotEnoughMemory, StatusNotSupported,
		StatusInvalidParameter, StatusInvalidName, StatusInvalidLevel, StatusMoreData,
		StatusBufTooSmall, StatusUserNotFound, StatusNetNameNotFound,
		StatusClientNameNotFound, StatusInvalidComputer,
	}
}

// Name returns the symbolic name of s (ERROR_ACCESS_DENIED), or "" when the
// code is not one this package knows.
func (s Status) Name() string {
	t, _ := s.text()
	return t.name
}

// Message returns a short lower-case description of s.
func (s Status) Message() string {
	if t, ok := s.text(); ok {
		return t.msg
	}
	return "unknown status"
}

// Error formats s as "access denied (ERROR_ACCESS_DENIED, 5)"; an unknown code
// reads "status 0x00001234 (4660)".
func (s Status) Error() string {
	if t, ok := s.text(); ok {
		return fmt.Sprintf("%s (%s, %d)", t.msg, t.name, uint32(s))
	}
	return fmt.Sprintf("status 0x%08X (%d)", uint32(s), uint32(s))
}

// OK reports whether s is a success code (NERR_Success or ERROR_MORE_DATA).
func (s Status) OK() bool { return s == StatusSuccess || s == StatusMoreData }
