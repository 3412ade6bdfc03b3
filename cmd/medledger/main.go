// Command medledger runs a node of the medledger permissioned health ledger
// and is its command-line client. See `medledger help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"medledger/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
