package server

import (
	"errors"
	"net"
	"testing"
	"time"
)

// Config.Limits.MaxConnsPerAddr caps every listener: a third connection from one
// address to the endpoint mapper, the metrics listener, srvsvc or SMB is
// closed at once, while another address is still served.
func TestListenerCapsPerAddr(t *testing.T) {
	r := start(t, Config{EPMAddr: "127.0.0.1:0", SMBAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Limits: Limits{MaxConnsPerAddr: 2}})
	for name, addr := range map[string]string{"rpc": r.addrs.RPC, "epm": r.addrs.EPM, "smb": r.addrs.SMB, "metrics": r.addrs.Metrics} {
		t.Run(name, func(t *testing.T) {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for range 2 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
			}
			// The held ones are admitted before the third is accepted.
			time.Sleep(100 * time.Millisecond)
			over, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer over.Close()
			over.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := over.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				t.Fatalf("third connection from one address not closed: %v", err)
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
			other, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			other.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := other.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("another address refused: %v", err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
