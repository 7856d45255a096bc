package spnego

import (
	"encoding/asn1"
)

// A minimal DER reader and writer for the SPNEGO tokens: definite lengths
// only, at most four length octets, every length checked against what is
// left. Tags are single octets, which is all SPNEGO uses.

type tlv struct {
	tag  byte
	full []byte // the whole element, tag and length included
	body []byte
}

// readTLV reads one element from b and returns it and the rest.
func readTLV(what string, b []byte) (tlv, []byte, error) {
	if len(b) < 2 {
		return tlv{}, nil, malformed(what, "truncated DER element")
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return tlv{}, nil, malformed(what, "multi-octet DER tag")
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 {
			return tlv{}, nil, malformed(what, "DER length with %d octets", k)
		}
		if len(b) < 2+k {
			return tlv{}, nil, malformed(what, "truncated DER length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if n < 0x80 || (k > 1 && b[2] == 0) {
			return tlv{}, nil, malformed(what, "non-minimal DER length")
		}
		hdr += k
	}
	if n > len(b)-hdr {
		return tlv{}, nil, malformed(what, "DER element of %d bytes with %d left", n, len(b)-hdr)
	}
	end := hdr + n
	return tlv{tag: tag, full: b[:end:end], body: b[hdr:end:end]}, b[end:], nil
}

// readOnly reads exactly one element filling b.
func readOnly(what string, b []byte, tag byte) (tlv, error) {
	t, rest, err := readTLV(what, b)
	if err != nil {
		return tlv{}, err
	}
	if t.tag != tag {
		return tlv{}, malformed(what, "DER tag 0x%02x, want 0x%02x", t.tag, tag)
	}
	if len(rest) != 0 {
		return tlv{}, malformed(what, "%d bytes after the DER element", len(rest))
	}
	return t, nil
}

// readFields reads a NegotiationToken choice (tag choice) holding a
// SEQUENCE of context-tagged fields [0]..[max], which must come in
// increasing order, each at most once, and calls field for each.
func readFields(what string, b []byte, choice byte, max int, field func(n int, f tlv) error) error {
	c, err := readOnly(what, b, choice)
	if err != nil {
		return err
	}
	seq, err := readOnly(what, c.body, 0x30)
	if err != nil {
		return err
	}
	last := -1
	for rest := seq.body; len(rest) > 0; {
		var f tlv
		if f, rest, err = readTLV(what, rest); err != nil {
			return err
		}
		n := int(f.tag) - 0xa0
		if n < 0 || n > max || n <= last {
			return malformed(what, "unexpected or repeated field tag 0x%02x", f.tag)
		}
		last = n
		if err := field(n, f); err != nil {
			return err
		}
	}
	return nil
}

func appendTLV(dst []byte, tag byte, body ...[]byte) []byte {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	dst = append(dst, tag)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	case n < 0x10000:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, b := range body {
		dst = append(dst, b...)
	}
	return dst
}

func tlvBytes(tag byte, body ...[]byte) []byte { return appendTLV(nil, tag, body...) }

func parseOID(what string, full []byte) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(full, &oid)
	if err != nil || len(rest) != 0 {
		return nil, malformed(what, "bad OBJECT IDENTIFIER")
	}
	// Keep only identifiers that encode back to the same bytes, so that
	// what we parse can always be marshalled again.
	if again, err := asn1.Marshal(oid); err != nil || string(again) != string(full) {
		return nil, malformed(what, "non-canonical OBJECT IDENTIFIER")
	}
	return oid, nil
}

func marshalOID(oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		panic("spnego: marshal OID: " + err.Error()) // only our constant OIDs get here
	}
	return b
}
