package epm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/rpctest"
	"github.com/netsession/netsession/internal/sambapeer"
)

var srvsvc = dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("4b324fc8-1670-01d3-1278-5a47bf6ee188"), Major: 3}

// wantTower is the ncacn_ip_tcp tower of srvsvc on 127.0.0.1:49152, built
// byte by byte from the floor layout.
const wantTower = "0500" + // five floors
	"1300" + "0d" + "c84f324b7016d30112785a47bf6ee188" + "0300" + "0200" + "0000" +
	"1300" + "0d" + "045d888aeb1cc9119fe808002b104860" + "0200" + "0200" + "0000" +
	"0100" + "0b" + "0200" + "0000" +
	"0100" + "07" + "0200" + "c000" +
	"0100" + "09" + "0400" + "7f000001"

func TestTCPTowerBytes(t *testing.T) {
	tw := TCPTower{Interface: srvsvc, Transfer: dcerpc.NDR20, Port: 49152, Addr: netip.MustParseAddr("127.0.0.1")}
	got := tw.Marshal()
	if hex.EncodeToString(got) != wantTower {
		t.Fatalf("tower\n got %x\nwant %s", got, wantTower)
	}
	if len(got) != 75 {
		t.Errorf("tower is %d octets, want 75", len(got))
	}
	back, err := ParseTCPTower(got)
	if err != nil {
		t.Fatal(err)
	}
	if back != tw {
		t.Errorf("round trip: %+v, want %+v", back, tw)
	}
}

func TestDecodeFloorsErrors(t *testing.T) {
	good, _ := hex.DecodeString(wantTower)
	cases := map[string][]byte{
		"empty":            {},
		"one octet":        {5},
		"lying count":      append([]byte{0xff, 0x00}, good[2:]...),
		"count over limit": {0x11, 0x00},
		"truncated":        good[:len(good)-1],
		"trailing":         append(append([]byte{}, good...), 0),
		"zero lhs length":  {1, 0, 0, 0, 0, 0},
		"rhs too long":     {1, 0, 1, 0, 7, 9, 0},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeFloors(b); !errors.Is(err, ErrTower) {
				t.Fatalf("DecodeFloors = %v, want ErrTower", err)
			}
		})
	}
	// Four floors or a wrong protocol are not an ncacn_ip_tcp tower.
	f, _ := DecodeFloors(good)
	if _, err := ParseTCPTower(AppendFloors(nil, f[:4])); !errors.Is(err, ErrTower) {
		t.Errorf("four floors: %v", err)
	}
	f[3].Protocol = ProtocolNamedPipe
	if _, err := ParseTCPTower(AppendFloors(nil, f)); !errors.Is(err, ErrTower) {
		t.Errorf("pipe floor: %v", err)
	}
}

func TestMapRequestRoundTrip(t *testing.T) {
	obj := dcerpc.UUID{}
	tw := TCPTower{Interface: srvsvc, Transfer: dcerpc.NDR20}.Marshal()
	for _, req := range []MapRequest{
		{Object: &obj, Tower: tw, MaxTowers: 4},
		{Tower: tw, MaxTowers: 1, Handle: Handle{1, 2, 3}},
		{MaxTowers: 0},
	} {
		b := req.MarshalNDR()
		var back MapRequest
		if err := back.UnmarshalNDR(b); err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if !bytes.Equal(back.MarshalNDR(), b) {
			t.Errorf("re-encode differs: %x vs %x", back.MarshalNDR(), b)
		}
	}
}

// serve runs a mapper announcing srvsvc on port and returns its address and
// the stubs it received.
func serve(t *testing.T, port uint16) (string, func() [][]byte) {
	t.Helper()
	h := &Handler{Endpoints: []Endpoint{{Interface: srvsvc, Port: port, Addr: netip.MustParseAddr("127.0.0.1")}}}
	var mu sync.Mutex
	var stubs [][]byte
	var srv dcerpc.Server
	err := srv.Register(dcerpc.Interface{Syntax: Syntax(), NumOpnums: NumOpnums, Handler: dcerpc.HandlerFunc(func(ctx context.Context, c *dcerpc.Call) ([]byte, error) {
		mu.Lock()
		stubs = append(stubs, append([]byte(nil), c.Stub...))
		mu.Unlock()
		return h.ServeRPC(ctx, c)
	})})
	if err != nil {
		t.Fatal(err)
	}
	return rpctest.Serve(t, &srv), func() [][]byte { mu.Lock(); defer mu.Unlock(); return stubs }
}

func TestMapOverTCP(t *testing.T) {
	addr, _ := serve(t, 49153)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	port, err := MapAddr(ctx, addr, srvsvc)
	if err != nil || port != 49153 {
		t.Fatalf("MapAddr = %d, %v; want 49153", port, err)
	}
	other := dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("12345778-1234-abcd-ef00-0123456789ac"), Major: 1}
	if _, err := MapAddr(ctx, addr, other); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("unknown interface: %v, want ErrNotRegistered", err)
	}
	newer := srvsvc
	newer.Minor = 1
	if _, err := MapAddr(ctx, addr, newer); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("newer minor version: %v, want ErrNotRegistered", err)
	}
	older := srvsvc
	older.Major = 2
	if _, err := MapAddr(ctx, addr, older); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("other major version: %v, want ErrNotRegistered", err)
	}
}

func TestMapUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := MapAddr(ctx, addr, srvsvc); err == nil {
		t.Fatal("MapAddr to a closed port succeeded")
	}
}

func TestHandlerOtherOpnum(t *testing.T) {
	h := &Handler{}
	_, err := h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: 4}) // ept_inq_object
	if !errors.Is(err, dcerpc.ErrOpRange) {
		t.Fatalf("ept_inq_object: %v", err)
	}
	_, err = h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptMap, Stub: []byte{1, 2}})
	if !errors.Is(err, dcerpc.ErrBadStub) {
		t.Fatalf("short stub: %v", err)
	}
}

func readHex(t testing.TB, name string) []byte {
	t.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(s)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImpacketGolden decodes the ept_map request impacket sent to this
// mapper and checks the answer the handler gives to it.
func TestImpacketGolden(t *testing.T) {
	b := readHex(t, "impacket-ept-map-request.hex")
	var req MapRequest
	if err := req.UnmarshalNDR(b); err != nil {
		t.Fatal(err)
	}
	tw, err := ParseTCPTower(req.Tower)
	if err != nil {
		t.Fatal(err)
	}
	if tw.Interface != srvsvc || tw.Transfer != dcerpc.NDR20 || tw.Port != 0 {
		t.Errorf("impacket's tower: %+v", tw)
	}
	h := &Handler{Endpoints: []Endpoint{{Interface: srvsvc, Port: 49152, Addr: netip.MustParseAddr("127.0.0.1")}}}
	out, err := h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptMap, Stub: b})
	if err != nil {
		t.Fatal(err)
	}
	var resp MapResponse
	if err := resp.UnmarshalNDR(out); err != nil {
		t.Fatal(err)
	}
	if resp.Status != 0 || len(resp.Towers) != 1 || hex.EncodeToString(resp.Towers[0]) != wantTower {
		t.Fatalf("answer %+v", resp)
	}
	if resp.MaxTowers != req.MaxTowers {
		t.Errorf("towers conformance %d, want max_towers %d", resp.MaxTowers, req.MaxTowers)
	}
}

func requirePeer(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		sambapeer.Unavailable(t, "peer "+path, err)
	}
}

// TestImpacketMap runs impacket's hept_map against the mapper and checks
// the binding it resolves and that its request decodes like the golden one.
func TestImpacketMap(t *testing.T) {
	requirePeer(t, "/usr/bin/python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import impacket.dcerpc.v5.epm").Run(); err != nil {
		sambapeer.Unavailable(t, "impacket", err)
	}
	addr, stubs := serve(t, 49154)
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/ept_map_client.py", port).CombinedOutput()
	if err != nil {
		t.Fatalf("impacket: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "ncacn_ip_tcp:127.0.0.1["+strconv.Itoa(49154)+"]" {
		t.Fatalf("impacket resolved %q", got)
	}
	s := stubs()
	if len(s) != 1 {
		t.Fatalf("%d calls", len(s))
	}
	if os.Getenv("EPM_WRITE_GOLDEN") != "" {
		_ = os.WriteFile("testdata/impacket-ept-map-request.hex", []byte(hex.EncodeToString(s[0])+"\n"), 0o644)
	}
	var live, golden MapRequest
	if err := live.UnmarshalNDR(s[0]); err != nil {
		t.Fatal(err)
	}
	if err := golden.UnmarshalNDR(readHex(t, "impacket-ept-map-request.hex")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(live.MarshalNDR(), golden.MarshalNDR()) {
		t.Errorf("impacket's request changed:\n live %x\ngolden %x", s[0], readHex(t, "impacket-ept-map-request.hex"))
	}
}

// TestRPCClientGolden answers the ept_map request Samba 4.17's rpcclient
// sends before every ncacn_ip_tcp connection (a NULL object pointer, one
// tower wanted).
func TestRPCClientGolden(t *testing.T) {
	b := readHex(t, "rpcclient-ept-map-request.hex")
	var req MapRequest
	if err := req.UnmarshalNDR(b); err != nil {
		t.Fatal(err)
	}
	if req.Object != nil || req.MaxTowers != 1 {
		t.Errorf("rpcclient's request: %+v", req)
	}
	tw, err := ParseTCPTower(req.Tower)
	if err != nil || tw.Interface != srvsvc {
		t.Fatalf("rpcclient's tower: %+v, %v", tw, err)
	}
	h := &Handler{Endpoints: []Endpoint{{Interface: srvsvc, Port: 49152, Addr: netip.MustParseAddr("127.0.0.1")}}}
	out, err := h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptMap, Stub: b})
	if err != nil {
		t.Fatal(err)
	}
	var resp MapResponse
	if err := resp.UnmarshalNDR(out); err != nil || resp.Status != 0 || len(resp.Towers) != 1 || hex.EncodeToString(resp.Towers[0]) != wantTower {
		t.Fatalf("answer %+v, %v", resp, err)
	}
}

// TestRPCClientLookup answers the ept_lookup loop of rpcclient's epmlookup
// (captured request: every element, no object, no interface, one entry
// per call): one entry and a handle, then the end of the list.
func TestRPCClientLookup(t *testing.T) {
	b := readHex(t, "rpcclient-ept-lookup-request.hex")
	var q LookupRequest
	if err := q.UnmarshalNDR(b); err != nil {
		t.Fatal(err)
	}
	if q.InquiryType != 0 || q.Object != nil || q.Interface != nil || q.MaxEntries != 1 || q.Handle != (Handle{}) {
		t.Fatalf("rpcclient's request: %+v", q)
	}
	h := &Handler{Endpoints: []Endpoint{{Interface: srvsvc, Port: 49152, Addr: netip.MustParseAddr("127.0.0.1"), Annotation: "srvsvc"}}}
	out, err := h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptLookup, Stub: b})
	if err != nil {
		t.Fatal(err)
	}
	done := lookupDone()
	// handle, num_ents 1, array 1/0/1, object, tower referent, annotation
	// (offset 0, 7 chars "srvsvc\0" + pad), the deferred tower, status 0.
	want := hex.EncodeToString(done[:]) + "01000000" + "01000000" + "00000000" + "01000000" +
		"00000000000000000000000000000000" + "00000200" + "00000000" + "07000000" + hex.EncodeToString([]byte("srvsvc\x00")) + "00" +
		"4b000000" + "4b000000" + wantTower + "00" + "00000000"
	if hex.EncodeToString(out) != want {
		t.Fatalf("answer\n got %x\nwant %s", out, want)
	}
	// The next call, with the handle, ends the loop.
	copy(b[16:36], done[:])
	out, err = h.ServeRPC(context.Background(), &dcerpc.Call{Opnum: OpEptLookup, Stub: b})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("00", 20) + "00000000" + "01000000" + "00000000" + "00000000" + "d6a0c916"; hex.EncodeToString(out) != want {
		t.Fatalf("second answer %x, want %s", out, want)
	}
	// An interface filter that matches nothing ends it at once.
	other := dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("12345778-1234-abcd-ef00-0123456789ac"), Major: 1}
	q = LookupRequest{Interface: &other, MaxEntries: 5}
	if resp := h.lookup(&q); resp.Status != StatusNotRegistered || len(resp.Entries) != 0 {
		t.Errorf("other interface: %+v", resp)
	}
}
