package deadline

import (
	"context"
	"testing"
	"time"
)

func TestBound(t *testing.T) {
	t.Run("positive sets a deadline within d", func(t *testing.T) {
		before := time.Now()
		ctx, cancel := Bound(t.Context(), time.Hour)
		defer cancel()
		dl, ok := ctx.Deadline()
		if !ok || dl.Before(before.Add(time.Hour)) || dl.After(time.Now().Add(time.Hour)) {
			t.Fatalf("Deadline() = %v, %v; want within an hour of now", dl, ok)
		}
	})
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run("non-positive adds none: "+d.String(), func(t *testing.T) {
			ctx, cancel := Bound(t.Context(), d)
			defer cancel()
			if dl, ok := ctx.Deadline(); ok {
				t.Fatalf("Bound(ctx, %v) set deadline %v", d, dl)
			}
			if ctx.Err() != nil {
				t.Fatalf("Bound(ctx, %v) is done: %v", d, ctx.Err())
			}
		})
	}
	t.Run("keeps the parent's earlier deadline", func(t *testing.T) {
		parent, pcancel := context.WithTimeout(t.Context(), time.Minute)
		defer pcancel()
		want, _ := parent.Deadline()
		ctx, cancel := Bound(parent, time.Hour)
		defer cancel()
		if dl, _ := ctx.Deadline(); !dl.Equal(want) {
			t.Fatalf("Deadline() = %v, want the parent's %v", dl, want)
		}
	})
	t.Run("cancel ends the context", func(t *testing.T) {
		for _, d := range []time.Duration{0, time.Hour} {
			ctx, cancel := Bound(t.Context(), d)
			cancel()
			if ctx.Err() != context.Canceled {
				t.Fatalf("after cancel, Err() = %v", ctx.Err())
			}
		}
	})
}
