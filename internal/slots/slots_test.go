package slots

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBounds: n callers hold slots, maxQueued more may wait, and the next
// is refused at once; a waiter gets the slot that is released.
func TestBounds(t *testing.T) {
	p := New(2, 1, time.Hour) // a wait the test never reaches: it releases or cancels
	for range 2 {
		if err := p.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan error, 1)
	go func() { got <- p.Acquire(t.Context()) }()
	for p.Queued() != 1 { // until the third caller waits
		time.Sleep(time.Millisecond)
	}
	if err := p.Acquire(t.Context()); !errors.Is(err, ErrBusy) {
		t.Errorf("a fourth caller with the queue full: err %v, want ErrBusy at once", err)
	}
	p.Release()
	if err := <-got; err != nil {
		t.Errorf("the waiter after a release: %v, want the slot", err)
	}
	if p.InUse() != 2 || p.Queued() != 0 {
		t.Errorf("in use %d, queued %d; want 2 and 0", p.InUse(), p.Queued())
	}
}

// TestNoQueue: maxQueued 0 means a full pool refuses at once; a negative
// one lets any number wait.
func TestNoQueue(t *testing.T) {
	p := New(1, 0, time.Hour)
	if err := p.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Acquire(t.Context()); !errors.Is(err, ErrBusy) {
		t.Errorf("err %v, want ErrBusy", err)
	}
	unbounded := New(1, -1, time.Hour)
	if err := unbounded.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan error, 1)
	go func() { got <- unbounded.Acquire(ctx) }()
	cancel()
	if err := <-got; !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled waiter: err %v, want ErrBusy and context.Canceled", err)
	}
}

// TestWaitExpires: with every slot taken, a caller gives up after the
// pool's wait (1 ns here, so the test does not depend on the clock).
func TestWaitExpires(t *testing.T) {
	p := New(1, -1, time.Nanosecond)
	if err := p.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Acquire(t.Context()); !errors.Is(err, ErrBusy) {
		t.Errorf("err %v, want ErrBusy", err)
	}
}

// TestQueuedWithoutBound: Queued counts waiting callers when any number
// may wait too (the password hasher's pool, whose queue depth is a
// metric), and drops back to 0 when they are done.
func TestQueuedWithoutBound(t *testing.T) {
	p := New(1, -1, time.Hour)
	if err := p.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 2)
	for range 2 {
		go func() { got <- p.Acquire(t.Context()) }()
	}
	for p.Queued() != 2 { // until both wait
		time.Sleep(time.Millisecond)
	}
	p.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if q := p.Queued(); q != 1 {
		t.Errorf("queued %d after one waiter got the slot, want 1", q)
	}
	p.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if q := p.Queued(); q != 0 {
		t.Errorf("queued %d after both got the slot, want 0", q)
	}
}
