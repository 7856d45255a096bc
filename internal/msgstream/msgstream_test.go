package msgstream

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fakePipe is a message-mode pipe that answers each message with itself
// twice, as two messages, and counts the exchanges.
type fakePipe struct {
	out       [][]byte
	sends     int
	transacts int
}

func (p *fakePipe) send(m []byte) error {
	p.sends++
	p.out = append(p.out, bytes.Clone(m), bytes.Clone(m))
	return nil
}

func (p *fakePipe) recv(buf []byte) (int, error) {
	if len(p.out) == 0 {
		return 0, io.EOF
	}
	n := copy(buf, p.out[0])
	p.out = p.out[1:]
	return n, nil
}

func (p *fakePipe) transact(m, buf []byte) (int, error) {
	p.transacts++
	p.sends--
	p.send(m)
	return p.recv(buf)
}

func TestStream(t *testing.T) {
	for _, transact := range []bool{false, true} {
		p := &fakePipe{}
		s := &Stream{Send: p.send, Recv: p.recv}
		if transact {
			s.Transact = p.transact
		}
		if _, err := s.Write([]byte("first")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte("call")); err != nil {
			t.Fatal(err)
		}
		// Read in portions smaller and larger than the messages.
		var got []byte
		b := make([]byte, 3)
		for {
			n, err := s.Read(b)
			got = append(got, b[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if want := "firstfirstcallcall"; string(got) != want {
			t.Errorf("transact %v: read %q, want %q", transact, got, want)
		}
		if transact && (p.transacts != 1 || p.sends != 1) {
			t.Errorf("%d transacts and %d sends, want the first call sent and the second transacted", p.transacts, p.sends)
		}
	}
}
