package password

import (
	"context"
	"sync"
	"time"
)

// Failure padding (Hasher.PadFailure). A failed login for an unknown email
// verifies a dummy hash made with the current parameters; a failed login
// for a real account verifies its stored hash, which may have other costs
// (an imported bcrypt hash, an argon2id hash from before a cost change).
// Hashes cheaper than the current parameters also pay for a dummy
// verification (the server calls VerifyDummy when CheaperThanCurrent);
// hashes costlier than them cannot be matched by computing, so every
// failed login is padded with a timer (no CPU) to the largest recent
// average verification time among the kinds of hash verified, as
// Authelia's moving-average delay does for its first factor. An attacker
// timing failures then sees the same duration for every account and for
// none.

// MaxFailureDelay caps the padding of a failed login: a very costly
// stored hash must not make every failure wait for it.
const MaxFailureDelay = time.Second

// paceMemory is how long a kind of hash counts after its last
// verification: a bcrypt account rehashed at its last login stops
// padding everyone's failures a day later.
const paceMemory = 24 * time.Hour

// maxPaceKinds bounds the kinds tracked (distinct argon2id parameter sets
// and bcrypt costs in the user table: a handful in practice).
const maxPaceKinds = 32

// pacer keeps an exponential moving average of verification time per kind
// of hash. It is safe for concurrent use.
type pacer struct {
	now   func() time.Time                           // time.Now outside tests
	sleep func(ctx context.Context, d time.Duration) // a timer wait outside tests
	max   time.Duration

	mu    sync.Mutex
	kinds map[string]*paceKind
}

type paceKind struct {
	avg  time.Duration // moving average, weight 1/8 for each new sample
	seen time.Time     // last sample
}

func newPacer() *pacer {
	return &pacer{now: time.Now, sleep: sleepContext, max: MaxFailureDelay, kinds: map[string]*paceKind{}}
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// observe records that verifying a hash of kind took d.
func (p *pacer) observe(kind string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	k, ok := p.kinds[kind]
	if !ok {
		if len(p.kinds) >= maxPaceKinds {
			p.forgetOldest()
		}
		p.kinds[kind] = &paceKind{avg: d, seen: now}
		return
	}
	k.avg += (d - k.avg) / 8
	k.seen = now
}

func (p *pacer) forgetOldest() {
	var oldest string
	for name, k := range p.kinds {
		if oldest == "" || k.seen.Before(p.kinds[oldest].seen) {
			oldest = name
		}
	}
	delete(p.kinds, oldest)
}

// target is what every failed login is padded to: the largest average of
// the kinds verified within paceMemory, at most p.max.
func (p *pacer) target() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	cutoff := p.now().Add(-paceMemory)
	var t time.Duration
	for _, k := range p.kinds {
		if k.seen.After(cutoff) {
			t = max(t, k.avg)
		}
	}
	return min(t, p.max)
}

// pad waits until a failure that has spent spent reaches target.
func (p *pacer) pad(ctx context.Context, spent time.Duration) {
	if d := p.target() - spent; d > 0 {
		p.sleep(ctx, d)
	}
}

// PadFailure waits, with a timer (no CPU, no hashing slot), until a failed
// login that has spent spent since its password verification began has
// taken the failure delay: the largest recent average verification time
// among the kinds of hash this Hasher verified in the last 24 hours
// (argon2id per parameter set, bcrypt per cost; the dummy hash included),
// at most MaxFailureDelay. It returns at once when spent is already
// longer, and early when ctx ends. Call it on every failed login whose
// password was verified, so that the answer takes as long whatever the
// account's stored hash, and for no account.
func (h *Hasher) PadFailure(ctx context.Context, spent time.Duration) {
	h.pace.pad(ctx, spent)
}

// CheaperThanCurrent reports whether verifying encoded costs less than
// verifying a hash made with the Hasher's parameters: an argon2id hash
// whose memory × iterations is smaller (argon2's work grows with both;
// lanes only split it). bcrypt and malformed hashes give false. A failed
// login against such a hash should also pay for VerifyDummy, so that its
// CPU work is at least an unknown email's.
func (h *Hasher) CheaperThanCurrent(encoded string) bool {
	if isBcrypt(encoded) {
		return false
	}
	ph, err := h.decode(encoded)
	if err != nil {
		return false
	}
	return uint64(ph.params.Memory)*uint64(ph.params.Iterations) < uint64(h.params.Memory)*uint64(h.params.Iterations)
}
