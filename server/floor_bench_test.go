package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/netsession/netsession/internal/rawtcp"
)

// floorSteps is one netsessenum of rpcclient as TCP carries it to our
// server holding 200 sessions (level 1, 201 entries, read from a capture):
// the IOCTL and the answer holding the first fragment, then three READs
// and theirs, in octets with the 4-octet transport header. rpcclient
// reads at most 4,280 octets of the pipe at a time, so an answer of about
// 17 KB takes these four round trips whatever the server.
var floorSteps = [...]struct{ req, resp int }{{220, 4396}, {117, 4364}, {117, 4364}, {117, 3460}}

// The client's own time between two messages, also from that capture on
// a busy machine: about 25-35 µs from a fragment to the READ for the next
// one, and 135-150 µs or more from the last fragment to the next call's
// IOCTL (rpcclient printing 201 entries). The floor client spends them
// computing, as rpcclient does: floorGapFragment after each fragment but
// the last, and after the last the rest of what rpcclient spent per call
// in the same round (its user and system time over its calls), at least
// floorGapCall. Between two calls the responder's CPU then sleeps as long
// as ours does under rpcclient, which is what a wake-up costs here.
const (
	floorGapFragment = 25 * time.Microsecond
	floorGapCall     = 140 * time.Microsecond
)

// floorServer is the floor of the CPU per call: a responder that does no
// work at all. It answers every request frame of the floor client with
// as many octets as the frame asks for, read and written through the same
// raw socket calls as the SMB server's (rawtcp), so that what it costs is
// what the machine charges a server for the messages alone: waking when a
// request arrives, and the write that wakes the client.
type floorServer struct {
	ln   net.Listener
	done chan struct{}
}

func startFloor(tb testing.TB) *floorServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &floorServer{ln: ln, done: make(chan struct{})}
	go f.serve()
	tb.Cleanup(func() { ln.Close(); <-f.done })
	return f
}

func (f *floorServer) serve() {
	defer close(f.done)
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			c := rawtcp.Wrap(nc)
			defer c.Close()
			req, answer := make([]byte, 64<<10), make([]byte, 64<<10)
			for {
				// A frame: its length (4 octets), the answer's length
				// (4), then the rest of the request.
				if _, err := io.ReadFull(c, req[:8]); err != nil {
					return
				}
				n, want := int(binary.BigEndian.Uint32(req)), int(binary.BigEndian.Uint32(req[4:]))
				if n < 4 || n-4 > len(req) || want < 4 || want > len(answer) {
					return
				}
				if _, err := io.ReadFull(c, req[:n-4]); err != nil {
					return
				}
				binary.BigEndian.PutUint32(answer, uint32(want-4))
				if _, err := c.Write(answer[:want]); err != nil {
					return
				}
			}
		}()
	}
}

// run has a child process make calls exchanges of floorSteps with the
// responder, computing work per call between its messages (see
// floorGapCall), and returns this process's CPU time meanwhile and the
// time the calls took. The child gets five minutes.
func (f *floorServer) run(tb testing.TB, calls int, work time.Duration) (cpu, wall time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperFloorClient$")
	cmd.Env = append(os.Environ(), "NETSESS_FLOOR_ADDR="+f.ln.Addr().String(),
		"NETSESS_FLOOR_CALLS="+strconv.Itoa(calls), "NETSESS_FLOOR_WORK="+work.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	tr := trackInstance(func() []int { return []int{os.Getpid()} }, true)
	t0 := time.Now()
	err := cmd.Run()
	wall = time.Since(t0)
	cpu, _ = tr.stop()
	if err != nil {
		tb.Fatalf("floor client: %v: %s", err, out.Bytes())
	}
	return cpu, wall
}

// TestHelperFloorClient is the child process of floorServer.run: it plays
// rpcclient's side of floorSteps, NETSESS_FLOOR_CALLS times. It does
// nothing unless NETSESS_FLOOR_ADDR names a responder.
func TestHelperFloorClient(t *testing.T) {
	addr := os.Getenv("NETSESS_FLOOR_ADDR")
	if addr == "" {
		t.Skip("helper process for BenchmarkSMBCPUPerCall's floor")
	}
	calls, _ := strconv.Atoi(os.Getenv("NETSESS_FLOOR_CALLS"))
	work, _ := time.ParseDuration(os.Getenv("NETSESS_FLOOR_WORK"))
	if err := floorClient(addr, calls, work); err != nil {
		t.Fatal(err)
	}
	os.Exit(0)
}

func floorClient(addr string, calls int, work time.Duration) error {
	last := max(floorGapCall, work-time.Duration(len(floorSteps)-1)*floorGapFragment)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	req, resp := make([]byte, 64<<10), make([]byte, 64<<10)
	for range calls {
		for i, s := range floorSteps {
			binary.BigEndian.PutUint32(req, uint32(s.req-4))
			binary.BigEndian.PutUint32(req[4:], uint32(s.resp))
			if _, err := c.Write(req[:s.req]); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, resp[:s.resp]); err != nil {
				return err
			}
			if n := int(binary.BigEndian.Uint32(resp)); n != s.resp-4 {
				return fmt.Errorf("answer of %d octets, want %d", n, s.resp-4)
			}
			if i < len(floorSteps)-1 {
				spin(floorGapFragment)
			} else {
				spin(last)
			}
		}
	}
	return nil
}

// spin computes for d, as a client busy with what it received.
func spin(d time.Duration) {
	for t := time.Now(); time.Since(t) < d; {
	}
}

// TestFloorExchange: the floor responder answers each step of a call with
// the octets asked for, and refuses a frame it cannot answer by closing
// the connection (the benchmark's child would then fail, not hang).
func TestFloorExchange(t *testing.T) {
	f := startFloor(t)
	if err := floorClient(f.ln.Addr().String(), 3, 300*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", f.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 4), 1<<30)
	if _, err := c.Write(bad); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after a frame asking 1 GiB: %v, want EOF", err)
	}
}
