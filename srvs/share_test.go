package srvs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/srvs"
)

func TestShareEnumAndServerInfo(t *testing.T) {
	ctx := context.Background()
	table := session.New(session.Options{})
	srv := &dcerpc.Server{}
	info := srvs.DefaultServerInfo("FS1")
	info.Comment = "file server"
	h := &srvs.Handler{Table: table, Server: &info}
	if err := srv.Register(h.Interface()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	// Shares are listed for any caller, anonymous included.
	c := dial(t, srv, session.Caller{})
	for _, level := range []uint32{0, 1} {
		got, err := c.ShareEnum(ctx, level)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		want := []srvs.Share{{Name: "IPC$"}}
		if level == 1 {
			want = srvs.DefaultShares()
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("level %d (-want +got):\n%s", level, diff)
		}
	}
	if _, err := c.ShareEnum(ctx, 2); !errors.Is(err, session.StatusInvalidLevel) {
		t.Errorf("level 2: %v, want ERROR_INVALID_LEVEL", err)
	}
	for _, level := range []uint32{100, 101} {
		got, err := c.ServerGetInfo(ctx, level)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		want := info
		if level == 100 {
			want = srvs.ServerInfo{PlatformID: info.PlatformID, Name: info.Name}
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("level %d (-want +got):\n%s", level, diff)
		}
	}
	if _, err := c.ServerGetInfo(ctx, 102); !errors.Is(err, session.StatusInvalidLevel) {
		t.Errorf("level 102: %v, want ERROR_INVALID_LEVEL", err)
	}
}
