package directory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// xorSealer is a toy security context: it XORs with 0x5a and signs with
// the message length, enough to tell sealed bytes and a forged buffer.
type xorSealer struct{}

func (xorSealer) SignatureSize() int { return 4 }

func (xorSealer) SealWithin(msg []byte, lo, hi int) ([]byte, error) {
	for i := lo; i < hi; i++ {
		msg[i] ^= 0x5a
	}
	return binary.BigEndian.AppendUint32(nil, uint32(len(msg))), nil
}

func (xorSealer) UnsealWithin(msg []byte, lo, hi int, sig []byte) error {
	if binary.BigEndian.Uint32(sig) != uint32(len(msg)) {
		return errors.New("bad signature")
	}
	for i := lo; i < hi; i++ {
		msg[i] ^= 0x5a
	}
	return nil
}

func TestSASLConnRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ca := &saslConn{Conn: a, layer: sealerLayer{xorSealer{}}}
	msg := []byte("0\x0c\x02\x01\x01`\x07\x02\x01\x03\x04\x00\x80\x00")
	wire := make(chan []byte, 1)
	go func() {
		// What travels: the length, the signature, the sealed bytes.
		buf := make([]byte, 4+4+len(msg))
		io.ReadFull(b, buf)
		wire <- buf
	}()
	if _, err := ca.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := <-wire
	if binary.BigEndian.Uint32(got) != uint32(4+len(msg)) || bytes.Contains(got, msg) {
		t.Fatalf("wire %x carries the message in clear or a wrong length", got)
	}
	go b.Write(got)
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(ca, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("read back %q, %v", back, err)
	}
}

func readAll(t *testing.T, data []byte) error {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		b.Write(data)
		b.Close()
	}()
	c := &saslConn{Conn: a, layer: sealerLayer{xorSealer{}}}
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			return err
		}
	}
}

func TestSASLConnRefuses(t *testing.T) {
	for name, data := range map[string][]byte{
		"too long":         {0x7f, 0xff, 0xff, 0xff},
		"shorter than sig": {0, 0, 0, 2, 0, 0},
		"forged":           {0, 0, 0, 6, 0, 0, 0, 9, 'x', 'y'},
	} {
		if err := readAll(t, data); !errors.Is(err, ErrSASLLayer) {
			t.Errorf("%s: %v, want ErrSASLLayer", name, err)
		}
	}
}

func FuzzSASLConnRead(f *testing.F) {
	f.Add([]byte{0, 0, 0, 6, 0, 0, 0, 2, 'x', 'y'})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readAll(t, data)
		if err == nil {
			t.Fatal("reading to EOF gave no error")
		}
	})
}

// FuzzRawRecv feeds the pre-bind LDAP reader arbitrary responses: an error
// or a result, never a panic.
func FuzzRawRecv(f *testing.F) {
	// A BindResponse, success, with serverSaslCreds; and an
	// ExtendedResponse.
	f.Add([]byte{0x30, 0x10, 0x02, 0x01, 0x01, 0x61, 0x0b, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x87, 0x02, 0xa1, 0x00}, uint8(appBindResponse))
	f.Add([]byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00}, uint8(appExtendedResponse))
	f.Fuzz(func(t *testing.T, data []byte, app uint8) {
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			b.Write(data)
			b.Close()
		}()
		r := &rawLDAP{conn: a, id: 1}
		r.recv(ber.Tag(app))
	})
}
