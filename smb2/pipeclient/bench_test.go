package pipeclient_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/pipeclient"
)

// BenchmarkPipeEnum measures NetrSessionEnum level 1 calls over
// \PIPE\srvsvc to our server in-process (SMB 3.1.1, signed; one
// transceive per call), with 1 or 200 other sessions in the table: the same
// measurement as smb2's BenchmarkEnumOverSMB, which runs go-smb2 (AES-CMAC
// signing, WRITE then READ).
func BenchmarkPipeEnum(b *testing.B) {
	for _, held := range []int{1, 200} {
		for _, tc := range []struct {
			name string
			opt  pipeclient.Options
			enc  smb2.EncryptionPolicy
		}{
			{"gmac", pipeclient.Options{}, smb2.EncryptionOff},
			{"cmac", pipeclient.Options{SigningAlgorithms: []uint16{pipeclient.SigningAESCMAC}}, smb2.EncryptionOff},
			{"aes128gcm", pipeclient.Options{}, smb2.EncryptionRequired},
		} {
			b.Run(fmt.Sprintf("sessions=%d/%s", held, tc.name), func(b *testing.B) {
				f := newFixture(b, func(s *smb2.Server) { s.Encryption = tc.enc })
				for i := range held {
					if _, err := f.table.Open(session.Spec{Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), User: "bob"}); err != nil {
						b.Fatal(err)
					}
				}
				tc.opt.Auth = alice()
				c, err := f.dial(b, tc.opt)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				_, cl := bindSrvs(b, ctx, c)
				b.ReportAllocs()
				for b.Loop() {
					res, err := cl.EnumAll(ctx, 1, "", "", session.MaxPreferredLength)
					if err != nil || len(res.Entries) != held+1 {
						b.Fatalf("%v, %d entries", err, len(res.Entries))
					}
				}
			})
		}
	}
}
