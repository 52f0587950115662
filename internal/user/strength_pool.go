package user

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/trustelem/zxcvbn"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/slots"
)

// ErrStrengthBusy means a StrengthChecker had no free slot: its queue was
// full, or no slot became free within its wait time or before the context
// ended (then the error also matches ctx.Err()). The server answers 503
// with Retry-After, as for password.ErrBusy. Its kind is fail.Busy.
var ErrStrengthBusy = fail.New(fail.Busy, "user: too many password strength checks in progress")

// Defaults of StrengthOptions.
const (
	// DefaultStrengthWait is how long a queued check waits for a slot.
	DefaultStrengthWait = time.Second
	// DefaultStrengthQueuePerSlot is how many checks may wait per slot.
	DefaultStrengthQueuePerSlot = 4
)

// StrengthOptions configures a StrengthChecker. Zero fields take defaults.
type StrengthOptions struct {
	// Judge is the estimator; nil means zxcvbn.PasswordStrength.
	Judge Judge
	// MaxConcurrent is how many checks run at once; <= 0 means
	// runtime.NumCPU().
	MaxConcurrent int
	// MaxQueued is how many checks may wait for a slot; beyond that a
	// check fails at once with ErrStrengthBusy. 0 means
	// DefaultStrengthQueuePerSlot × MaxConcurrent; < 0 means none waits.
	MaxQueued int
	// Wait bounds how long a queued check waits; <= 0 means
	// DefaultStrengthWait.
	Wait time.Duration
}

// StrengthChecker runs CheckPasswordStrength with bounded concurrency, like
// password.Hasher does for hashes: at most MaxConcurrent checks at once,
// at most MaxQueued waiting (each at most Wait, or until its context ends),
// and ErrStrengthBusy beyond that. Every check costs at most a few
// milliseconds of one core (MaxJudgedRunes), so a burst of registrations,
// password changes or resets occupies at most MaxConcurrent cores for a
// bounded time and cannot starve sign-ins (OWASP ASVS 5.0 V2.4.1: bound the
// resources an anonymous client can consume). It is safe for concurrent
// use; create it with NewStrengthChecker.
type StrengthChecker struct {
	judge Judge
	pool  *slots.Pool // NumCPU checks at once, a bounded queue, a bounded wait
}

// NewStrengthChecker returns a StrengthChecker configured by o.
func NewStrengthChecker(o StrengthOptions) *StrengthChecker {
	if o.Judge == nil {
		o.Judge = zxcvbn.PasswordStrength
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = runtime.NumCPU()
	}
	switch {
	case o.MaxQueued == 0:
		o.MaxQueued = DefaultStrengthQueuePerSlot * o.MaxConcurrent
	case o.MaxQueued < 0:
		o.MaxQueued = 0
	}
	if o.Wait <= 0 {
		o.Wait = DefaultStrengthWait
	}
	return &StrengthChecker{judge: o.Judge, pool: slots.New(o.MaxConcurrent, o.MaxQueued, o.Wait)}
}

// Check is CheckPasswordStrength run in one of c's slots: it returns "" when
// pw is hard enough to guess given hints (see PasswordHints), else the
// message for the person. The error is ErrStrengthBusy (possibly also
// matching ctx.Err()) when no slot could be had; the message is then "".
// Validate pw with ValidatePassword first.
func (c *StrengthChecker) Check(ctx context.Context, pw string, hints ...string) (string, error) {
	if err := c.acquire(ctx); err != nil {
		return "", err
	}
	defer c.release()
	return judgeStrength(c.judge, pw, hints), nil
}

// acquire takes a checking slot (see StrengthOptions for the bounds).
// Errors wrap ErrStrengthBusy.
func (c *StrengthChecker) acquire(ctx context.Context) error {
	if err := c.pool.Acquire(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStrengthBusy, err)
	}
	return nil
}

func (c *StrengthChecker) release() { c.pool.Release() }
