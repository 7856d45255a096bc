// Package epm is a minimal DCE/RPC endpoint mapper (the ept interface,
// e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0) for ncacn_ip_tcp: the server
// side answers ept_map so that clients that ask port 135 first find the
// srvsvc port, and Map is the client side of the same question.
//
// # Towers
//
// A tower is a little-endian floor count followed by floors, each a
// little-endian left-hand-side length, the lhs (a protocol identifier, for a
// UUID floor followed by the UUID in NDR byte order and the little-endian
// major version), a little-endian right-hand-side length and the rhs. The
// ncacn_ip_tcp tower has five floors: interface UUID + version, transfer
// syntax (NDR 2.0), connection-oriented RPC (0x0b, minor version 0), TCP
// (0x07, port big-endian) and IP (0x09, IPv4 address in network order):
// 75 octets. DecodeFloors is a bounds-checked view over received octets: a
// lying floor count or length is an error wrapping ErrTower, never a panic
// or a large allocation (at most MaxFloors floors).
//
// # Decisions
//
//   - Only ept_map (opnum 3) and ept_lookup (opnum 2) are served; every
//     other operation is nca_s_op_rng_error. The endpoint list is fixed
//     when the server starts, so ept_insert and ept_delete have nothing to
//     do.
//   - The mapper keeps no lookup state. ept_map returns the zero entry
//     handle. ept_lookup returns every matching endpoint in its first
//     answer with a fixed non-zero handle; called with that handle it
//     answers no entries and EPT_S_NOT_REGISTERED, which ends a client's
//     loop, and the zero handle.
//   - The answer's IP floor carries the configured address, or 0.0.0.0
//     when the endpoint listens on every address or on IPv6; clients use
//     the port and keep the address they reached the mapper on.
//   - An object UUID in the request is ignored: the endpoints serve every
//     object.
//   - A match is by UUID and major version, with a requested minor version
//     not above the registered one, and only for the NDR 2.0 transfer
//     syntax over connection-oriented RPC and TCP; anything else is
//     EPT_S_NOT_REGISTERED with no towers, as are max_towers = 0.
package epm
