package smb2

import "github.com/netsession/netsession/ntstatus"

// Status is an NTSTATUS as carried in the SMB2 header: ntstatus.Status,
// an error that names itself.
type Status = ntstatus.Status

// The statuses this server sends, under the names the server code uses;
// the values and their names are package ntstatus's.
const (
	StatusSuccess                = ntstatus.Success
	StatusPending                = ntstatus.Pending
	StatusBufferOverflow         = ntstatus.BufferOverflow
	StatusNotImplemented         = ntstatus.NotImplemented
	StatusInvalidInfoClass       = ntstatus.InvalidInfoClass
	StatusInfoLengthMismatch     = ntstatus.InfoLengthMismatch
	StatusInvalidHandle          = ntstatus.InvalidHandle
	StatusInvalidParameter       = ntstatus.InvalidParameter
	StatusInvalidDeviceRequest   = ntstatus.InvalidDeviceRequest
	StatusMoreProcessingRequired = ntstatus.MoreProcessingRequired
	StatusAccessDenied           = ntstatus.AccessDenied
	StatusObjectNameInvalid      = ntstatus.ObjectNameInvalid
	StatusObjectNameNotFound     = ntstatus.ObjectNameNotFound
	StatusLogonFailure           = ntstatus.LogonFailure
	StatusInsufficientResources  = ntstatus.InsufficientResources
	StatusPipeNotAvailable       = ntstatus.PipeNotAvailable
	StatusPipeDisconnected       = ntstatus.PipeDisconnected
	StatusNotSupported           = ntstatus.NotSupported
	StatusNetworkNameDeleted     = ntstatus.NetworkNameDeleted
	StatusBadNetworkName         = ntstatus.BadNetworkName
	StatusRequestNotAccepted     = ntstatus.RequestNotAccepted
	StatusPipeEmpty              = ntstatus.PipeEmpty
	StatusCancelled              = ntstatus.Cancelled
	StatusFileClosed             = ntstatus.FileClosed
	StatusUserSessionDeleted     = ntstatus.UserSessionDeleted
	StatusAccountLockedOut       = ntstatus.AccountLockedOut
	StatusNotFound               = ntstatus.NotFound
)
