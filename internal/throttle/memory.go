package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultMaxKeys bounds the keys a memory Limiter holds when NewMemory is
// given maxKeys <= 0: 1<<18 keys, a few tens of MiB at most.
const DefaultMaxKeys = 1 << 18

// NewMemory returns a Limiter whose state lives in this process: for the
// embedded single-instance mode. It gives the same answers as NewRedis's
// (one mutex makes each step atomic). maxKeys bounds memory: beyond it the
// least recently used keys are dropped (<= 0 means DefaultMaxKeys); a
// dropped key is a quota back at rest, so under a flood of new keys an old
// attacker's count may be forgotten early, but memory never grows without
// bound. now is the clock (nil = time.Now); tests pass a fake one to cross
// periods without sleeping.
func NewMemory(q Quotas, maxKeys int, now func() time.Time) (*Limiter, error) {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	keys, err := lru.New[string, time.Time](maxKeys)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	return &Limiter{quotas: q, b: &memoryBackend{keys: keys, now: now}}, nil
}

// memoryBackend keeps each quota key's TAT (and each sampling key's end of
// sampling period) in an LRU cache; a key at rest may be absent.
type memoryBackend struct {
	mu   sync.Mutex
	keys *lru.Cache[string, time.Time]
	now  func() time.Time
}

func (b *memoryBackend) reserve(_ context.Context, slots []slot, sampleKey string) (int, time.Duration, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	refused, wait := -1, time.Duration(0)
	tats := make([]time.Time, len(slots))
	for i, s := range slots {
		tat, ok := b.keys.Get(s.key)
		if !ok || tat.Before(now) {
			tat = now
		}
		tats[i] = tat.Add(s.q.Interval())
		if w := tats[i].Sub(now) - s.q.Period; w > 0 {
			if refused < 0 {
				refused = i
			}
			wait = max(wait, w)
		}
	}
	if refused < 0 {
		for i, s := range slots {
			b.keys.Add(s.key, tats[i])
		}
		return -1, 0, false, nil
	}
	sample := false
	if sampleKey != "" {
		if until, ok := b.keys.Get(sampleKey); !ok || !until.After(now) {
			b.keys.Add(sampleKey, now.Add(samplePeriod))
			sample = true
		}
	}
	return refused, wait, sample, nil
}

func (b *memoryBackend) refund(_ context.Context, slots []slot) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for _, s := range slots {
		tat, ok := b.keys.Peek(s.key)
		if !ok {
			continue
		}
		if tat = tat.Add(-s.q.Interval()); tat.After(now) {
			b.keys.Add(s.key, tat)
		} else {
			b.keys.Remove(s.key)
		}
	}
	return nil
}
