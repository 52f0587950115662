// Package deadline bounds one I/O operation (a Redis script, an SQL
// statement) so that a stalled dependency answers with an error the caller
// turns into fail.Unavailable instead of hanging the request. It imports
// nothing of Latch.
package deadline

import (
	"context"
	"time"
)

// Bound returns ctx limited to d from now and its cancel function, which
// the caller must call when the operation ends; d <= 0 adds no limit (ctx
// keeps only its own deadline, if any).
func Bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
