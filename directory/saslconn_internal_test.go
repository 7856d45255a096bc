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

// TestSASLConnSplits: a write larger than the peer's maximum buffer goes
// out in several buffers, none larger than the maximum, and reads back
// whole.
func TestSASLConnSplits(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := &saslConn{Conn: a, layer: sealerLayer{xorSealer{}}, maxSend: 4 + 10}
	msg := bytes.Repeat([]byte("0123456789abcdef"), 5)
	go func() {
		w.Write(msg)
		a.Close()
	}()
	var sizes []uint32
	var wire bytes.Buffer
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(b, hdr[:]); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr[:])
		sizes = append(sizes, n)
		body := make([]byte, n)
		io.ReadFull(b, body)
		wire.Write(hdr[:])
		wire.Write(body)
	}
	if len(sizes) != 8 {
		t.Errorf("%d buffers (%v), want 8 of at most 14 bytes", len(sizes), sizes)
	}
	for _, n := range sizes {
		if n > 14 {
			t.Errorf("buffer of %d bytes over the maximum of 14", n)
		}
	}
	c, d := net.Pipe()
	defer c.Close()
	go func() {
		d.Write(wire.Bytes())
		d.Close()
	}()
	r := &saslConn{Conn: c, layer: sealerLayer{xorSealer{}}}
	back, err := io.ReadAll(r)
	if !bytes.Equal(back, msg) {
		t.Errorf("read back %q (%v)", back, err)
	}
	tiny := &saslConn{Conn: a, layer: sealerLayer{xorSealer{}}, maxSend: 4}
	if _, err := tiny.Write(msg); !errors.Is(err, ErrSASLLayer) {
		t.Errorf("buffers smaller than the signature: %v", err)
	}
}

// TestGSSAPIChoose: the client takes the layer it needs from the server's
// offer with its own maximum buffer, or refuses the offer.
func TestGSSAPIChoose(t *testing.T) {
	for _, tc := range []struct {
		want    byte
		offer   []byte
		choice  []byte
		maxSend int
	}{
		{layerConf, []byte{7, 1, 0, 0}, []byte{4, 0xff, 0xff, 0xff}, 65536},
		{layerIntegrity, []byte{6, 0, 0x10, 0}, []byte{2, 0xff, 0xff, 0xff}, 4096},
		{layerNone, []byte{7, 1, 0, 0}, []byte{1, 0, 0, 0}, 65536},
		{layerConf, []byte{3, 1, 0, 0}, nil, 0},
		{layerNone, []byte{6, 1, 0, 0}, nil, 0},
		{layerConf, []byte{4, 0, 0, 0}, nil, 0},
		{layerConf, []byte{7, 1, 0}, nil, 0},
		{layerConf, []byte{7, 1, 0, 0, 'x'}, nil, 0},
	} {
		g := &gssapiBind{want: tc.want}
		got, err := g.choose(tc.offer)
		if tc.choice == nil {
			if !errors.Is(err, ErrSecurityLayer) {
				t.Errorf("want %d, offer %x: %x, %v; want ErrSecurityLayer", tc.want, tc.offer, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.choice) || g.maxSend != tc.maxSend {
			t.Errorf("want %d, offer %x: %x (max %d), %v", tc.want, tc.offer, got, g.maxSend, err)
		}
	}
}
