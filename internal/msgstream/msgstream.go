// Package msgstream is test support: it reads a message-mode pipe as the
// byte stream a dcerpc.Client runs on, for the tests of the packages that
// call DCE/RPC over a named pipe or a message association. It imports
// nothing of this module, so every package's tests can use it.
package msgstream

// BufSize is the largest message a Stream takes in one piece, what
// Windows and go-smb2 read from a pipe at a time.
const BufSize = 65536

// Stream is a byte stream over a message-mode pipe: each Write is one
// message to the pipe, and a Read takes one whole message (up to BufSize)
// when the previous one is used up and hands it out in portions, as
// dcerpc.Client reads PDU headers and bodies separately.
type Stream struct {
	// Send writes one message.
	Send func(msg []byte) error
	// Recv reads the next message into buf and returns its length.
	Recv func(buf []byte) (int, error)
	// Transact, if set, writes a message and reads the answer's first
	// message into buf in one exchange (an SMB2 transceive). A Write is
	// then held and sent by the next Read through Transact, so a call
	// costs one round trip; a Write that follows a held one sends the
	// held one with Send first.
	Transact func(msg, buf []byte) (int, error)

	held []byte
	buf  []byte
	rd   []byte
}

// Write sends b as one message, or holds it for Transact.
func (s *Stream) Write(b []byte) (int, error) {
	if s.Transact == nil {
		if err := s.Send(b); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if s.held != nil {
		if err := s.Send(s.held); err != nil {
			return 0, err
		}
	}
	s.held = append([]byte(nil), b...)
	return len(b), nil
}

// Read hands out the current message, taking the next one (through
// Transact when a Write is held) once it is used up.
func (s *Stream) Read(b []byte) (int, error) {
	if len(s.rd) == 0 {
		if s.buf == nil {
			s.buf = make([]byte, BufSize)
		}
		var n int
		var err error
		if s.held != nil {
			n, err = s.Transact(s.held, s.buf)
			s.held = nil
		} else {
			n, err = s.Recv(s.buf)
		}
		if n == 0 {
			return 0, err
		}
		s.rd = s.buf[:n]
	}
	n := copy(b, s.rd)
	s.rd = s.rd[n:]
	return n, nil
}
