package server

import (
	"context"
	"testing"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

// SMBEncrypt reaches the SMB server, and our own client (which encrypts
// when the server asks) enumerates under "required".
func TestRunSMBEncryptRequired(t *testing.T) {
	srv, err := New(Config{SMBAddr: "127.0.0.1:0", SMBEncrypt: smb2.EncryptionRequired})
	if err != nil {
		t.Fatal(err)
	}
	if srv.smb.Encryption != smb2.EncryptionRequired {
		t.Fatalf("smb2 encryption policy %v", srv.smb.Encryption)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, stop := runReady(t, ctx, srv)
	c, err := client.Dial(ctx, a.SMB, client.Options{Transport: client.TransportSMB, Credentials: client.Credentials{User: "alice", Password: "AlicePass1"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.EnumAll(ctx, session.Level10, client.Filter{})
	if err != nil || len(res.Sessions) != 1 {
		t.Fatalf("sessions %+v, %v", res, err)
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
