package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/smb2/pipeclient"
)

// Messages. What a user reads says what failed in the user's terms, once,
// without the Go package names of the layers it came through, and, when
// the cause is likely something the user can change, what to do next.

// internalPrefixes are the package names lower layers start their error
// texts with; they mean nothing to a user.
var internalPrefixes = []string{"client", "dcerpc", "epm", "ntlm", "spnego", "srvs", "ndr", "rpcauth", "session", "server", "pipeclient", "smb2", "scan", "fleet", "directory", "bloodhound"}

// userText is err's text without package prefixes ("dcerpc: ") and
// without a part that repeats an earlier one ("STATUS_LOGON_FAILURE
// (0xC000006D): smb2 session setup: STATUS_LOGON_FAILURE"), with control
// characters escaped.
func userText(err error) string {
	var parts []string
	for p := range strings.SplitSeq(err.Error(), ": ") {
		if isInternalPrefix(p) || p == "" {
			continue
		}
		dup := false
		for _, q := range parts {
			if q == p || strings.HasPrefix(q, p+" (") || strings.HasPrefix(q, p+",") {
				dup = true
				break
			}
		}
		if !dup {
			parts = append(parts, p)
		}
	}
	return sessfmt.Escape(strings.Join(parts, ": "))
}

func isInternalPrefix(s string) bool {
	for _, p := range internalPrefixes {
		if s == p {
			return true
		}
	}
	return false
}

// failContext is what a message may mention beyond the error: how the
// command connected and what it asked for.
type failContext struct {
	cf *connFlags
	// cmd is list, get or del; client and user its --client and --user.
	cmd, client, user string
}

// describe returns the one-line message for a failure of a client
// command, and hints: what the user can try.
func describe(err error, fc failContext) (string, []string) {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return userText(err), nil
	}
	var hints []string
	anonymous := fc.cf != nil && fc.cf.user == "" && fc.cf.kerb.mechanismRequested == ""
	transport := client.DefaultTransport
	if fc.cf != nil {
		transport = fc.cf.transport
	}
	switch ce.Kind {
	case client.KindTimeout:
		msg := "timeout: no answer"
		if fc.cf != nil && fc.cf.timeout > 0 {
			msg += " within " + fc.cf.timeout.String() + " (--timeout)"
		}
		return msg + " " + during(ce), nil
	case client.KindCanceled:
		return "interrupted", nil
	case client.KindUnreachable:
		var ope *net.OpError
		if errors.As(err, &ope) && ope.Op == "dial" {
			return "unreachable: cannot connect (" + userText(innermost(err)) + ")", nil
		}
		msg := "unreachable: the connection was lost " + during(ce) + " (" + userText(innermost(err)) + ")"
		return msg, transportHints(ce, err, transport)
	case client.KindLogonFailure:
		if fc.cf != nil {
			if msg, hints, ok := kerberosFailure(err, fc.cf.kerb.mechanismRequested); ok {
				return msg, hints
			}
		}
		switch {
		case errors.Is(err, client.ErrGuestLogon):
			hints = append(hints, "check the user name and password; --guest accepts the guest session (unsigned: anyone on the path could answer in the server's name)")
			return "logon failure: " + userText(client.ErrGuestLogon), hints
		case anonymous:
			hints = append(hints, "the server refuses null sessions: log on with -U USER (the password from -U USER%PASSWORD, --password-file, "+passwordEnv+" or a prompt)")
			return "logon failure: the server refused the anonymous logon (null session" + statusSuffix(err, "; ") + ")", hints
		}
		return "logon failure: the server refused the credentials" + statusSuffix(err, " ("), nil
	case client.KindNotFound:
		if fc.cmd == "del" || fc.cmd == "get" {
			what := "no session"
			if fc.user != "" {
				what += " of user " + sessfmt.Escape(fc.user)
			}
			if fc.client != "" {
				what += " from client " + sessfmt.Escape(client.UNC(fc.client))
			}
			return what + " on the server (it answered " + ce.Status.Name() + ")", nil
		}
	case client.KindFault:
		if errors.Is(err, client.ErrConnectLevel) {
			hints = append(hints, "the server refuses calls at DCE/RPC auth level connect (Samba and netsess serve do by default), or it refused the credentials: both get this fault. Without --auth connect (integrity is the default) the two are told apart")
		}
	case client.KindProtocol:
		return "protocol error " + during(ce) + ": " + userText(innermost(err)), transportHints(ce, err, transport)
	}
	return userText(ce), hints
}

// during says which step failed.
func during(ce *client.Error) string {
	if pe := (*pipeclient.Error)(nil); errors.As(ce, &pe) && pe.Op != "" {
		return "during the SMB " + pe.Op
	}
	switch ce.Op {
	case "connect":
		return "while connecting"
	case "bind":
		return "during the DCE/RPC bind"
	case "":
		return ""
	}
	return "during " + ce.Op
}

// innermost is the error at the bottom of err's chain, where the cause
// is named (EOF, connection reset by peer).
func innermost(err error) error {
	for {
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if es := u.Unwrap(); len(es) > 0 {
				next = es[len(es)-1]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}

// statusSuffix names the NTSTATUS or fault of a logon refusal after
// sep; with sep " (" it closes the parenthesis.
func statusSuffix(err error, sep string) string {
	s := ""
	var pe *pipeclient.Error
	var ce *client.Error
	switch {
	case errors.As(err, &pe) && pe.Status != 0:
		s = pe.Status.String()
	case errors.As(err, &ce) && ce.Fault != 0:
		s = fmt.Sprintf("fault 0x%08x", ce.Fault)
	}
	switch {
	case s == "":
		return ""
	case sep == " (":
		return sep + s + ")"
	}
	return sep + s
}

// transportHints suggest the other transport when the connection was made
// but the server did not speak the one chosen.
func transportHints(ce *client.Error, err error, transport string) []string {
	var pe *pipeclient.Error
	switch {
	case transport == client.TransportSMB && errors.As(err, &pe) && pe.Op == "negotiate":
		return []string{"the port did not answer the SMB2 negotiate: if it serves ncacn_ip_tcp (such as netsess serve --rpc), use --transport tcp"}
	case transport == client.TransportTCP && ce.Op == "bind":
		return []string{"the port did not answer the DCE/RPC bind: if it is an SMB port (445, or netsess serve --smb), use --transport smb (the default)"}
	}
	return nil
}
