// Command latch runs Latch, a web application that signs people in with
// server-side sessions. See README.md; `latch --help` lists subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultGCPercent is the garbage collector's target (GOGC) when the
// environment sets none: 400 instead of Go's 100. Latch's live heap is
// small (tens of MiB: the session data of requests in flight, parsed
// templates, pools), and a CPU profile of a signed-in page under load put
// about a fifth of the CPU in the collector; at 400 the heap may grow to
// five times the live data between collections, which measured 15–50 %
// more signed-in pages per second on 2 cores for well under 512 MiB of
// memory (make bench reports RSS). Set GOGC (and GOMEMLIMIT) to override.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
