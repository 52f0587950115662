// Package slots bounds how much of one kind of CPU-heavy work runs at once
// (password hashing, password strength checks): a fixed number of slots,
// a bounded wait for one, and an optional bound on how many callers may
// wait. Work an anonymous client can trigger then costs bounded CPU, and
// a burst beyond the bound is refused at once instead of queueing without
// end. It imports nothing of Latch but internal/fail (ErrBusy is of kind
// fail.Busy).
package slots

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/latch/latch/internal/fail"
)

// ErrBusy means no slot was free within the wait (or the queue of waiting
// callers was full, or the caller's context ended first). Callers wrap it
// in their own error (password.ErrBusy, user.ErrStrengthBusy), which the
// server answers with 503 and Retry-After. Its kind is fail.Busy.
var ErrBusy = fail.New(fail.Busy, "slots: all busy")

// Pool is a set of slots. It is safe for concurrent use.
type Pool struct {
	slots chan struct{}
	queue chan struct{} // nil: any number of callers may wait
	wait  time.Duration
	// waiting counts the callers waiting for a slot now, bounded queue or
	// not (Queued; the hash queue depth metric).
	waiting atomic.Int64
}

// New returns a Pool of n slots (n >= 1) in which a caller waits at most
// wait for a slot. maxQueued bounds how many callers may wait at once
// (beyond it Acquire fails at once); maxQueued < 0 means no bound, and
// 0 that no caller waits.
func New(n, maxQueued int, wait time.Duration) *Pool {
	p := &Pool{slots: make(chan struct{}, max(n, 1)), wait: wait}
	if maxQueued >= 0 {
		p.queue = make(chan struct{}, maxQueued)
	}
	return p
}

// Acquire takes a slot, waiting at most the pool's wait, or until ctx
// ends. Errors wrap ErrBusy (and ctx's error when it ended). Each nil
// return must be paired with one Release.
func (p *Pool) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if p.queue != nil {
		select {
		case p.queue <- struct{}{}:
		default:
			return ErrBusy
		}
		defer func() { <-p.queue }()
	}
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

// Release frees a slot taken by Acquire.
func (p *Pool) Release() { <-p.slots }

// InUse returns how many slots are taken now (for tests and metrics).
func (p *Pool) InUse() int { return len(p.slots) }

// Queued returns how many callers wait for a slot now (bounded queue or
// not; callers refused at once are not counted).
func (p *Pool) Queued() int { return int(p.waiting.Load()) }
