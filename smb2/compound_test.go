package smb2_test

import (
	"testing"

	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// chain pads and links signed messages into one compounded frame.
func (c *rawClient) chain(msgs ...[]byte) []byte {
	var out []byte
	for i, m := range msgs {
		if i < len(msgs)-1 {
			for len(m)%8 != 0 {
				m = append(m, 0)
			}
			le.PutUint32(m[20:], uint32(len(m)))
		}
		if c.signer != nil && le.Uint64(m[40:]) == c.sid {
			c.signer.Sign(m)
		}
		out = append(out, m...)
	}
	return out
}

// Unrelated compounded requests are each processed on their own: a
// failure in the chain (an unknown session, a share that is not IPC$)
// does not spill over to the requests after it, and every answer comes
// back in one chained, individually signed response.
func TestCompoundUnrelated(t *testing.T) {
	f := newFixture(t)
	c := dialRaw(t, f.addr)
	c.login("alice", "AlicePass1")
	first := c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`))
	other := c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\C$`))
	stranger := c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`))
	le.PutUint64(stranger[40:], c.sid+1000)
	ipc := c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`))
	frame := c.chain(first, other, stranger, ipc)
	if err := c.sendFrame(frame); err != nil {
		t.Fatal(err)
	}
	resp, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		cmd    uint16
		status smb2.Status
		signed bool
	}{
		{wire.CmdTreeConnect, smb2.StatusSuccess, true},
		{wire.CmdTreeConnect, smb2.StatusBadNetworkName, true},
		{wire.CmdTreeConnect, smb2.StatusUserSessionDeleted, false},
		{wire.CmdTreeConnect, smb2.StatusSuccess, true},
	}
	for i, w := range want {
		h, err := wire.ParseHeader(resp)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if (h.NextCommand == 0) != (i == len(want)-1) {
			t.Fatalf("answer %d: NextCommand %d", i, h.NextCommand)
		}
		r := resp
		if h.NextCommand != 0 {
			r, resp = resp[:h.NextCommand], resp[h.NextCommand:]
		}
		if h.Command != w.cmd || smb2.Status(h.Status) != w.status || h.MessageID != uint64(i)+c.mid-4 {
			t.Errorf("answer %d: command %d status %v mid %d, want %d %v", i, h.Command, smb2.Status(h.Status), h.MessageID, w.cmd, w.status)
		}
		if signed := h.Flags&wire.FlagSigned != 0; signed != w.signed {
			t.Errorf("answer %d signed %v, want %v", i, signed, w.signed)
		} else if signed {
			if err := c.signer.Verify(r); err != nil {
				t.Errorf("answer %d: %v", i, err)
			}
		}
	}
}
