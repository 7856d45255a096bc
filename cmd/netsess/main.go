// The go:debug directive below: Samba's self-generated LDAPS and StartTLS
// certificates carry negative serial numbers, which crypto/x509 refuses by
// default, and "netsess scan --ldap DC --ldap-security ldaps|starttls"
// against such a domain controller needs them accepted.

// Command netsess lists, inspects and closes the sessions of Windows-style
// servers (NetSessionEnum, NetSessionGetInfo, NetSessionDel), and serves
// them.
//
// Run "netsess help" for the commands.
//
//go:debug x509negativeserial=1
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
