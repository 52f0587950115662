package throttle_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latch/latch/internal/fail"
	"github.com/latch/latch/internal/throttle"
)

// TestErrorKinds: an unreachable counter store is fail.Unavailable; a
// refused attempt's Err is fail.Throttled with the verdict's wait, an
// accepted one's nil.
func TestErrorKinds(t *testing.T) {
	err := fmt.Errorf("throttle: reserve: %w: %w", throttle.ErrUnavailable, errors.New("EOF"))
	if !errors.Is(err, fail.Unavailable) || !errors.Is(err, throttle.ErrUnavailable) {
		t.Errorf("%v: not fail.Unavailable, or not ErrUnavailable", err)
	}
	if err := (throttle.Verdict{}).Err(); err != nil {
		t.Errorf("accepted verdict: Err = %v, want nil", err)
	}
	v := throttle.Verdict{RetryAfter: 90 * time.Second, Scope: throttle.ScopeAccount}
	err = v.Err()
	if fail.KindOf(err) != fail.Throttled || fail.RetryAfterOf(err) != 90*time.Second {
		t.Errorf("refused verdict: Err = %v (kind %v, retry after %v), want throttled, 90s", err, fail.KindOf(err), fail.RetryAfterOf(err))
	}
}
