// Package ndr implements the parts of NDR 2.0 (Network Data
// Representation, transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860
// v2) that the session interfaces need: little-endian primitives,
// alignment, unique pointers and conformant-varying UTF-16 strings. It
// works on stub data only; PDUs, fragments and headers belong to the
// DCE/RPC layer.
//
// # Writing
//
// A Writer appends to a caller's slice. Alignment is relative to where
// the stub starts in that slice, so a PDU header may precede it. Encoders
// are expected to compute their exact size first (StringSize and
// StringUnits make that cheap) and hand the Writer a slice with that
// capacity; writing then allocates nothing.
//
// Referent IDs of unique pointers come from a per-Writer sequence
// starting at DefaultReferentBase (0x00020000) and stepping by 4, as
// Windows and Samba number them; SetReferentBase changes the start. A
// NULL pointer takes no ID. The values mean nothing to a receiver, which
// is why tests compare encodings after mapping every non-zero ID to a
// canonical sequence.
//
// # Reading
//
// A Reader is a bounds-checked view over received bytes. Every read
// returns an *Error carrying the offset, the item and a sentinel cause
// (ErrShort, ErrCount, ErrOffset, ErrUnterminated, ErrMismatch) for use
// with errors.Is. Counts taken from the wire are checked against the
// bytes that remain before anything is allocated (CheckCount, MaxCount,
// and String itself), so a lying count costs an error, not memory.
// Padding is skipped without checking that it is zero: impacket, for one,
// pads with 0xAA.
//
// # Strings
//
// String and its writer counterpart handle [string] wchar_t* pointees:
// max_count, offset, actual_count, then actual_count UTF-16LE code units
// that include the terminating NUL. The decoder is strict where the
// encoding is unambiguous and lenient where Windows itself is:
//
//   - offset must be 0 (ErrOffset);
//   - actual_count must not exceed max_count (ErrCount); a max_count
//     larger than actual_count is legal NDR and accepted;
//   - the code units must all be present (ErrShort), checked before any
//     allocation;
//   - the last code unit must be NUL, so actual_count is at least 1
//     (ErrUnterminated). Every peer seen (Windows, Samba, impacket,
//     go-msrpc) terminates its strings; a string without a terminator is
//     malformed and rejecting it avoids guessing.
//   - the value ends at the first NUL, which is what a C receiver sees;
//   - unpaired surrogates decode to U+FFFD rather than failing, so a
//     decoded value always re-encodes and decodes to itself.
//
// The encoder writes max_count = actual_count, as Windows does, turns
// characters outside the BMP into surrogate pairs and invalid UTF-8
// bytes into U+FFFD, and leaves the padding after a string to the next
// item, which aligns itself.
//
// The number of UTF-16 code units a Go string encodes to is counted in
// one place, StringUnits. The srvs codec sizes SESSION_INFO entries with
// StringSize, and the session table pages by those sizes, so the budget a
// client asks for and the bytes it receives never disagree. This package
// imports nothing else of the module: it is the bottom of the RPC stack.
//
// # Deferred pointees
//
// NDR writes the pointee of an embedded pointer only after the enclosing
// top-level parameter's scalars: for an array of structures holding
// string pointers, all the structures' fixed parts come first, then the
// strings of element 0 in field order, then those of element 1, and so
// on. Top-level unique pointers (UniqueString) are followed at once by
// their pointee.
//
// This package offers no deferral queue. The structures that use
// deferral here are shallow and fixed, and a queue of closures or
// interface values would cost an allocation per pointer on hot paths.
// Instead an encoder makes two passes over its elements: one writing
// scalars and referent IDs, one writing the strings of the non-NULL
// pointers. A decoder does the same, and in its second pass re-reads the
// referent IDs from the already-validated fixed parts to learn which
// strings follow, which needs no per-element bookkeeping.
package ndr
