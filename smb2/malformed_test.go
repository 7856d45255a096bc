package smb2_test

import (
	"context"
	"testing"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/wire"
)

type stage int

const (
	fresh stage = iota
	negotiated
	loggedIn
	treeConnected
	pipeOpen
)

func writeBody(fid []byte, data []byte, lie uint32) []byte {
	b := le.AppendUint16(nil, 49)
	b = le.AppendUint16(b, wire.HeaderSize+48)
	b = le.AppendUint32(b, uint32(len(data))+lie)
	b = le.AppendUint64(b, 0)
	b = append(b, fid...)
	b = append(b, make([]byte, 16)...)
	return append(b, data...)
}

func readBody(fid []byte, n uint32) []byte {
	b := le.AppendUint16(nil, 49)
	b = append(b, 0, 0)
	b = le.AppendUint32(b, n)
	b = le.AppendUint64(b, 0)
	b = append(b, fid...)
	return append(b, make([]byte, 17)...)
}

func ioctlBody(ctl uint32, fid []byte) []byte {
	b := le.AppendUint16(nil, 57)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, ctl)
	b = append(b, fid...)
	b = append(b, make([]byte, 20)...)
	b = le.AppendUint32(b, 1024)
	b = le.AppendUint32(b, 1)
	return le.AppendUint32(b, 0)
}

func queryInfoBody(class uint8, fid []byte) []byte {
	b := le.AppendUint16(nil, 41)
	b = append(b, 1, class)
	b = le.AppendUint32(b, 1024)
	b = append(b, make([]byte, 16)...)
	return append(b, fid...)
}

// Every malformed or unsupported request is answered with a status or
// ends its own connection, while other connections keep being served.
func TestMalformedInputs(t *testing.T) {
	f := newFixture(t)
	bystander := srvsvc(t, f.dial(t, "alice", "AlicePass1", 0))
	badFID := make([]byte, 16)
	badFID[0] = 0x77
	cases := []struct {
		name  string
		stage stage
		msg   func(c *rawClient, fid []byte) []byte
		raw   bool // msg is a whole frame payload sent unsigned
		want  smb2.Status
		close bool
	}{
		{name: "garbage protocol id", msg: func(c *rawClient, _ []byte) []byte { return []byte("GET / HTTP/1.1\r\n\r\n") }, raw: true, close: true},
		{name: "truncated header", msg: func(c *rawClient, _ []byte) []byte { return []byte("\xfeSMB\x40\x00") }, raw: true, close: true},
		{name: "header structure size 63", msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect210))
			m[4] = 63
			return m
		}, raw: true, close: true},
		{name: "session setup before negotiate", msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdSessionSetup, sessionSetupBody(nil)) }, close: true},
		{name: "negotiate without dialects", msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdNegotiate, negotiateBody()) }, want: smb2.StatusInvalidParameter},
		{name: "negotiate dialect count lies", msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect210))
			le.PutUint16(m[wire.HeaderSize+2:], 1000)
			return m
		}, want: smb2.StatusInvalidParameter},
		{name: "negotiate unknown dialect", msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdNegotiate, negotiateBody(0x0201)) }, want: smb2.StatusNotSupported},
		{name: "3.1.1 without preauth context", msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect311)) }, want: smb2.StatusInvalidParameter},
		{name: "3.1.1 context offset outside", msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect311))
			le.PutUint32(m[wire.HeaderSize+28:], 0xFFFF)
			le.PutUint16(m[wire.HeaderSize+32:], 1)
			return m
		}, want: smb2.StatusInvalidParameter},
		{name: "second negotiate", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect210)) }, close: true},
		{name: "message id reused", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			c.mid = 0
			return c.build(wire.CmdEcho, []byte{4, 0, 0, 0})
		}, close: true},
		{name: "message id beyond credits", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			c.mid = 5000
			return c.build(wire.CmdEcho, []byte{4, 0, 0, 0})
		}, close: true},
		{name: "response flag in request", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdEcho, []byte{4, 0, 0, 0})
			m[16] |= 1
			return m
		}, close: true},
		{name: "compound NextCommand unaligned", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdEcho, []byte{4, 0, 0, 0, 0, 0, 0, 0})
			le.PutUint32(m[20:], 66)
			return append(m, make([]byte, 70)...)
		}, close: true},
		{name: "session setup buffer outside", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdSessionSetup, sessionSetupBody([]byte{1, 2}))
			le.PutUint16(m[wire.HeaderSize+14:], 500)
			return m
		}, want: smb2.StatusInvalidParameter},
		{name: "session setup garbage token", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			return c.build(wire.CmdSessionSetup, sessionSetupBody([]byte("not spnego")))
		}, want: smb2.StatusLogonFailure},
		{name: "tree connect on unknown session", stage: negotiated, msg: func(c *rawClient, _ []byte) []byte {
			c.sid = 0x1234
			return c.build(wire.CmdTreeConnect, treeConnectBody(`\\x\IPC$`))
		}, want: smb2.StatusUserSessionDeleted},
		{name: "unsigned request on signed session", stage: loggedIn, raw: true, msg: func(c *rawClient, _ []byte) []byte {
			return c.build(wire.CmdTreeConnect, treeConnectBody(`\\x\IPC$`))
		}, want: smb2.StatusAccessDenied},
		{name: "bad signature", stage: loggedIn, raw: true, msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdTreeConnect, treeConnectBody(`\\x\IPC$`))
			c.signer.Sign(m)
			m[50] ^= 0xFF
			return m
		}, want: smb2.StatusAccessDenied},
		{name: "tree connect to C$", stage: loggedIn, msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdTreeConnect, treeConnectBody(`\\x\C$`)) }, want: smb2.StatusBadNetworkName},
		{name: "tree connect odd path length", stage: loggedIn, msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdTreeConnect, treeConnectBody(`\\x\IPC$`))
			le.PutUint16(m[wire.HeaderSize+6:], 5)
			return m
		}, want: smb2.StatusInvalidParameter},
		{name: "create on unknown tree", stage: loggedIn, msg: func(c *rawClient, _ []byte) []byte {
			c.tree = 99
			return c.build(wire.CmdCreate, createBody("srvsvc"))
		}, want: smb2.StatusNetworkNameDeleted},
		{name: "create unknown pipe", stage: treeConnected, msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdCreate, createBody("lsarpc")) }, want: smb2.StatusObjectNameNotFound},
		{name: "create name length lies", stage: treeConnected, msg: func(c *rawClient, _ []byte) []byte {
			m := c.build(wire.CmdCreate, createBody("srvsvc"))
			le.PutUint16(m[wire.HeaderSize+46:], 2000)
			return m
		}, want: smb2.StatusInvalidParameter},
		{name: "write to unknown file", stage: pipeOpen, msg: func(c *rawClient, _ []byte) []byte { return c.build(wire.CmdWrite, writeBody(badFID, []byte{5, 0}, 0)) }, want: smb2.StatusFileClosed},
		{name: "write length lies", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte {
			return c.build(wire.CmdWrite, writeBody(fid, []byte{5, 0}, 100000))
		}, want: smb2.StatusInvalidParameter},
		{name: "read over the maximum", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(wire.CmdRead, readBody(fid, 1<<20)) }, want: smb2.StatusInvalidParameter},
		{name: "read of an idle pipe", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(wire.CmdRead, readBody(fid, 1024)) }, want: smb2.StatusPipeEmpty},
		{name: "unknown ioctl", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(wire.CmdIoctl, ioctlBody(0x00090000, fid)) }, want: smb2.StatusNotSupported},
		{name: "query unknown info class", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(wire.CmdQueryInfo, queryInfoBody(99, fid)) }, want: smb2.StatusInvalidInfoClass},
		{name: "query directory on a pipe", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(wire.CmdQueryDirectory, make([]byte, 40)) }, want: smb2.StatusNotSupported},
		{name: "unknown command", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(0x0042, []byte{4, 0, 0, 0}) }, want: smb2.StatusInvalidParameter},
		{name: "set info", stage: pipeOpen, msg: func(c *rawClient, fid []byte) []byte { return c.build(wire.CmdSetInfo, make([]byte, 32)) }, want: smb2.StatusNotSupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, f.addr)
			var fid []byte
			if tc.stage >= negotiated && tc.stage < loggedIn {
				st, _, err := c.do(c.build(wire.CmdNegotiate, negotiateBody(smb2.Dialect210, smb2.Dialect300)), false)
				if err != nil || st != 0 {
					t.Fatalf("negotiate: %v %v", st, err)
				}
			}
			if tc.stage >= loggedIn {
				c.login("bob", "BobPass1")
			}
			if tc.stage >= treeConnected {
				if st, _, err := c.do(c.build(wire.CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`)), true); err != nil || st != 0 {
					t.Fatalf("tree connect: %v %v", st, err)
				}
			}
			if tc.stage >= pipeOpen {
				st, body, err := c.do(c.build(wire.CmdCreate, createBody("srvsvc")), true)
				if err != nil || st != 0 {
					t.Fatalf("create: %v %v", st, err)
				}
				fid = body[64:80]
			}
			st, _, err := c.do(tc.msg(c, fid), !tc.raw)
			if tc.close {
				if err == nil {
					t.Fatalf("answered %v, want the connection closed", st)
				}
				return
			}
			if err != nil {
				t.Fatalf("connection closed (%v), want %v", err, tc.want)
			}
			if st != tc.want {
				t.Fatalf("status %v, want %v", st, tc.want)
			}
		})
	}
	// The bystander was served throughout.
	if _, err := bystander.EnumAll(context.Background(), 0, "", "", session.MaxPreferredLength); err != nil {
		t.Fatalf("bystander: %v", err)
	}
}
