package slots

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latch/latch/internal/fail"
)

// TestBusyKind: a pool with no free slot and no room to wait answers an
// error of kind fail.Busy that is ErrBusy.
func TestBusyKind(t *testing.T) {
	p := New(1, 0, time.Hour) // maxQueued 0: nobody waits, so Acquire fails at once
	if err := p.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	err := p.Acquire(context.Background())
	if !errors.Is(err, ErrBusy) || fail.KindOf(err) != fail.Busy {
		t.Errorf("second Acquire: %v (kind %v), want ErrBusy of kind busy", err, fail.KindOf(err))
	}
}
