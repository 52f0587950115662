package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// TestExitStatus: the exit status comes from the error's kind; a
// usageError is exitUsage whatever it holds (user create with a taken
// email), everything else that failed is exitError.
func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"usage error", usageError{errors.New(`want "user disable EMAIL"`)}, exitUsage},
		{"usage error holding a conflict", usageError{fmt.Errorf("create: %w", user.ErrEmailTaken)}, exitUsage},
		{"wrapped usage error", fmt.Errorf("user: %w", usageError{errors.New("bad flag")}), exitUsage},
		{"invalid input", fmt.Errorf("set role: %w", user.ErrInvalid), exitUsage},
		{"not found", fmt.Errorf("no user with email x: %w", user.ErrNotFound), exitError},
		{"unavailable", fmt.Errorf("revoke: %w", session.ErrUnavailable), exitError},
		{"throttled", fail.Throttle("t", 1), exitError},
		{"unclassified", errors.New("boom"), exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitStatus(tt.err); got != tt.want {
				t.Errorf("exitStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	// The usage error still matches what it holds.
	if err := (usageError{user.ErrEmailTaken}); !errors.Is(err, user.ErrEmailTaken) || err.Error() != user.ErrEmailTaken.Error() {
		t.Errorf("usageError{ErrEmailTaken}: Is %v, Error %q", errors.Is(err, user.ErrEmailTaken), err.Error())
	}
}
