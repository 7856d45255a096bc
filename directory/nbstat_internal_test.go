package directory

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/sambapeer"
)

// nmbdAnswer is Samba's nmbd (4.17) answering a node status query of ID
// 0x1235: NBPEER <00> <03> <20>, the group NBTEST <00> <1e>.
func nmbdAnswer(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "nbstat_nmbd.hex"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNodeStatusQuery(t *testing.T) {
	// The name "*" first-level encoded: CK, then 15 zero bytes as AA.
	want := "1235000000010000000000002043" + "4b" + strings.Repeat("41", 30) + "0000210001"
	if got := hex.EncodeToString(nodeStatusQuery(0x1235)); got != want {
		t.Errorf("query %s, want %s", got, want)
	}
}

func TestParseNodeStatus(t *testing.T) {
	a := nmbdAnswer(t)
	names, err := parseNodeStatus(a, 0x1235)
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeStatusName{{"NBPEER", 0x00, false, true}, {"NBPEER", 0x03, false, true}, {"NBPEER", 0x20, false, true},
		{"NBTEST", 0x00, true, true}, {"NBTEST", 0x1e, true, true}}
	if !slices.Equal(names, want) {
		t.Errorf("names %+v", names)
	}
	if n, err := ComputerName(names); n != "NBPEER" || err != nil {
		t.Errorf("computer name %q, %v", n, err)
	}
	// A server service only; groups only.
	if n, _ := ComputerName(names[2:3]); n != "NBPEER" {
		t.Errorf("server name only: %q", n)
	}
	if _, err := ComputerName(names[3:]); !errors.Is(err, ErrNodeStatus) {
		t.Errorf("groups only: %v", err)
	}
	if _, err := parseNodeStatus(a, 0x1234); !errors.Is(err, errOtherID) {
		t.Errorf("another ID: %v", err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(slices.Clone(a)) }
	for name, b := range map[string][]byte{
		"short":        a[:11],
		"truncated":    a[:60],
		"no reply bit": mutate(func(b []byte) []byte { b[2] &^= 0x80; return b }),
		"rcode":        mutate(func(b []byte) []byte { b[3] |= 3; return b }),
		"no answer":    mutate(func(b []byte) []byte { b[7] = 0; return b }),
		"type":         mutate(func(b []byte) []byte { b[47] = 0x20; return b }),
		"count":        mutate(func(b []byte) []byte { b[56] = 200; return b }),
		"rdlength":     mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[54:], 0xffff); return b }),
		"label":        mutate(func(b []byte) []byte { b[12] = 0x80; return b }),
		"unprintable":  mutate(func(b []byte) []byte { b[58] = 1; return b }),
	} {
		if _, err := parseNodeStatus(b, 0x1235); !errors.Is(err, ErrNodeStatus) {
			t.Errorf("%s: %v, want ErrNodeStatus", name, err)
		}
	}
}

func FuzzParseNodeStatus(f *testing.F) {
	a := nmbdAnswer(f)
	f.Add(a)
	f.Add(a[:60])
	// The answer with its name as a pointer to the question's.
	f.Add(append(append(slices.Clone(a[:12]), 0xc0, 0x0c), a[46:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := parseNodeStatus(b, 0x1235)
		if err == nil && len(names)*nameEntry > len(b) {
			t.Fatalf("%d names from %d bytes", len(names), len(b))
		}
	})
}

// udpResponder answers every datagram on loopback with answer, its ID
// replaced by the query's.
func udpResponder(t *testing.T, answer []byte) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 2 || answer == nil {
				continue
			}
			out := slices.Clone(answer)
			copy(out, buf[:2])
			pc.WriteTo(out, from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// TestNodeStatusExchange: a host that answers is named; one that stays
// silent or has the port closed is ErrNotFound, within the timeout.
func TestNodeStatusExchange(t *testing.T) {
	ctx := context.Background()
	lo := netip.MustParseAddr("127.0.0.1")
	port := udpResponder(t, nmbdAnswer(t))
	if n, err := NodeStatus(port, time.Second)(ctx, lo); n != "NBPEER" || err != nil {
		t.Errorf("answering host: %q, %v", n, err)
	}
	silent := udpResponder(t, nil)
	if _, err := NodeStatus(silent, 200*time.Millisecond)(ctx, lo); !errors.Is(err, ErrNotFound) {
		t.Errorf("silent host: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	if _, err := NodeStatus(closed, 5*time.Second)(ctx, lo); !errors.Is(err, ErrNotFound) {
		t.Errorf("closed port: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NodeStatus(silent, time.Second)(cctx, lo); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// nbLookup is a Lookup of one computer account.
type nbLookup struct{ sam, sid string }

func (l nbLookup) Domain() Domain { return Domain{DNSName: "nb.test", NetBIOSName: "NBTEST"} }

func (l nbLookup) AccountSID(_ context.Context, sam string) (string, error) {
	if strings.EqualFold(sam, l.sam) {
		return l.sid, nil
	}
	return "", ErrNotFound
}

func (l nbLookup) HostSID(context.Context, string) (string, error) { return "", ErrNotFound }

// TestNodeStatusNmbd asks Samba's nmbd, on a loopback address of its
// own, for its name, and resolves a client at that address through it
// when reverse DNS has no name for it.
func TestNodeStatusNmbd(t *testing.T) {
	nmbd, err := exec.LookPath("nmbd")
	if err == nil && os.Geteuid() != 0 {
		err = errors.New("not root (port 137 and the loopback address need it)")
	}
	if err != nil {
		sambapeer.Unavailable(t, "nmbd", err)
	}
	const addr = "127.0.0.44"
	if out, err := exec.Command("ip", "addr", "replace", addr+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip addr: %v: %s", err, out)
	}
	dir := t.TempDir()
	for _, d := range []string{"priv", "lock", "pid", "state", "cache", "log"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	conf := filepath.Join(dir, "smb.conf")
	os.WriteFile(conf, []byte(strings.ReplaceAll(`[global]
netbios name = NSNBPEER
workgroup = NSNBTEST
interfaces = `+addr+`/8
bind interfaces only = yes
private dir = D/priv
lock directory = D/lock
pid directory = D/pid
state directory = D/state
cache directory = D/cache
log file = D/log/log.%m
`, "D/", dir+"/")), 0o644)
	cmd := exec.Command(nmbd, "-F", "--no-process-group", "-s", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ask := NodeStatus(0, 500*time.Millisecond)
	var name string
	for ctx.Err() == nil {
		if name, err = ask(ctx, netip.MustParseAddr(addr)); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if name != "NSNBPEER" {
		t.Fatalf("nmbd named itself %q (%v)", name, err)
	}
	noPTR := func(context.Context, netip.Addr) ([]string, error) { return nil, ErrNotFound }
	r := NewResolver(nbLookup{"NSNBPEER$", "S-1-5-21-7-8-9-1500"}, ResolverConfig{Reverse: noPTR, NetBIOS: ask})
	if sid, err := r.ComputerSID(ctx, `\\`+addr); sid != "S-1-5-21-7-8-9-1500" || err != nil {
		t.Errorf("client %s: %q, %v", addr, sid, err)
	}
	// Without the NetBIOS path the address stays unresolved.
	r = NewResolver(nbLookup{"NSNBPEER$", "S-1-5-21-7-8-9-1500"}, ResolverConfig{Reverse: noPTR})
	if _, err := r.ComputerSID(ctx, addr); !errors.Is(err, ErrNotFound) {
		t.Errorf("without NetBIOS: %v", err)
	}
}
