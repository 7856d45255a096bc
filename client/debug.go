package client

import (
	"context"
	"fmt"
	authpkg "github.com/netsession/netsession/auth"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/smb2/pipeclient"
)

// Debug records. With Options.Logger at debug level, Dial logs the
// transport and how the session is protected (SMB dialect, signing and
// encryption, or the DCE/RPC authentication type and level), and every
// call logs its operation, level, bytes sent and received and duration;
// an enumeration logs each page (entries, resume handle, whether more
// follow). The byte counts come from a counting wrapper around the
// stream, put in place only when debug records are enabled.

// counter counts the bytes through a stream.
type counter struct {
	sent, recv atomic.Int64
}

// countingStream is a stream that counts its bytes.
type countingStream struct {
	io.ReadWriteCloser
	n *counter
}

func (s countingStream) Read(b []byte) (int, error) {
	n, err := s.ReadWriteCloser.Read(b)
	s.n.recv.Add(int64(n))
	return n, err
}

func (s countingStream) Write(b []byte) (int, error) {
	n, err := s.ReadWriteCloser.Write(b)
	s.n.sent.Add(int64(n))
	return n, err
}

// deadlineCountingStream keeps the SetDeadline of the stream it counts,
// which dcerpc.Client uses to apply each call's context.
type deadlineCountingStream struct {
	countingStream
	d interface{ SetDeadline(time.Time) error }
}

func (s deadlineCountingStream) SetDeadline(t time.Time) error { return s.d.SetDeadline(t) }

// counted wraps stream in a counter when debug records are enabled.
func counted(ctx context.Context, log *slog.Logger, stream io.ReadWriteCloser) (io.ReadWriteCloser, *counter) {
	if !log.Enabled(ctx, slog.LevelDebug) {
		return stream, nil
	}
	n := new(counter)
	cs := countingStream{stream, n}
	if d, ok := stream.(interface{ SetDeadline(time.Time) error }); ok {
		return deadlineCountingStream{cs, d}, n
	}
	return cs, n
}

// logProtection logs how the association is protected.
func logProtection(ctx context.Context, log *slog.Logger, server string, stream io.ReadWriteCloser, o *Options, rpc *dcerpc.Client, used authpkg.Mechanism) {
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if p, ok := stream.(*SMBPipe); ok {
		signing, signAlg := p.conn.Signing()
		encrypting, cipher := p.conn.Encrypting()
		auth := "NTLMSSP in SPNEGO (SMB session setup)"
		switch {
		case p.mech == authpkg.MechKerberos || p.mech == authpkg.MechMSKerberos:
			auth = p.mech.String() + " in SPNEGO (SMB session setup)"
		case o.Credentials.IsAnonymous():
			auth = "anonymous (SMB null session)"
		case p.conn.Guest():
			auth = "NTLMSSP in SPNEGO, logged on as the server's guest account"
		}
		log.Debug("smb session", "server", server, "dialect", dialectName(p.conn.Dialect()),
			"signing", onOff(signing, signingName(signAlg)), "encryption", onOff(encrypting, cipherName(cipher)),
			"auth", auth, "max_transceive", p.conn.MaxTransceive())
	} else {
		auth := "none (unauthenticated bind)"
		if level := o.Auth; level != dcerpc.AuthLevelNone || !o.Credentials.IsAnonymous() {
			if level == 0 {
				level = dcerpc.AuthLevelIntegrity
			}
			mech := "NTLMSSP (auth type 10)"
			spnego := o.SPNEGO || o.Credentials.Kerberos != nil && o.Credentials.NTLMFallback
			switch {
			case (used == authpkg.MechKerberos || used == authpkg.MechMSKerberos) && spnego:
				mech = used.String() + " (DCE style) in SPNEGO (auth type 9)"
			case used == authpkg.MechKerberos || used == authpkg.MechMSKerberos:
				mech = used.String() + " (DCE style, auth type 16)"
			case spnego:
				mech = "NTLMSSP in SPNEGO (auth type 9)"
			}
			auth = fmt.Sprintf("%s at level %s", mech, authLevelName(level))
		}
		log.Debug("dce/rpc authentication", "server", server, "auth", auth)
	}
	n := rpc.Negotiated()
	log.Debug("srvsvc bound", "server", server, "max_xmit_frag", n.MaxXmitFrag, "max_recv_frag", n.MaxRecvFrag, "assoc_group", n.AssocGroupID)
}

func onOff(on bool, what string) string {
	if !on {
		return "off"
	}
	return what
}

func authLevelName(l dcerpc.AuthLevel) string {
	switch l {
	case dcerpc.AuthLevelConnect:
		return "connect"
	case dcerpc.AuthLevelIntegrity:
		return "integrity"
	case dcerpc.AuthLevelPrivacy:
		return "privacy"
	}
	return fmt.Sprint(uint8(l))
}

func dialectName(d uint16) string {
	switch d {
	case pipeclient.Dialect202:
		return "2.0.2"
	case pipeclient.Dialect210:
		return "2.1"
	case pipeclient.Dialect300:
		return "3.0"
	case pipeclient.Dialect302:
		return "3.0.2"
	case pipeclient.Dialect311:
		return "3.1.1"
	}
	return fmt.Sprintf("0x%04x", d)
}

func signingName(a uint16) string {
	switch a {
	case 0:
		return "HMAC-SHA256 or AES-CMAC (by dialect)"
	case 1:
		return "AES-CMAC"
	case 2:
		return "AES-GMAC"
	}
	return fmt.Sprintf("algorithm %d", a)
}

func cipherName(c uint16) string {
	switch c {
	case 1:
		return "AES-128-CCM"
	case 2:
		return "AES-128-GCM"
	case 3:
		return "AES-256-CCM"
	case 4:
		return "AES-256-GCM"
	}
	return fmt.Sprintf("cipher %d", c)
}

// logCall logs one call: its operation, level (when it has one), the
// bytes it moved and how long it took.
func (c *Client) logCall(ctx context.Context, op string, level callLevel, start time.Time, sent, recv int64, err error) {
	attrs := []any{"server", c.server, "op", op}
	if level.has {
		attrs = append(attrs, "level", level.v)
	}
	if c.count != nil {
		attrs = append(attrs, "sent", c.count.sent.Load()-sent, "received", c.count.recv.Load()-recv)
	}
	attrs = append(attrs, "duration", time.Since(start).Round(time.Microsecond))
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	c.log.Debug("call", attrs...)
}

// callLevel is a level that may be absent.
type callLevel struct {
	v   uint32
	has bool
}
