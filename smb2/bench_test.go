package smb2_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/smb2/internal/smbcrypto"
)

// BenchmarkEnumOverSMB measures NetrSessionEnum level 1 calls through
// go-smb2 (SMB 3.1.1, signed): write the request, read the answer, with
// 1 or 200 other sessions in the table.
func BenchmarkEnumOverSMB(b *testing.B) {
	for _, held := range []int{1, 200} {
		b.Run(fmt.Sprintf("sessions=%d", held), func(b *testing.B) {
			f := newFixture(b)
			for i := range held {
				if _, err := f.table.Open(session.Spec{Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), User: "bob"}); err != nil {
					b.Fatal(err)
				}
			}
			c := srvsvc(b, f.dial(b, "alice", "AlicePass1", smb2.Dialect311))
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.EnumAll(ctx, 1, "", "", session.MaxPreferredLength); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 1024)
	copy(msg, "\xfeSMB\x40")
	for _, alg := range []uint16{smbcrypto.AlgHMACSHA256, smbcrypto.AlgAESCMAC, smbcrypto.AlgAESGMAC} {
		s, _ := smbcrypto.NewSigner(alg, make([]byte, 16))
		b.Run(fmt.Sprint("alg=", alg), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				_ = s.Sign(msg)
			}
		})
	}
}
