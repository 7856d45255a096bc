package smb2_test

import (
	"context"
	"testing"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

func TestGoSMB2AllDialects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, d := range []uint16{smb2.Dialect202, smb2.Dialect210, smb2.Dialect300, smb2.Dialect302, smb2.Dialect311, 0} {
		s := f.dial(t, "alice", "AlicePass1", d)
		c := srvsvc(t, s)
		res, err := c.EnumAll(ctx, 1, "", "", session.MaxPreferredLength)
		if err != nil {
			t.Fatalf("dialect %#x: %v", d, err)
		}
		found := false
		for _, e := range res.Entries {
			if e.UserName == "alice" && e.ClientName == `\\127.0.0.1` && e.NumOpens == 1 {
				found = true
			}
		}
		if !found {
			t.Errorf("dialect %#x: own session not listed: %+v", d, res.Entries)
		}
		names, err := s.ListSharenames()
		if err != nil || len(names) != 1 || names[0] != "IPC$" {
			t.Errorf("dialect %#x: shares %v, %v", d, names, err)
		}
	}
}
