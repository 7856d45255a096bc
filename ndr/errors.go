package ndr

import (
	"errors"
	"fmt"
)

// Sentinel causes carried by *Error. Test for them with errors.Is.
var (
	// ErrShort means the data ended before the item being read.
	ErrShort = errors.New("ndr: data too short")
	// ErrCount means a conformance or variance count is impossible: an
	// actual count above its maximum count, or an array or string that
	// would need more bytes than the data has left.
	ErrCount = errors.New("ndr: count out of bounds")
	// ErrOffset means a varying array or string has a non-zero offset.
	ErrOffset = errors.New("ndr: non-zero varying offset")
	// ErrUnterminated means a [string] has no terminating NUL as its last
	// code unit (this includes an actual count of zero).
	ErrUnterminated = errors.New("ndr: string not NUL-terminated")
	// ErrMismatch means two wire values that must agree do not, such as a
	// union discriminant and the field it switches on, or an array's
	// max_count and its size_is count.
	ErrMismatch = errors.New("ndr: inconsistent values")
)

// Error describes a decoding failure: where it happened, what was being
// read and why (one of the sentinel errors of this package).
type Error struct {
	// Offset is the byte offset, relative to the start of the stub, at
	// which the offending item starts.
	Offset int
	// What names the item, for example "uint32" or "string actual_count".
	What string
	// Err is the cause: ErrShort, ErrCount, ErrOffset, ErrUnterminated or
	// ErrMismatch.
	Err error
	// Detail optionally adds the values involved, for humans.
	Detail string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%v: %s at offset %d", e.Err, e.What, e.Offset)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Unwrap returns the sentinel cause.
func (e *Error) Unwrap() error { return e.Err }
