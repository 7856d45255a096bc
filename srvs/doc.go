// Package srvs implements the session part of MS-SRVS, the Server Service
// Remote Protocol (srvsvc interface 4b324fc8-1670-01d3-1278-5a47bf6ee188
// v3.0): the stub data of NetrSessionEnum (opnum 12) and NetrSessionDel
// (opnum 13), SESSION_INFO levels 0, 1, 2, 10 and 502.
//
// This file set is the codec: request and response types with exact
// sizes, encoders and tolerant, bounds-checked decoders. It knows nothing
// of PDUs (the dcerpc package carries the stubs) or of where sessions come
// from (the session package).
//
// # Shape of the API
//
// Every message type has the same four methods:
//
//	Size() int                              exact encoded size
//	AppendNDR(dst []byte) []byte            (responses also return an error)
//	MarshalNDR() []byte                     AppendNDR(nil)
//	UnmarshalNDR(b []byte) error            errors are *ndr.Error
//
// AppendNDR aligns relative to len(dst), so a caller can encode right
// after a PDU header in the same buffer. It computes Size first and grows
// dst at most once: a 100,000-entry level-502 response costs one
// allocation, or none when dst is big enough.
//
// Optional strings are *string: nil is a NULL pointer, new("") an empty
// string. They are different on the wire and a server may want to know
// (the protocol treats both as "no qualifier"). ResumeHandle is *uint32
// for the same reason: NULL means the caller keeps no resume state.
//
// All five levels share one entry type, SessionInfo, with the eight
// fields of SESSION_INFO_502; the level of the message decides which
// fields are on the wire. SessionInfo is an alias of session.Info, the
// session table's entry type, so a server puts the table's result slice
// into a response as it is (no per-entry copy, no per-level type
// switch), and a client reads the same struct whatever level answered.
//
// # Levels
//
// Level is carried once in InfoStruct and again as the union
// discriminant; a decoder rejects a discriminant different from Level
// (ndr.ErrMismatch). A level without a union arm decodes with an empty arm,
// as Samba's IDL (which has an empty default arm) does: Level,
// discriminant, and nothing else, so that a server can answer
// ERROR_INVALID_LEVEL (0x7C) in a normal response instead of a fault.
// Windows' own IDL has no default arm, and a Windows server probably
// faults instead; being able to decode is the friendlier choice, and the
// response for such a level has the same empty arm.
//
// # Responses on error
//
// A NetrSessionEnum response always has the full out-parameter layout,
// whatever the status: for a known level the container is echoed with
// EntriesRead 0 and a NULL Buffer; for an unknown level there is no arm.
// SessionEnumRequest.Response builds that skeleton from a request.
//
// # Sizes
//
// This package owns the wire layout of SESSION_INFO: a level's members
// (session.Level.Fields, in structure order) are four bytes each in the
// fixed part, a DWORD or a string's referent ID. EntrySize gives the NDR
// cost of one entry at a level: the fixed part (4, 24, 28, 16 or 32 bytes)
// plus, per string the level carries, ndr.StringSize: 12 bytes of header,
// 2 bytes per UTF-16 code unit including the NUL, rounded up to a
// multiple of 4. Its signature is session.EnumQuery.Size's: the Handler
// passes it to the table, which then spends PreferedMaximumLength in wire
// bytes without knowing anything of NDR. A response's size is 8 (Level and
// discriminant) + 12 (container pointer, EntriesRead, Buffer) + 4
// (max_count, when there are entries) + the entries + 12 (TotalEntries,
// ResumeHandle pointer, status) + 4 (resume value, when non-NULL).
//
// # Pointers and deferral
//
// Top-level unique pointers (the names, ResumeHandle) are followed at once
// by their pointee. Inside the InfoStruct, NDR defers pointees: the
// container pointer, then EntriesRead and the Buffer pointer, then the
// array's max_count, all elements' fixed parts, and only then the strings,
// element by element in field order. The encoder and decoder do this in
// two explicit passes over the entries instead of using a generic
// deferral queue (see package ndr). Encoders number referents from
// 0x00020000 in steps of 4 in wire order, like Windows and Samba; every
// string an entry's level carries is sent as a non-NULL pointer, with ""
// for empty.
//
// # Decoding policy
//
// Decoders accept what real peers send and reject what cannot be
// interpreted:
//
//   - any non-zero referent ID (impacket sends random ones) and
//     non-zero padding bytes;
//   - NULL or empty strings; a NULL string pointer inside an entry
//     decodes as "";
//   - a NULL container pointer (NoContainer) and a NULL resume handle;
//   - in a request, a container holding entries: they are fully
//     validated and then dropped, since the server ignores them; a NULL
//     Buffer with a non-zero EntriesRead is tolerated there;
//   - in a response, a non-NULL Buffer with zero entries (decoded as no
//     entries), but not a NULL Buffer with a non-zero EntriesRead;
//   - an array max_count must equal EntriesRead, and counts are checked
//     against the remaining bytes before allocation;
//   - strings follow the strict rules of package ndr (terminated, offset
//     0, actual <= max);
//   - bytes after the last parameter are ignored, as Samba does.
//
// A decoded value always re-encodes, and the re-encoding decodes to the
// same value; the fuzz targets check exactly that.
//
// # Paging on the client side
//
// Pager is the one loop over NetrSessionEnum pages: it follows the
// resume handle only while the server answers ERROR_MORE_DATA (Samba
// hands back a non-zero handle after a complete read), and it ends a walk
// that does not move on, a page with no entries and an unchanged handle,
// or one that passes MaxPages, with ErrNoProgress. EnumAll collects it;
// the client package drives it one call at a time, to stream entries and
// give each call its own deadline.
package srvs
