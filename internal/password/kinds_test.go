package password

import (
	"errors"
	"fmt"
	"testing"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/slots"
)

// TestErrorKinds: a full hashing pool is fail.Busy (503 with Retry-After);
// a stored hash Latch cannot read is a fault (fail.Internal, 500), not
// input.
func TestErrorKinds(t *testing.T) {
	busy := fmt.Errorf("%w: %w", ErrBusy, slots.ErrBusy)
	if fail.KindOf(busy) != fail.Busy || !errors.Is(busy, ErrBusy) {
		t.Errorf("%v: kind %v, want busy and ErrBusy", busy, fail.KindOf(busy))
	}
	bad := fmt.Errorf("%w: bcrypt cost out of range", ErrMalformedHash)
	if fail.KindOf(bad) != fail.Internal || !errors.Is(bad, ErrMalformedHash) {
		t.Errorf("%v: kind %v, want internal and ErrMalformedHash", bad, fail.KindOf(bad))
	}
}
