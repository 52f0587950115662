package user_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/user"
)

// TestErrorKinds: each sentinel has the kind the server and the CLI answer
// it by, also when wrapped, and still matches itself.
func TestErrorKinds(t *testing.T) {
	tests := []struct {
		err  error
		want fail.Kind
	}{
		{user.ErrNotFound, fail.NotFound},
		{user.ErrEmailTaken, fail.Conflict},
		{user.ErrInvalid, fail.Invalid},
		{&user.ValidationError{Field: "email", Message: "Enter an email address"}, fail.Invalid},
		{user.ErrResetInvalid, fail.NotFound},
		{user.ErrStrengthBusy, fail.Busy},
		{user.ErrStateCopyNotWritten, fail.Unavailable},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("store: op: %w", tt.err)
		if got := fail.KindOf(wrapped); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", wrapped, got, tt.want)
		}
		if !errors.Is(wrapped, tt.want) || !errors.Is(wrapped, tt.err) {
			t.Errorf("%v: errors.Is with its kind %v or itself is false", wrapped, tt.want)
		}
	}
}
