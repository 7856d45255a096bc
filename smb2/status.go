package smb2

import "fmt"

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
	StatusNotFound               Status = 0xC0000225
)

// String returns the symbolic name, or the hexadecimal value.
func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "STATUS_SUCCESS"
	case StatusPending:
		return "STATUS_PENDING"
	case StatusBufferOverflow:
		return "STATUS_BUFFER_OVERFLOW"
	case StatusNotImplemented:
		return "STATUS_NOT_IMPLEMENTED"
	case StatusInvalidInfoClass:
		return "STATUS_INVALID_INFO_CLASS"
	case StatusInfoLengthMismatch:
		return "STATUS_INFO_LENGTH_MISMATCH"
	case StatusInvalidHandle:
		return "STATUS_INVALID_HANDLE"
	case StatusInvalidParameter:
		return "STATUS_INVALID_PARAMETER"
	case StatusInvalidDeviceRequest:
		return "STATUS_INVALID_DEVICE_REQUEST"
	case StatusMoreProcessingRequired:
		return "STATUS_MORE_PROCESSING_REQUIRED"
	case StatusAccessDenied:
		return "STATUS_ACCESS_DENIED"
	case StatusObjectNameInvalid:
		return "STATUS_OBJECT_NAME_INVALID"
	case StatusObjectNameNotFound:
		return "STATUS_OBJECT_NAME_NOT_FOUND"
	case StatusLogonFailure:
		return "STATUS_LOGON_FAILURE"
	case StatusInsufficientResources:
		return "STATUS_INSUFFICIENT_RESOURCES"
	case StatusPipeNotAvailable:
		return "STATUS_PIPE_NOT_AVAILABLE"
	case StatusPipeDisconnected:
		return "STATUS_PIPE_DISCONNECTED"
	case StatusNotSupported:
		return "STATUS_NOT_SUPPORTED"
	case StatusNetworkNameDeleted:
		return "STATUS_NETWORK_NAME_DELETED"
	case StatusBadNetworkName:
		return "STATUS_BAD_NETWORK_NAME"
	case StatusRequestNotAccepted:
		return "STATUS_REQUEST_NOT_ACCEPTED"
	case StatusPipeEmpty:
		return "STATUS_PIPE_EMPTY"
	case StatusCancelled:
		return "STATUS_CANCELLED"
	case StatusFileClosed:
		return "STATUS_FILE_CLOSED"
	case StatusUserSessionDeleted:
		return "STATUS_USER_SESSION_DELETED"
	case StatusNotFound:
		return "STATUS_NOT_FOUND"
	}
	return fmt.Sprintf("NTSTATUS 0x%08X", uint32(s))
}

// Error makes a Status usable as an error.
func (s Status) Error() string { return s.String() }
