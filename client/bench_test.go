package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
)

// BenchmarkEnum measures whole enumerations (one NetrSessionEnum call each)
// at level 1 with 200 sessions held, on one connection over loopback TCP:
// the "calls per second" figure is 1/(ns/op).
func BenchmarkEnum(b *testing.B) {
	for _, auth := range []dcerpc.AuthLevel{dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy} {
		b.Run(fmt.Sprintf("level1/200/%s", auth), func(b *testing.B) {
			srv := startBenchServer(b, 200)
			o := admin()
			o.Auth = auth
			c, err := client.Dial(context.Background(), srv, o)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.EnumAll(context.Background(), session.Level1, client.Filter{})
				if err != nil || len(res.Sessions) != 200 {
					b.Fatalf("%v, %d sessions", err, len(res.Sessions))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
