package smb2

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/netsession/netsession/smb2/internal/smbcrypto"
	"github.com/netsession/netsession/smb2/internal/wire"
)

// Dialects this server speaks, lowest first.
const (
	Dialect202      = wire.Dialect202
	Dialect210      = wire.Dialect210
	Dialect300      = wire.Dialect300
	Dialect302      = wire.Dialect302
	Dialect311      = wire.Dialect311
	dialectWildcard = wire.DialectWildcard
)

// handleSMB1 answers a multi-protocol SMB1 NEGOTIATE with an SMB2 one.
// negotiated is what NEGOTIATE settled on a connection.
type negotiated struct {
	smb1Wildcard   bool // answered an SMB1 NEGOTIATE with the 2.??? wildcard
	dialect        uint16
	clientGUID     [16]byte
	clientSecMode  uint16
	clientCaps     uint32
	clientDialects []uint16
	secMode        uint16
	gmac           bool // AES-GMAC signing agreed (3.1.1)
	preauth        [smbcrypto.PreauthSize]byte
	cipher         uint16 // encryption cipher agreed; 0: none
}

func (c *conn) handleSMB1(msg []byte) error {
	if c.negotiated || c.neg.smb1Wildcard || c.credits.low != 0 {
		return fmt.Errorf("%w: SMB1 after negotiation", errClose)
	}
	ds, err := wire.SMB1Dialects(msg)
	if err != nil {
		return fmt.Errorf("%w: %v", errClose, err)
	}
	c.credits.low, c.credits.high = 1, 2
	switch {
	case slices.Contains(ds, "SMB 2.???"):
		c.neg.smb1Wildcard = true
		return c.send([]response{c.negotiateResponse(dialectWildcard, wire.Header{Command: wire.CmdNegotiate}, nil, 1)})
	case slices.Contains(ds, "SMB 2.002"):
		c.negotiated = true
		c.neg.dialect = Dialect202
		c.neg.clientDialects = []uint16{Dialect202}
		c.neg.secMode = c.serverSecMode()
		return c.send([]response{c.negotiateResponse(Dialect202, wire.Header{Command: wire.CmdNegotiate}, nil, 1)})
	}
	return fmt.Errorf("%w: SMB1 client without SMB2 dialects", errClose)
}

func (c *conn) serverSecMode() uint16 {
	m := wire.SigningEnabled
	if c.srv.Signing == SigningRequired {
		m |= wire.SigningRequired
	}
	return m
}

// negotiate answers NEGOTIATE: the dialect, the signing and encryption
// algorithms and, for 3.1.1, the pre-authentication hash.
func (c *conn) negotiate(r *request) (r0 response, _ bool, _ error) {
	msg := r.msg
	req, err := wire.ParseNegotiateRequest(msg)
	if err != nil {
		return r.reply(StatusInvalidParameter, nil), true, nil
	}
	best := uint16(0)
	for _, d := range req.Dialects {
		switch d {
		case Dialect202, Dialect210, Dialect300, Dialect302, Dialect311:
			best = max(best, d)
		}
	}
	if best == 0 {
		c.closeAfter = true
		return r.reply(StatusNotSupported, nil), true, nil
	}
	var ctxs []wire.NegotiateContext
	if best == Dialect311 {
		data, ok := req.Context(wire.CtxPreauthIntegrity)
		algs, err := wire.ParseIDList(data, 2)
		if !ok || err != nil || !slices.Contains(algs, wire.HashSHA512) {
			return r.reply(StatusInvalidParameter, nil), true, nil
		}
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return r0, false, err
		}
		pre := le.AppendUint16(nil, 1)
		pre = le.AppendUint16(pre, uint16(len(salt)))
		pre = le.AppendUint16(pre, wire.HashSHA512)
		ctxs = append(ctxs, wire.NegotiateContext{Type: wire.CtxPreauthIntegrity, Data: append(pre, salt...)})
		if data, ok := req.Context(wire.CtxSigning); ok {
			algs, err := wire.ParseIDList(data, 0)
			if err != nil {
				return r.reply(StatusInvalidParameter, nil), true, nil
			}
			alg := smbcrypto.AlgAESCMAC
			if slices.Contains(algs, smbcrypto.AlgAESGMAC) {
				alg = smbcrypto.AlgAESGMAC
				c.neg.gmac = true
			}
			d := le.AppendUint16(nil, 1)
			ctxs = append(ctxs, wire.NegotiateContext{Type: wire.CtxSigning, Data: le.AppendUint16(d, alg)})
		}
		c.neg.preauth = smbcrypto.PreauthUpdate([smbcrypto.PreauthSize]byte{}, msg)
	}
	encCtx, err := c.negotiateEncryption(best, req.Capabilities, req)
	if err != nil {
		return r.reply(StatusInvalidParameter, nil), true, nil
	}
	if encCtx != nil {
		ctxs = append(ctxs, *encCtx)
	}
	c.negotiated = true
	c.neg.dialect = best
	c.neg.clientGUID = req.ClientGUID
	c.neg.clientSecMode = req.SecurityMode
	c.neg.clientCaps = req.Capabilities
	c.neg.clientDialects = req.Dialects
	c.neg.secMode = c.serverSecMode()
	resp := c.negotiateResponse(best, r.hdr, ctxs, r.credits)
	if best == Dialect311 {
		resp.after = func(b []byte) { c.neg.preauth = smbcrypto.PreauthUpdate(c.neg.preauth, b) }
	}
	c.log.Debug("smb2 negotiated", slog.String("dialect", fmt.Sprintf("%04x", best)))
	return resp, true, nil
}

func (c *conn) negotiateResponse(dialect uint16, h wire.Header, ctxs []wire.NegotiateContext, credits uint16) response {
	nr := wire.NegotiateResponse{
		SecurityMode:    c.serverSecMode(),
		Dialect:         dialect,
		Capabilities:    c.serverCaps(),
		ServerGUID:      c.srv.guid,
		MaxTransactSize: DefaultMaxIOSize,
		MaxReadSize:     DefaultMaxIOSize,
		MaxWriteSize:    DefaultMaxIOSize,
		SystemTime:      filetime(c.srv.now()),
		SecurityBuffer:  c.srv.acceptorHint(),
		Contexts:        ctxs,
	}
	return reply(&h, StatusSuccess, credits, nr.Append(make([]byte, wire.HeaderSize, 512))[wire.HeaderSize:])
}

func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// validateNegotiate answers FSCTL_VALIDATE_NEGOTIATE_INFO: a mismatch with
// what NEGOTIATE saw ends the connection. The answer is always signed.
func (c *conn) validateNegotiate(req *wire.IoctlRequest) result {
	if c.neg.dialect < Dialect300 {
		return fail(StatusNotSupported)
	}
	v, err := wire.ParseValidateNegotiateInfo(req.Input)
	if err != nil {
		return fail(StatusInvalidParameter)
	}
	if v.Capabilities != c.neg.clientCaps || v.GUID != c.neg.clientGUID || v.SecurityMode != c.neg.clientSecMode || !slices.Equal(v.Dialects, c.neg.clientDialects) {
		// A mismatch means someone tampered with the NEGOTIATE.
		c.log.Warn("smb2 VALIDATE_NEGOTIATE_INFO mismatch")
		c.closeAfter = true
		c.kill()
		return fail(StatusAccessDenied)
	}
	out := wire.AppendValidateNegotiateResponse(nil, c.serverCaps(), c.srv.guid, c.neg.secMode, c.neg.dialect)
	return result{st: StatusSuccess, body: wire.AppendIoctlResponse(nil, req.CtlCode, req.FileID, out), sign: true}
}
