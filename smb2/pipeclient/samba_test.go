package pipeclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/ntstatus"
	"github.com/netsession/netsession/smb2/pipeclient"
)

func dialSamba(t *testing.T, p *sambapeer.Peer, opt pipeclient.Options) (*pipeclient.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", net.JoinHostPort(sambapeer.Host, strconv.Itoa(p.Port)))
	if err != nil {
		t.Fatal(err)
	}
	opt.Host = sambapeer.Host
	c, err := pipeclient.Dial(ctx, nc, opt)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

func sambaAdmin() *ntlm.Client {
	return &ntlm.Client{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword}
}

// TestSamba runs srvsvc over every dialect and signing algorithm against
// Samba, and the logons it refuses or maps to guest.
func TestSamba(t *testing.T) {
	sambapeer.Require(t)
	p := sambapeer.Start(t, sambapeer.Options{})
	tests := []struct {
		name     string
		dialects []uint16
		signAlgs []uint16
		wantAlg  uint16
	}{
		{"2.0.2", []uint16{pipeclient.Dialect202}, nil, pipeclient.SigningHMACSHA256},
		{"2.1", []uint16{pipeclient.Dialect210}, nil, pipeclient.SigningHMACSHA256},
		{"3.0", []uint16{pipeclient.Dialect300}, nil, pipeclient.SigningAESCMAC},
		{"3.0.2", []uint16{pipeclient.Dialect302}, nil, pipeclient.SigningAESCMAC},
		{"3.1.1 GMAC", nil, nil, pipeclient.SigningAESGMAC},
		{"3.1.1 CMAC", nil, []uint16{pipeclient.SigningAESCMAC}, pipeclient.SigningAESCMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dialSamba(t, p, pipeclient.Options{Auth: sambaAdmin(), Dialects: tt.dialects, SigningAlgorithms: tt.signAlgs})
			if err != nil {
				t.Fatal(err)
			}
			want := pipeclient.Dialect311
			if tt.dialects != nil {
				want = tt.dialects[0]
			}
			if c.Dialect() != want {
				t.Errorf("dialect %#x, want %#x", c.Dialect(), want)
			}
			if on, alg := c.Signing(); !on || alg != tt.wantAlg {
				t.Errorf("signing %v %d, want %d", on, alg, tt.wantAlg)
			}
			res := enumOver(t, c)
			found := false
			for _, e := range res.Entries {
				found = found || e.UserName == sambapeer.AdminUser
			}
			if !found {
				t.Errorf("our own session is not among %+v", res.Entries)
			}
			if err := c.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		_, err := dialSamba(t, p, pipeclient.Options{Auth: &ntlm.Client{User: sambapeer.AdminUser, Password: "wrong"}})
		var pe *pipeclient.Error
		if !errors.As(err, &pe) || pe.Status != ntstatus.LogonFailure {
			t.Errorf("%v, want STATUS_LOGON_FAILURE", err)
		}
	})
	for _, tc := range []struct {
		name string
		auth *ntlm.Client
	}{{"anonymous", &ntlm.Client{}}, {"guest", &ntlm.Client{User: "nsp_mistyped", Password: "x"}}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialSamba(t, p, pipeclient.Options{Auth: tc.auth})
			if err != nil {
				t.Fatal(err)
			}
			if !c.Guest() {
				t.Error("session not flagged guest or anonymous")
			}
			if on, _ := c.Signing(); on {
				t.Error("a session without keys signs")
			}
			if _, err := c.OpenPipe(context.Background(), "srvsvc"); err != nil {
				t.Fatal(err)
			}
			if _, err := dialSamba(t, p, pipeclient.Options{Auth: tc.auth, RequireSigning: true}); !errors.Is(err, pipeclient.ErrNoKeys) {
				t.Errorf("with signing required: %v, want ErrNoKeys", err)
			}
		})
	}
	t.Run("no such pipe", func(t *testing.T) {
		c, err := dialSamba(t, p, pipeclient.Options{Auth: sambaAdmin()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.OpenPipe(context.Background(), "nsp_nosuchpipe")
		var pe *pipeclient.Error
		if !errors.As(err, &pe) || pe.Status != ntstatus.ObjectNameNotFound {
			t.Errorf("%v, want STATUS_OBJECT_NAME_NOT_FOUND", err)
		}
	})
	t.Run("small transceive and reads", func(t *testing.T) {
		// An answer larger than the transceive's output: Samba says
		// STATUS_BUFFER_OVERFLOW and READs fetch the rest.
		c, err := dialSamba(t, p, pipeclient.Options{Auth: sambaAdmin()})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		pipe, err := c.OpenPipe(ctx, "srvsvc")
		if err != nil {
			t.Fatal(err)
		}
		bind := srvsvcBind()
		buf := make([]byte, 16)
		n, more, err := pipe.Transceive(ctx, bind, buf)
		if err != nil {
			t.Fatal(err)
		}
		if !more || n != 16 {
			t.Fatalf("%d bytes, more %v: want 16 and more", n, more)
		}
		if buf[2] != 12 {
			t.Fatalf("PDU type %d, want bind_ack", buf[2])
		}
		// Samba answers the READs of the rest with STATUS_SUCCESS until
		// the message is consumed, without flagging what remains: the
		// reader frames by content (frag_length here).
		// The READs ask for 200,000 bytes: a multi-credit request, whose
		// charge Samba checks.
		fragLen := int(le.Uint16(buf[8:]))
		got := n
		rest := make([]byte, 200000)
		for got < fragLen {
			n, _, err = pipe.Read(ctx, rest)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		if got != fragLen {
			t.Errorf("bind_ack of %d bytes, frag_length %d", got, fragLen)
		}
		// The pipe is at a message boundary: a whole exchange works.
		big := make([]byte, 65536)
		if n, more, err := pipe.Transceive(ctx, srvsvcBind(), big); err != nil || more || n < 16 || big[2] != 13 {
			t.Errorf("second bind: %d bytes, more %v, %v (a bind_nak is expected on a bound pipe)", n, more, err)
		}
	})
}

// srvsvcBind is a DCE/RPC bind PDU for srvsvc v3.0 with NDR, call id 1.
func srvsvcBind() []byte {
	b := []byte{5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0}
	b = le.AppendUint16(b, 4280)
	b = le.AppendUint16(b, 4280)
	b = le.AppendUint32(b, 0)
	b = append(b, 1, 0, 0, 0) // one context
	b = le.AppendUint16(b, 0) // context id
	b = append(b, 1, 0)       // one transfer syntax
	// srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0
	b = append(b, 0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88)
	b = le.AppendUint32(b, 3)
	// NDR 8a885d04-1ceb-11c9-9fe8-08002b104860 v2
	b = append(b, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60)
	b = le.AppendUint32(b, 2)
	return b
}

// TestSambaSealed: Samba requiring encryption, every cipher and the 3.0
// dialects; a guest is refused.
func TestSambaSealed(t *testing.T) {
	sambapeer.Require(t)
	p := sambapeer.Start(t, sambapeer.Options{ServerSigning: "mandatory", ServerEncrypt: "required", NoWarm: true})
	type tc struct {
		name     string
		dialects []uint16
		ciphers  []uint16
		want     uint16
	}
	tests := []tc{
		{"3.0", []uint16{pipeclient.Dialect300}, nil, pipeclient.CipherAES128CCM},
		{"3.0.2", []uint16{pipeclient.Dialect302}, nil, pipeclient.CipherAES128CCM},
	}
	for _, id := range []uint16{pipeclient.CipherAES128GCM, pipeclient.CipherAES128CCM, pipeclient.CipherAES256GCM, pipeclient.CipherAES256CCM} {
		tests = append(tests, tc{fmt.Sprintf("3.1.1 cipher %#x", id), nil, []uint16{id}, id})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dialSamba(t, p, pipeclient.Options{Auth: sambaAdmin(), Dialects: tt.dialects, Ciphers: tt.ciphers})
			if err != nil {
				t.Fatal(err)
			}
			if on, id := c.Encrypting(); !on || id != tt.want {
				t.Errorf("encryption %v %#x, want %#x", on, id, tt.want)
			}
			res := enumOver(t, c)
			if len(res.Entries) == 0 {
				t.Error("no sessions")
			}
		})
	}
	t.Run("2.1 cannot encrypt", func(t *testing.T) {
		_, err := dialSamba(t, p, pipeclient.Options{Auth: sambaAdmin(), Dialects: []uint16{pipeclient.Dialect210}})
		if err == nil {
			t.Fatal("a 2.1 session on a server requiring encryption")
		}
		t.Log(err)
	})
	t.Run("guest refused", func(t *testing.T) {
		if _, err := dialSamba(t, p, pipeclient.Options{Auth: &ntlm.Client{User: "nsp_mistyped", Password: "x"}}); err == nil {
			t.Fatal("guest accepted")
		}
	})
}
