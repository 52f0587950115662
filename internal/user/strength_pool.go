package user

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/trustelem/zxcvbn"
)

// ErrStrengthBusy means a StrengthChecker had no free slot: its queue was
// full, or no slot became free within its wait time or before the context
// ended (then the error also matches ctx.Err()). The server answers 503
// with Retry-After, as for password.ErrBusy.
var ErrStrengthBusy = errors.New("user: too many password strength checks in progress")

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
	// slots holds one token per check in progress.
	slots chan struct{}
	// queue holds one token per check waiting for a slot.
	queue chan struct{}
	wait  time.Duration
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
	return &StrengthChecker{
		judge: o.Judge,
		slots: make(chan struct{}, o.MaxConcurrent),
		queue: make(chan struct{}, o.MaxQueued),
		wait:  o.Wait,
	}
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

// acquire takes a slot: at once when one is free, else after waiting in the
// queue at most c.wait or until ctx ends; with the queue full it fails at
// once.
func (c *StrengthChecker) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStrengthBusy, err)
	}
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.queue <- struct{}{}:
	default:
		return ErrStrengthBusy
	}
	defer func() { <-c.queue }()
	timer := time.NewTimer(c.wait)
	defer timer.Stop()
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrStrengthBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrStrengthBusy, ctx.Err())
	}
}

// release frees a slot taken by acquire.
func (c *StrengthChecker) release() { <-c.slots }
