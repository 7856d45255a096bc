package krb5

import (
	"bytes"
	"fmt"
)

// GSS-API token identifiers of the Kerberos mechanism (RFC 4121 section
// 4.1, RFC 1964 section 1.1).
const (
	TokenAPReq    uint16 = 0x0100 // KRB_AP_REQ
	TokenAPRep    uint16 = 0x0200 // KRB_AP_REP
	TokenKRBError uint16 = 0x0300 // KRB_ERROR
)

// DER encodings of the mechanism OIDs: 1.2.840.113554.1.2.2 (Kerberos 5)
// and 1.2.840.48018.1.2.2 (the one Microsoft's SPNEGO offers first, with
// the same tokens).
var (
	oidKRB5   = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	oidMSKRB5 = []byte{0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02}
)

// OIDKerberos and OIDMSKerberos are the dotted forms of the mechanism
// OIDs, as SPNEGO lists them.
const (
	OIDKerberos   = "1.2.840.113554.1.2.2"
	OIDMSKerberos = "1.2.840.48018.1.2.2"
)

// maxToken bounds what the framing accepts: a ticket with a large PAC is
// a few tens of kilobytes.
const maxToken = 1 << 20

// WrapToken frames a Kerberos message as a GSS-API mechanism token: the
// [APPLICATION 0] tag, the Kerberos OID, the two-byte token identifier and
// the message.
func WrapToken(tokID uint16, msg []byte) []byte {
	inner := len(oidKRB5) + 2 + 2 + len(msg)
	out := make([]byte, 0, 1+derLenSize(inner)+inner)
	out = append(out, 0x60)
	out = appendDERLen(out, inner)
	out = append(out, 0x06, byte(len(oidKRB5)))
	out = append(out, oidKRB5...)
	out = append(out, byte(tokID>>8), byte(tokID))
	return append(out, msg...)
}

// UnwrapToken parses a GSS-API mechanism token of the Kerberos mechanism
// (either OID) and returns its token identifier and the Kerberos message,
// which aliases b. The outer length must cover the token exactly.
func UnwrapToken(b []byte) (tokID uint16, msg []byte, err error) {
	if len(b) > maxToken {
		return 0, nil, fmt.Errorf("%w: GSS token of %d bytes", ErrMalformed, len(b))
	}
	if len(b) < 2 || b[0] != 0x60 {
		return 0, nil, fmt.Errorf("%w: not a GSS-API initial context token", ErrMalformed)
	}
	n, body, err := readDERLen(b[1:])
	if err != nil {
		return 0, nil, err
	}
	if n != len(body) {
		return 0, nil, fmt.Errorf("%w: GSS token length %d, %d bytes follow", ErrMalformed, n, len(body))
	}
	if len(body) < 2 || body[0] != 0x06 {
		return 0, nil, fmt.Errorf("%w: GSS token without a mechanism OID", ErrMalformed)
	}
	oidLen := int(body[1])
	if oidLen >= 0x80 || len(body) < 2+oidLen+2 {
		return 0, nil, fmt.Errorf("%w: GSS token OID", ErrMalformed)
	}
	oid := body[2 : 2+oidLen]
	if !bytes.Equal(oid, oidKRB5) && !bytes.Equal(oid, oidMSKRB5) {
		return 0, nil, fmt.Errorf("%w: GSS token of another mechanism", ErrMalformed)
	}
	rest := body[2+oidLen:]
	return uint16(rest[0])<<8 | uint16(rest[1]), rest[2:], nil
}

func derLenSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	case n < 0x10000:
		return 3
	case n < 0x1000000:
		return 4
	}
	return 5
}

func appendDERLen(b []byte, n int) []byte {
	switch k := derLenSize(n); k {
	case 1:
		return append(b, byte(n))
	default:
		b = append(b, 0x80|byte(k-1))
		for i := k - 2; i >= 0; i-- {
			b = append(b, byte(n>>(8*i)))
		}
		return b
	}
}

// readDERLen reads a definite DER length (at most four bytes of it) and
// returns it with the bytes after it.
func readDERLen(b []byte) (int, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: truncated length", ErrMalformed)
	}
	if b[0] < 0x80 {
		return int(b[0]), b[1:], nil
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 || len(b) < 1+k {
		return 0, nil, fmt.Errorf("%w: bad length encoding", ErrMalformed)
	}
	n := 0
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0x80 || n > maxToken || (k > 1 && b[1] == 0) {
		return 0, nil, fmt.Errorf("%w: non-minimal or oversized length", ErrMalformed)
	}
	return n, b[1+k:], nil
}
