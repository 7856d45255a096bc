package client_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/sambapeer"
	"github.com/netsession/netsession/session"
)

// BenchmarkEnum measures whole enumerations (one NetrSessionEnum call each)
// at level 1 with 200 sessions held, on one connection over loopback TCP:
// the "calls per second" figure is 1/(ns/op).
func BenchmarkEnum(b *testing.B) {
	for _, auth := range []dcerpc.AuthLevel{dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy} {
		b.Run(fmt.Sprintf("level1/200/%s", auth), func(b *testing.B) {
			o := admin()
			o.Auth = auth
			benchEnumAll(b, startBenchServer(b, 200), o, 200)
		})
	}
}

// BenchmarkSamba is the same measurement against Samba 4.17 holding 200
// sessions: its srvsvc over ncacn_ip_tcp at integrity and over the SMB
// named pipe, one connection each. It starts Samba (root only) and holds
// the sessions with impacket (about ten seconds of setup), so it runs only
// when NETSESS_BENCH_SAMBA=1.
func BenchmarkSamba(b *testing.B) {
	if os.Getenv("NETSESS_BENCH_SAMBA") != "1" {
		b.Skip("set NETSESS_BENCH_SAMBA=1 to start Samba with 200 sessions")
	}
	sambapeer.RequireImpacket(b)
	peer := sambapeer.Start(b, sambapeer.Options{RPCOverTCP: true})
	peer.HoldT(b, sambapeer.Session{User: sambapeer.User, Password: sambapeer.UserPassword, Count: 200})
	admin := client.Credentials{User: sambapeer.AdminUser, Password: sambapeer.AdminPassword}
	for _, tc := range []struct {
		name, server string
		o            client.Options
	}{
		{"level1/200/tcp-integrity", peer.SrvsvcTCPAddr(), client.Options{Transport: client.TransportTCP, Credentials: admin}},
		{"level1/200/smb", peer.Addr(), client.Options{Transport: client.TransportSMB, Credentials: admin}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchEnumAll(b, tc.server, tc.o, 200) })
	}
}

// benchEnumAll dials server once and measures whole level-1 enumerations
// that must list at least want sessions, reporting calls per second.
func benchEnumAll(b *testing.B, server string, o client.Options, want int) {
	c, err := client.Dial(context.Background(), server, o)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.EnumAll(context.Background(), session.Level1, client.Filter{})
		if err != nil || len(res.Sessions) < want {
			b.Fatalf("%v, %d sessions", err, len(res.Sessions))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
