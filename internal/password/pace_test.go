package password

import (
	"context"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latch/latch/internal/clocktest"
)

// fakePace gives p a fake clock and records the waits it asks for instead
// of sleeping.
func fakePace(p *pacer) (*clocktest.Clock, *[]time.Duration) {
	c := clocktest.New(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	var slept []time.Duration
	p.now = c.Now
	p.sleep = func(_ context.Context, d time.Duration) { slept = append(slept, d) }
	return c, &slept
}

func TestPacerTarget(t *testing.T) {
	p := newPacer()
	c, slept := fakePace(p)
	ms := time.Millisecond

	p.observe("argon2id current", 40*ms)
	p.observe("bcrypt cost 10", 70*ms)
	p.observe("argon2id old", 3*ms)
	if got := p.target(); got != 70*ms {
		t.Errorf("target = %v, want the largest average, 70ms", got)
	}
	// The moving average moves by 1/8 of each new sample's difference.
	p.observe("bcrypt cost 10", 150*ms)
	if got := p.target(); got != 80*ms {
		t.Errorf("target after a 150ms bcrypt sample = %v, want 70 + (150-70)/8 = 80ms", got)
	}

	p.pad(t.Context(), 45*ms) // a failure that took 45ms waits 35ms more
	p.pad(t.Context(), 80*ms) // one that took as long waits not at all
	p.pad(t.Context(), 2*time.Second)
	if want := []time.Duration{35 * ms}; !slices.Equal(*slept, want) {
		t.Errorf("waits = %v, want %v", *slept, want)
	}

	// Kinds not verified for a day stop counting.
	c.Advance(23 * time.Hour)
	p.observe("argon2id current", 40*ms)
	c.Advance(2 * time.Hour)
	if got := p.target(); got != 40*ms {
		t.Errorf("target a day after the last bcrypt verification = %v, want 40ms", got)
	}

	// The cap.
	p.observe("bcrypt cost 16", 4*time.Second)
	if got := p.target(); got != MaxFailureDelay {
		t.Errorf("target with a 4s hash = %v, want the cap %v", got, MaxFailureDelay)
	}
}

func TestPacerKindsBounded(t *testing.T) {
	p := newPacer()
	fakePace(p)
	for i := range 3 * maxPaceKinds {
		p.observe(string(rune('a'+i)), time.Millisecond)
	}
	if len(p.kinds) > maxPaceKinds {
		t.Errorf("%d kinds tracked, want at most %d", len(p.kinds), maxPaceKinds)
	}
}

// TestVerifyTimesEachKind: Verify records its hashing time under the
// hash's kind (bcrypt by cost, argon2id by parameters), VerifyDummy under
// the current parameters, and PadFailure pads to the slowest.
func TestVerifyTimesEachKind(t *testing.T) {
	h := newTestHasher(t)
	c, slept := fakePace(h.pace)
	h.pace.kinds = map[string]*paceKind{}
	// Each clock read moves time on: every verification "takes" a step.
	step := map[string]time.Duration{}
	now := h.pace.now
	var current time.Duration
	h.pace.now = func() time.Time { c.Advance(current); return now() }

	old := NewHasher(Params{Memory: 32, Iterations: 1, Parallelism: 1}, 1, 0)
	oldHash, err := old.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	step["bcrypt cost 04"] = 70 * time.Millisecond
	step[fastParams.kind()] = 40 * time.Millisecond
	step["argon2id m=32,t=1,p=1"] = 3 * time.Millisecond
	for kind, encoded := range map[string]string{"bcrypt cost 04": string(bc), "argon2id m=32,t=1,p=1": oldHash, fastParams.kind(): ""} {
		current = step[kind] // the clock read after hashing is one step later
		if encoded == "" {
			_, err = h.VerifyDummy(t.Context(), "wrong")
		} else {
			_, err = h.Verify(t.Context(), "wrong", encoded)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	current = 0
	for kind, want := range step {
		if k := h.pace.kinds[kind]; k == nil || k.avg != want {
			t.Errorf("kind %q: %+v, want an average of %v", kind, k, want)
		}
	}
	h.PadFailure(t.Context(), 40*time.Millisecond)
	if want := []time.Duration{30 * time.Millisecond}; !slices.Equal(*slept, want) {
		t.Errorf("a 40ms failure waited %v, want %v (padded to the bcrypt average)", *slept, want)
	}
}

func TestCheaperThanCurrent(t *testing.T) {
	h := NewHasher(Params{Memory: 128, Iterations: 2, Parallelism: 1}, 1, 0)
	hashWith := func(p Params) string {
		t.Helper()
		enc, err := NewHasher(p, 1, 0).Hash(t.Context(), "pw")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"current", hashWith(Params{Memory: 128, Iterations: 2, Parallelism: 1}), false},
		{"less memory", hashWith(Params{Memory: 64, Iterations: 2, Parallelism: 1}), true},
		{"fewer iterations", hashWith(Params{Memory: 128, Iterations: 1, Parallelism: 1}), true},
		{"same work in other lanes", hashWith(Params{Memory: 128, Iterations: 2, Parallelism: 2}), false},
		{"costlier", hashWith(Params{Memory: 256, Iterations: 2, Parallelism: 1}), false},
		{"bcrypt (padded instead)", string(bc), false},
		{"malformed", "$argon2id$nope", false},
	}
	for _, tt := range tests {
		if got := h.CheaperThanCurrent(tt.encoded); got != tt.want {
			t.Errorf("%s: CheaperThanCurrent = %v, want %v", tt.name, got, tt.want)
		}
	}
}
