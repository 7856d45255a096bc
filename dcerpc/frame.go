package dcerpc

import (
	"encoding/binary"
	"fmt"
	"io"
)

// readFrame reads one PDU from r into buf (grown up to max), checking the
// header before it reads the body, so a lying frag_length never makes it
// allocate or wait for more than max octets. afterHeader, if not nil, runs
// between the header and the body (the server uses it to switch from the
// idle deadline to the read deadline).
func readFrame(r io.Reader, buf []byte, max int, afterHeader func(Header)) ([]byte, Header, error) {
	if cap(buf) < HeaderLen {
		buf = make([]byte, 0, 1024)
	}
	buf = buf[:HeaderLen]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, Header{}, err
	}
	h, err := ParseHeader(buf)
	if err != nil {
		return buf, h, err
	}
	if int(h.FragLength) > max {
		return buf, h, fmt.Errorf("%w: fragment of %d octets, limit %d", ErrTooLarge, h.FragLength, max)
	}
	if afterHeader != nil {
		afterHeader(h)
	}
	if cap(buf) < int(h.FragLength) {
		nb := make([]byte, h.FragLength, max)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:h.FragLength]
	if _, err := io.ReadFull(r, buf[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, h, err
	}
	return buf, h, nil
}

// peekBindVersion recognises a bind whose only fault is its version, so the
// server can answer it with a bind_nak instead of closing.
func peekBindVersion(b []byte) (callID uint32, ok bool) {
	if len(b) < HeaderLen || PType(b[2]) != PTypeBind {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[12:]), true
}
