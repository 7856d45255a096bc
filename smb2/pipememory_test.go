package smb2_test

import (
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
	"github.com/netsession/netsession/srvs"
)

// openBound opens one more srvsvc pipe on c's session and binds it.
func openBound(t *testing.T, c *rawClient) []byte {
	t.Helper()
	st, body, err := c.do(c.build(wire.CmdCreate, createBody("srvsvc")), true)
	if err != nil || st != 0 {
		t.Fatalf("create: %v %v", st, err)
	}
	fid := body[64:80]
	if st, _, err := c.do(c.build(wire.CmdIoctl, transceiveBody(fid, srvsvcBind())), true); err != nil || st != 0 {
		t.Fatalf("bind transceive: %v %v", st, err)
	}
	return fid
}

// firstFragment is the first fragment of a request that announces 64 KiB
// and never ends: the server sets 64 KiB aside for it.
func firstFragment(t *testing.T) []byte {
	t.Helper()
	b, err := dcerpc.Marshal(&dcerpc.Request{Header: dcerpc.Header{Flags: dcerpc.FlagFirstFrag, CallID: 2},
		AllocHint: 64 << 10, Opnum: srvs.OpNetrSessionEnum, Stub: make([]byte, 4000)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The pipes of one session, and of one connection, hold together at most
// MaxSessionPipeMemory and MaxConnPipeMemory (passed by at most what one
// write makes the server set aside): unfinished requests on sixteen pipes
// are refused with STATUS_INSUFFICIENT_RESOURCES once the bound is
// reached, and a well-behaved client is still served.
func TestPipeMemoryBounded(t *testing.T) {
	const bound = 256 << 10
	for _, tc := range []struct {
		name string
		set  func(s *smb2.Server)
	}{
		{"session", func(s *smb2.Server) { s.Limits.MaxSessionPipeMemory = bound }},
		{"connection", func(s *smb2.Server) { s.Limits.MaxConnPipeMemory = bound }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.set)
			c, fid := openPipe(t, f, "bob", "BobPass1", "srvsvc")
			if st, _, err := c.do(c.build(wire.CmdIoctl, transceiveBody(fid, srvsvcBind())), true); err != nil || st != 0 {
				t.Fatalf("bind transceive: %v %v", st, err)
			}
			fids := [][]byte{fid}
			for range 15 {
				fids = append(fids, openBound(t, c))
			}
			frag := firstFragment(t)
			refused := 0
			for _, fid := range fids {
				st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, frag, 0)), true)
				switch {
				case err != nil:
					t.Fatal(err)
				case st == smb2.StatusInsufficientResources:
					refused++
				case st != smb2.StatusSuccess:
					t.Fatalf("write: %v", st)
				}
			}
			held := f.rpc.BufferedRequestBytes()
			if held > bound+64<<10 {
				t.Errorf("16 pipes hold %d KiB of unfinished requests, want at most %d KiB", held>>10, (bound+64<<10)>>10)
			}
			if refused == 0 {
				t.Error("no write refused")
			}
			t.Logf("held %d KiB, %d writes refused", held>>10, refused)
			f.served(t)
		})
	}
}

// A pipe with nothing in flight for PipeIdleTimeout is closed; one the
// client keeps using stays open.
func TestPipeIdleTimeout(t *testing.T) {
	f := newFixture(t, func(s *smb2.Server) { s.Timeouts.PipeIdle = 300 * time.Millisecond })
	c, idle := openPipe(t, f, "bob", "BobPass1", "srvsvc")
	busy := openBound(t, c)
	for range 8 {
		time.Sleep(100 * time.Millisecond)
		if st, _, err := c.do(c.build(wire.CmdQueryInfo, queryInfoBody(wire.FileStandardInformation, busy)), true); err != nil || st != 0 {
			t.Fatalf("query info on the busy pipe: %v %v", st, err)
		}
	}
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(idle, []byte("late"), 0)), true); err != nil || st != smb2.StatusFileClosed {
		t.Fatalf("write on the idle pipe: %v %v, want STATUS_FILE_CLOSED", st, err)
	}
	if st, _, err := c.do(c.build(wire.CmdQueryInfo, queryInfoBody(wire.FileStandardInformation, busy)), true); err != nil || st != 0 {
		t.Fatalf("query info on the busy pipe: %v %v", st, err)
	}
}

// An unfinished request on an inline pipe is dropped at the DCE/RPC
// server's reassembly deadline, with no further write: its memory is
// given back and the pipe is ended.
func TestPipePartialRequestExpires(t *testing.T) {
	f := newFixture(t)
	f.rpc.Timeouts.Reassembly = 200 * time.Millisecond
	c, fid := openPipe(t, f, "bob", "BobPass1", "srvsvc")
	if st, _, err := c.do(c.build(wire.CmdIoctl, transceiveBody(fid, srvsvcBind())), true); err != nil || st != 0 {
		t.Fatalf("bind transceive: %v %v", st, err)
	}
	if st, _, err := c.do(c.build(wire.CmdWrite, writeBody(fid, firstFragment(t), 0)), true); err != nil || st != 0 {
		t.Fatalf("write: %v %v", st, err)
	}
	if f.rpc.BufferedRequestBytes() == 0 {
		t.Fatal("the unfinished request holds nothing")
	}
	waitFor(t, func() bool { return f.rpc.BufferedRequestBytes() == 0 })
	if st, _, err := c.do(c.build(wire.CmdRead, readBody(fid, 4096)), true); err != nil || st != smb2.StatusPipeDisconnected {
		t.Fatalf("read after the deadline: %v %v, want STATUS_PIPE_DISCONNECTED", st, err)
	}
}
