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
// memory (make bench reports RSS). Set GOGC to override.
const defaultGCPercent = 400

// defaultMemoryLimit is the soft memory limit (GOMEMLIMIT) when the
// environment sets none: 320 MiB. With GOGC at 400 the heap could grow to
// five times the live data; a burst of logins makes every argon2id hash
// (19 MiB each at the default cost) garbage at once, and make bench saw
// 473 MiB of RSS under a 200-connection login flood. Near this limit the
// collector runs as often as it must, so the process stays well under the
// 512 MiB the issue allows, while Latch's live heap (tens of MiB) never
// comes close to it. Set GOMEMLIMIT to override.
const defaultMemoryLimit = 320 << 20

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
