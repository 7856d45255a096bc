package ntstatus

// The statuses this module sends, acts on or names (values as MS-ERREF
// 2.3.1 defines them).
const (
	Success                Status = 0x00000000 // STATUS_SUCCESS
	Pending                Status = 0x00000103 // STATUS_PENDING
	BufferOverflow         Status = 0x80000005 // STATUS_BUFFER_OVERFLOW
	NotImplemented         Status = 0xC0000002 // STATUS_NOT_IMPLEMENTED
	InvalidInfoClass       Status = 0xC0000003 // STATUS_INVALID_INFO_CLASS
	InfoLengthMismatch     Status = 0xC0000004 // STATUS_INFO_LENGTH_MISMATCH
	InvalidHandle          Status = 0xC0000008 // STATUS_INVALID_HANDLE
	InvalidParameter       Status = 0xC000000D // STATUS_INVALID_PARAMETER
	InvalidDeviceRequest   Status = 0xC0000010 // STATUS_INVALID_DEVICE_REQUEST
	MoreProcessingRequired Status = 0xC0000016 // STATUS_MORE_PROCESSING_REQUIRED
	AccessDenied           Status = 0xC0000022 // STATUS_ACCESS_DENIED
	ObjectNameInvalid      Status = 0xC0000033 // STATUS_OBJECT_NAME_INVALID
	ObjectNameNotFound     Status = 0xC0000034 // STATUS_OBJECT_NAME_NOT_FOUND
	ObjectPathNotFound     Status = 0xC000003A // STATUS_OBJECT_PATH_NOT_FOUND
	NoSuchUser             Status = 0xC0000064 // STATUS_NO_SUCH_USER
	WrongPassword          Status = 0xC000006A // STATUS_WRONG_PASSWORD
	LogonFailure           Status = 0xC000006D // STATUS_LOGON_FAILURE
	AccountRestriction     Status = 0xC000006E // STATUS_ACCOUNT_RESTRICTION
	InvalidLogonHours      Status = 0xC000006F // STATUS_INVALID_LOGON_HOURS
	InvalidWorkstation     Status = 0xC0000070 // STATUS_INVALID_WORKSTATION
	PasswordExpired        Status = 0xC0000071 // STATUS_PASSWORD_EXPIRED
	AccountDisabled        Status = 0xC0000072 // STATUS_ACCOUNT_DISABLED
	InsufficientResources  Status = 0xC000009A // STATUS_INSUFFICIENT_RESOURCES
	PipeNotAvailable       Status = 0xC00000AC // STATUS_PIPE_NOT_AVAILABLE
	PipeBusy               Status = 0xC00000AE // STATUS_PIPE_BUSY
	PipeDisconnected       Status = 0xC00000B0 // STATUS_PIPE_DISCONNECTED
	NotSupported           Status = 0xC00000BB // STATUS_NOT_SUPPORTED
	NetworkNameDeleted     Status = 0xC00000C9 // STATUS_NETWORK_NAME_DELETED
	NetworkAccessDenied    Status = 0xC00000CA // STATUS_NETWORK_ACCESS_DENIED
	BadNetworkName         Status = 0xC00000CC // STATUS_BAD_NETWORK_NAME
	RequestNotAccepted     Status = 0xC00000D0 // STATUS_REQUEST_NOT_ACCEPTED
	PipeEmpty              Status = 0xC00000D9 // STATUS_PIPE_EMPTY
	Cancelled              Status = 0xC0000120 // STATUS_CANCELLED
	FileClosed             Status = 0xC0000128 // STATUS_FILE_CLOSED
	PipeBroken             Status = 0xC000014B // STATUS_PIPE_BROKEN
	LogonTypeNotGranted    Status = 0xC000015B // STATUS_LOGON_TYPE_NOT_GRANTED
	AccountExpired         Status = 0xC0000193 // STATUS_ACCOUNT_EXPIRED
	FSDriverRequired       Status = 0xC000019C // STATUS_FS_DRIVER_REQUIRED
	UserSessionDeleted     Status = 0xC0000203 // STATUS_USER_SESSION_DELETED
	PasswordMustChange     Status = 0xC0000224 // STATUS_PASSWORD_MUST_CHANGE
	NotFound               Status = 0xC0000225 // STATUS_NOT_FOUND
	AccountLockedOut       Status = 0xC0000234 // STATUS_ACCOUNT_LOCKED_OUT
)

// Name returns the symbolic name of s ("STATUS_LOGON_FAILURE"), or "" for
// a value this package does not name.
func (s Status) Name() string {
	switch s {
	case Success:
		return "STATUS_SUCCESS"
	case Pending:
		return "STATUS_PENDING"
	case BufferOverflow:
		return "STATUS_BUFFER_OVERFLOW"
	case NotImplemented:
		return "STATUS_NOT_IMPLEMENTED"
	case InvalidInfoClass:
		return "STATUS_INVALID_INFO_CLASS"
	case InfoLengthMismatch:
		return "STATUS_INFO_LENGTH_MISMATCH"
	case InvalidHandle:
		return "STATUS_INVALID_HANDLE"
	case InvalidParameter:
		return "STATUS_INVALID_PARAMETER"
	case InvalidDeviceRequest:
		return "STATUS_INVALID_DEVICE_REQUEST"
	case MoreProcessingRequired:
		return "STATUS_MORE_PROCESSING_REQUIRED"
	case AccessDenied:
		return "STATUS_ACCESS_DENIED"
	case ObjectNameInvalid:
		return "STATUS_OBJECT_NAME_INVALID"
	case ObjectNameNotFound:
		return "STATUS_OBJECT_NAME_NOT_FOUND"
	case ObjectPathNotFound:
		return "STATUS_OBJECT_PATH_NOT_FOUND"
	case NoSuchUser:
		return "STATUS_NO_SUCH_USER"
	case WrongPassword:
		return "STATUS_WRONG_PASSWORD"
	case LogonFailure:
		return "STATUS_LOGON_FAILURE"
	case AccountRestriction:
		return "STATUS_ACCOUNT_RESTRICTION"
	case InvalidLogonHours:
		return "STATUS_INVALID_LOGON_HOURS"
	case InvalidWorkstation:
		return "STATUS_INVALID_WORKSTATION"
	case PasswordExpired:
		return "STATUS_PASSWORD_EXPIRED"
	case AccountDisabled:
		return "STATUS_ACCOUNT_DISABLED"
	case InsufficientResources:
		return "STATUS_INSUFFICIENT_RESOURCES"
	case PipeNotAvailable:
		return "STATUS_PIPE_NOT_AVAILABLE"
	case PipeBusy:
		return "STATUS_PIPE_BUSY"
	case PipeDisconnected:
		return "STATUS_PIPE_DISCONNECTED"
	case NotSupported:
		return "STATUS_NOT_SUPPORTED"
	case NetworkNameDeleted:
		return "STATUS_NETWORK_NAME_DELETED"
	case NetworkAccessDenied:
		return "STATUS_NETWORK_ACCESS_DENIED"
	case BadNetworkName:
		return "STATUS_BAD_NETWORK_NAME"
	case RequestNotAccepted:
		return "STATUS_REQUEST_NOT_ACCEPTED"
	case PipeEmpty:
		return "STATUS_PIPE_EMPTY"
	case Cancelled:
		return "STATUS_CANCELLED"
	case FileClosed:
		return "STATUS_FILE_CLOSED"
	case PipeBroken:
		return "STATUS_PIPE_BROKEN"
	case LogonTypeNotGranted:
		return "STATUS_LOGON_TYPE_NOT_GRANTED"
	case AccountExpired:
		return "STATUS_ACCOUNT_EXPIRED"
	case FSDriverRequired:
		return "STATUS_FS_DRIVER_REQUIRED"
	case UserSessionDeleted:
		return "STATUS_USER_SESSION_DELETED"
	case PasswordMustChange:
		return "STATUS_PASSWORD_MUST_CHANGE"
	case NotFound:
		return "STATUS_NOT_FOUND"
	case AccountLockedOut:
		return "STATUS_ACCOUNT_LOCKED_OUT"
	}
	return ""
}
