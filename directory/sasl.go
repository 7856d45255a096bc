package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// This file speaks the few LDAP operations that come before go-ldap takes
// the connection: the StartTLS extended operation, and SASL binds with
// mechanisms go-ldap does not offer (GSS-SPNEGO). Message IDs start at 1; the
// exchanges finish before go-ldap sends anything, so its own numbering
// cannot collide with an outstanding request.

const (
	appBindRequest      = 0
	appBindResponse     = 1
	appExtendedRequest  = 23
	appExtendedResponse = 24
	resultSuccess       = 0
	resultSASLProgress  = 14
	oidStartTLS         = "1.3.6.1.4.1.1466.20037"
	// maxLDAPMessage bounds a response read before go-ldap takes over.
	maxLDAPMessage = 1 << 20
)

// LDAPResultError is an LDAP operation the server answered with a result code
// other than success.
type LDAPResultError struct {
	Op         string
	Code       int64
	Diagnostic string
}

func (e *LDAPResultError) Error() string {
	return fmt.Sprintf("%s: LDAP result %d: %s", e.Op, e.Code, e.Diagnostic)
}

type rawLDAP struct {
	conn net.Conn
	id   int64
}

func (r *rawLDAP) send(op *ber.Packet) error {
	r.id++
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, r.id, "messageID"))
	env.AppendChild(op)
	_, err := r.conn.Write(env.Bytes())
	return err
}

// recv reads one response: its result code, diagnostic message and the
// element with context tag extra (serverSaslCreds 7, responseValue 11), if
// any.
func (r *rawLDAP) recv(wantApp ber.Tag) (code int64, diag string, extra []byte, err error) {
	p, err := ber.ReadPacket(io.LimitReader(r.conn, maxLDAPMessage))
	if err != nil {
		return 0, "", nil, err
	}
	if len(p.Children) < 2 {
		return 0, "", nil, errors.New("malformed LDAP message")
	}
	if id, ok := p.Children[0].Value.(int64); !ok || id != r.id {
		return 0, "", nil, fmt.Errorf("LDAP message ID %v, want %d", p.Children[0].Value, r.id)
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication || op.Tag != wantApp || len(op.Children) < 3 {
		return 0, "", nil, fmt.Errorf("unexpected LDAP response (application %d)", op.Tag)
	}
	c, ok := op.Children[0].Value.(int64)
	if !ok {
		return 0, "", nil, errors.New("malformed LDAP result code")
	}
	diag, _ = op.Children[2].Value.(string)
	for _, ch := range op.Children[3:] {
		if ch.ClassType == ber.ClassContext && (ch.Tag == 7 || ch.Tag == 11) {
			extra = ch.Data.Bytes()
		}
	}
	return c, diag, extra, nil
}

// startTLS asks for TLS on conn and returns the TLS connection.
func startTLS(ctx context.Context, conn net.Conn, tc *tls.Config) (net.Conn, error) {
	r := &rawLDAP{conn: conn}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appExtendedRequest, nil, "ExtendedRequest")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oidStartTLS, "requestName"))
	if err := r.send(op); err != nil {
		return nil, err
	}
	code, diag, _, err := r.recv(appExtendedResponse)
	if err != nil {
		return nil, err
	}
	if code != resultSuccess {
		return nil, &LDAPResultError{Op: "StartTLS", Code: code, Diagnostic: diag}
	}
	t := tls.Client(conn, tc)
	if err := t.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// saslBind runs a SASL bind with mechanism mech, feeding the server's
// challenges to step until the server says success.
func saslBind(ctx context.Context, conn net.Conn, mech string, step stepFunc) error {
	r := &rawLDAP{conn: conn}
	out, done, err := step(ctx, nil)
	if err != nil {
		return err
	}
	for range 8 {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appBindRequest, nil, "BindRequest")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "version"))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "name"))
		auth := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "sasl")
		auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mech, "mechanism"))
		if out != nil {
			auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(out), "credentials"))
		}
		op.AppendChild(auth)
		if err := r.send(op); err != nil {
			return err
		}
		code, diag, creds, err := r.recv(appBindResponse)
		if err != nil {
			return err
		}
		switch code {
		case resultSuccess:
			if !done && len(creds) > 0 {
				if _, done, err = step(ctx, creds); err != nil {
					return fmt.Errorf("server's final token: %w", err)
				}
			}
			if !done {
				return errors.New("server accepted the bind before the security context was complete")
			}
			return nil
		case resultSASLProgress:
			if done {
				return errors.New("server wants another leg after the security context was complete")
			}
			if out, done, err = step(ctx, creds); err != nil {
				return err
			}
		default:
			return &LDAPResultError{Op: mech + " bind", Code: code, Diagnostic: diag}
		}
	}
	return errors.New("SASL bind did not finish in 8 legs")
}
