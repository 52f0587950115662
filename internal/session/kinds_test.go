package session_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/session"
)

// TestErrorKinds: each sentinel has the kind the server answers it by
// (errors.go), also when wrapped, and still matches itself.
func TestErrorKinds(t *testing.T) {
	tests := []struct {
		err  error
		want fail.Kind
	}{
		{session.ErrUnavailable, fail.Unavailable},
		{session.ErrGone, fail.Unauthorized},
		{session.ErrRotated, fail.Conflict},
		{session.ErrMalformedCookie, fail.Invalid},
		{session.ErrBadCursor, fail.Invalid},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("session: redis get: %w: %w", tt.err, errors.New("EOF"))
		if got := fail.KindOf(wrapped); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", wrapped, got, tt.want)
		}
		if !errors.Is(wrapped, tt.want) || !errors.Is(wrapped, tt.err) {
			t.Errorf("%v: errors.Is with its kind %v or itself is false", wrapped, tt.want)
		}
	}
}
