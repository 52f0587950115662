package fail_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latch/latch/internal/fail"
)

func TestKindOf(t *testing.T) {
	errNotFound := fail.New(fail.NotFound, "user: not found")
	cause := errors.New("dial tcp: connection refused")
	tests := []struct {
		name string
		err  error
		want fail.Kind
	}{
		{"nil", nil, fail.Internal},
		{"plain error", cause, fail.Internal},
		{"sentinel", errNotFound, fail.NotFound},
		{"sentinel wrapped with fmt", fmt.Errorf("load: %w", errNotFound), fail.NotFound},
		{"wrapped cause", fail.Wrap(fail.Unavailable, cause, "session: get"), fail.Unavailable},
		{"outermost wins", fail.Wrap(fail.Unavailable, errNotFound, ""), fail.Unavailable},
		{"bare kind", fmt.Errorf("x: %w", fail.Busy), fail.Busy},
		{"joined", errors.Join(cause, fail.New(fail.Conflict, "taken")), fail.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fail.KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestIsMatchesKindAndCause(t *testing.T) {
	cause := errors.New("EOF")
	err := fmt.Errorf("outer: %w", fail.Wrap(fail.Unavailable, cause, "redis"))
	if !errors.Is(err, fail.Unavailable) {
		t.Error("errors.Is(err, fail.Unavailable) = false")
	}
	if errors.Is(err, fail.Busy) {
		t.Error("errors.Is(err, fail.Busy) = true for an Unavailable error")
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is lost")
	}
	if got, want := err.Error(), "outer: redis: EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if fail.Wrap(fail.Invalid, nil, "x") != nil {
		t.Error("Wrap of nil is not nil")
	}
}

func TestRetryAfterOf(t *testing.T) {
	err := fmt.Errorf("login: %w", fail.Throttle("throttle: account", 3*time.Second))
	if got := fail.RetryAfterOf(err); got != 3*time.Second {
		t.Errorf("RetryAfterOf = %v, want 3s", got)
	}
	if !errors.Is(err, fail.Throttled) {
		t.Error("a Throttle error is not Throttled")
	}
	if got := fail.RetryAfterOf(fail.New(fail.Busy, "b")); got != 0 {
		t.Errorf("RetryAfterOf without a hint = %v, want 0", got)
	}
}
