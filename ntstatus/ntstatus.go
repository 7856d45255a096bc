// Package ntstatus is the NTSTATUS type (MS-ERREF 2.3): the 32-bit status
// an SMB2 response header carries, defined once for the server (smb2), the
// client (smb2/pipeclient) and the code that classifies the client's
// failures (client). A Status is an error that names itself, so a failed
// SMB step can return it and callers can match it with errors.Is.
package ntstatus

import "fmt"

// Status is an NTSTATUS value.
type Status uint32

// IsError reports whether s has error severity (the top two bits set).
func (s Status) IsError() bool { return uint32(s)>>30 == 3 }

// String returns the symbolic name, or "NTSTATUS 0x%08X" for a value
// without one.
func (s Status) String() string {
	if n := s.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("NTSTATUS 0x%08X", uint32(s))
}

// Error makes a Status usable as an error; it is String.
func (s Status) Error() string { return s.String() }
