// Command netsess lists, inspects and closes the sessions of Windows-style
// servers (NetSessionEnum, NetSessionGetInfo, NetSessionDel), and serves
// them.
//
// Run "netsess help" for the commands.
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
