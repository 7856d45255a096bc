package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/epm"
	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/rpcauth"
	"github.com/netsession/netsession/server"
	"github.com/netsession/netsession/session"
)

// tcpServer serves srvsvc over ncacn_ip_tcp on addr with seeds, accepting
// Kerberos with the keytab when it is not empty; it returns the port.
func tcpServer(t *testing.T, addr, keytab string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Listeners: server.Listeners{RPC: l}, Seeds: []server.Seed{{Client: "127.0.0.2", User: "alice"}}}
	if keytab != "" {
		keys, err := krb5.LoadKeys(keytab)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Kerberos = &krb5.Acceptor{Keys: keys}
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// notDCE hides the DCEForHost method of a Kerberos initiator.
type notDCE struct{ auth.Initiator }

// TestKerberosTCPClient: the client logs on to our server over
// ncacn_ip_tcp with DCE-style Kerberos (host/ ticket) at every level and
// under both auth types; Kerberos alone against a server without it is a
// logon failure, with NTLMFallback NTLM is used; an initiator that cannot
// speak DCE style is refused naming the SMB transport.
func TestKerberosTCPClient(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mech := dcKerberos(t, ctx, dc, krb5.Password(addc.AdminUser, dc.Realm, addc.AdminPassword), "")
	target := net.JoinHostPort(dc.ServerHost, tcpServer(t, dc.ServerAddr+":0", dc.Keytab))
	for _, tc := range []struct {
		level  dcerpc.AuthLevel
		spnego bool
	}{
		{dcerpc.AuthLevelIntegrity, false}, {dcerpc.AuthLevelPrivacy, false},
		{dcerpc.AuthLevelIntegrity, true}, {dcerpc.AuthLevelPrivacy, true},
	} {
		c, err := client.Dial(ctx, target, client.Options{Transport: client.TransportTCP, Auth: tc.level, SPNEGO: tc.spnego,
			Credentials: client.Credentials{Kerberos: mech}, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatalf("%s spnego=%v: %v", tc.level, tc.spnego, err)
		}
		if c.Mechanism() != auth.MechKerberos {
			t.Errorf("mechanism %v", c.Mechanism())
		}
		res, err := c.EnumAll(ctx, session.Level10, client.Filter{})
		c.Close()
		if err != nil || len(res.Sessions) != 1 || res.Sessions[0].UserName != "alice" {
			t.Fatalf("%s spnego=%v: %+v %v", tc.level, tc.spnego, res, err)
		}
	}

	ntlmOnly := net.JoinHostPort(dc.ServerHost, tcpServer(t, dc.ServerAddr+":0", ""))
	_, err := client.Dial(ctx, ntlmOnly, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{Kerberos: mech}})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Kind != client.KindLogonFailure {
		t.Errorf("Kerberos to a server without it: %v, want a logon failure", err)
	}
	c, err := client.Dial(ctx, ntlmOnly, client.Options{Transport: client.TransportTCP,
		Credentials: client.Credentials{Kerberos: mech, NTLMFallback: true, User: "alice", Password: "AlicePass1"}})
	if err != nil {
		t.Fatalf("with NTLM fallback: %v", err)
	}
	if _, err := c.EnumAll(ctx, session.Level1, client.Filter{}); err != nil || c.Mechanism() != auth.MechNTLM {
		t.Errorf("with NTLM fallback: mechanism %v, %v", c.Mechanism(), err)
	}
	c.Close()

	_, err = client.Dial(ctx, target, client.Options{Transport: client.TransportTCP, Credentials: client.Credentials{Kerberos: notDCE{mech}}})
	if !errors.Is(err, client.ErrKerberosTransport) {
		t.Errorf("initiator without DCE style: %v", err)
	}
	_, err = client.Dial(ctx, target, client.Options{Transport: client.TransportTCP, Auth: dcerpc.AuthLevelNone, Credentials: client.Credentials{Kerberos: mech}})
	if err == nil {
		t.Error("Kerberos at level none accepted")
	}
}

// TestKerberosTCPDCDSSetup: our DCE-style Kerberos against Samba's own
// DCE/RPC server (Heimdal's GSS-API behind it): the domain controller's
// dssetup interface over ncacn_ip_tcp (port from its endpoint mapper),
// bind and third leg under auth types 16 and 9 with a ticket for the DC's
// host/ principal, then DsRolerGetPrimaryDomainInformation (opnum 0,
// level 1) signed or sealed both ways: the answer names the domain. The
// DC's srvsvc is not on ncacn_ip_tcp; dssetup is.
func TestKerberosTCPDCDSSetup(t *testing.T) {
	dc := addc.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mech := dcKerberos(t, ctx, dc, krb5.Password(addc.AdminUser, dc.Realm, addc.AdminPassword), "")
	dssetup := dcerpc.SyntaxID{UUID: dcerpc.MustParseUUID("3919286a-b10c-11d0-9ba8-00c04fd92ef5")}
	port, err := epm.MapAddr(ctx, net.JoinHostPort(dc.Addr, "135"), dssetup)
	if err != nil {
		t.Fatal(err)
	}
	domain := utf16le(dc.Domain)
	for _, typ := range []dcerpc.AuthType{dcerpc.AuthTypeKerberos, dcerpc.AuthTypeSPNEGO} {
		for _, level := range []dcerpc.AuthLevel{dcerpc.AuthLevelIntegrity, dcerpc.AuthLevelPrivacy} {
			ini, err := rpcauth.Initiator(ctx, mech.DCEForHost(dc.Host, level == dcerpc.AuthLevelPrivacy), typ, level)
			if err != nil {
				t.Fatal(err)
			}
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(dc.Addr, strconv.Itoa(int(port))))
			if err != nil {
				t.Fatal(err)
			}
			rpc := dcerpc.NewClient(conn, dcerpc.ClientConfig{Auth: ini, AuthContextID: 1})
			if err := rpc.Bind(ctx, dssetup); err != nil {
				conn.Close()
				t.Fatalf("type %d %s: bind: %v", typ, level, err)
			}
			out, err := rpc.Call(ctx, 0, []byte{1, 0}) // DsRolePrimaryDomainInfoBasic
			conn.Close()
			if err != nil {
				t.Fatalf("type %d %s: DsRolerGetPrimaryDomainInformation: %v", typ, level, err)
			}
			if !bytes.Contains(out, domain) || !bytes.HasSuffix(out, []byte{0, 0, 0, 0}) {
				t.Errorf("type %d %s: answer %x does not name %s with WERR_OK", typ, level, out, dc.Domain)
			}
		}
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}
