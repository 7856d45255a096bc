package directory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadSID is in the chain of the error for a binary SID that cannot be
// decoded.
var ErrBadSID = errors.New("directory: malformed SID")

// maxSubAuthorities is the most sub-authorities a SID may carry (MS-DTYP
// 2.4.2.2).
const maxSubAuthorities = 15

// DecodeSID renders a binary SID (objectSid) as its string form, S-1-5-21-...
// It checks the length against the sub-authority count and refuses trailing
// bytes.
func DecodeSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("%w: %d bytes, want at least 8", ErrBadSID, len(b))
	}
	if b[0] != 1 {
		return "", fmt.Errorf("%w: revision %d", ErrBadSID, b[0])
	}
	n := int(b[1])
	if n > maxSubAuthorities {
		return "", fmt.Errorf("%w: %d sub-authorities", ErrBadSID, n)
	}
	if len(b) != 8+4*n {
		return "", fmt.Errorf("%w: %d bytes for %d sub-authorities", ErrBadSID, len(b), n)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-1-")
	if auth >= 1<<32 {
		fmt.Fprintf(&sb, "0x%012X", auth)
	} else {
		sb.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := range n {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}

// EncodeSID is the inverse of DecodeSID for the decimal form (S-1-N-...), as
// an LDAP filter needs it to match objectSid.
func EncodeSID(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") || parts[1] != "1" {
		return nil, fmt.Errorf("%w: %q", ErrBadSID, s)
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: authority", ErrBadSID, s)
	}
	subs := parts[3:]
	if len(subs) > maxSubAuthorities {
		return nil, fmt.Errorf("%w: %q: too many sub-authorities", ErrBadSID, s)
	}
	b := make([]byte, 8, 8+4*len(subs))
	b[0], b[1] = 1, byte(len(subs))
	for i := 7; i >= 2; i-- {
		b[i] = byte(auth)
		auth >>= 8
	}
	for _, p := range subs {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: sub-authority %q", ErrBadSID, s, p)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b, nil
}
