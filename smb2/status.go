package smb2

import (
	"fmt"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// Status is an NTSTATUS as carried in the SMB2 header.
type Status uint32

// The statuses this server sends.
const (
	StatusSuccess                Status = 0x00000000
	StatusPending                Status = 0x00000103
	StatusBufferOverflow         Status = 0x80000005
	StatusNotImplemented         Status = 0xC0000002
	StatusInvalidInfoClass       Status = 0xC0000003
	StatusInfoLengthMismatch     Status = 0xC0000004
	StatusInvalidHandle          Status = 0xC0000008
	StatusInvalidParameter       Status = 0xC000000D
	StatusInvalidDeviceRequest   Status = 0xC0000010
	StatusMoreProcessingRequired Status = 0xC0000016
	StatusAccessDenied           Status = 0xC0000022
	StatusObjectNameInvalid      Status = 0xC0000033
	StatusObjectNameNotFound     Status = 0xC0000034
	StatusLogonFailure           Status = 0xC000006D
	StatusInsufficientResources  Status = 0xC000009A
	StatusPipeNotAvailable       Status = 0xC00000AC
	StatusPipeDisconnected       Status = 0xC00000B0
	StatusNotSupported           Status = 0xC00000BB
	StatusNetworkNameDeleted     Status = 0xC00000C9
	StatusBadNetworkName         Status = 0xC00000CC
	StatusRequestNotAccepted     Status = 0xC00000D0
	StatusPipeEmpty              Status = 0xC00000D9
	StatusCancelled              Status = 0xC0000120
	StatusFileClosed             Status = 0xC0000128
	StatusUserSessionDeleted     Status = 0xC0000203
	StatusAccountLockedOut       Status = 0xC0000234
	StatusNotFound               Status = 0xC0000225
)

// String returns the symbolic name, or the hexadecimal value.
func (s Status) String() string {
	if n := wire.StatusName(uint32(s)); n != "" {
		return n
	}
	return fmt.Sprintf("NTSTATUS 0x%08X", uint32(s))
}

// Error makes a Status usable as an error.
func (s Status) Error() string { return s.String() }
