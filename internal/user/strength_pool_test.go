package user

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustelem/zxcvbn"
)

// blockingJudge is a Judge that counts the checks inside it, remembers the
// most at once, announces each entry on entered and waits for release.
type blockingJudge struct {
	inside, most atomic.Int32
	entered      chan struct{}
	release      chan struct{}
}

func newBlockingJudge() *blockingJudge {
	return &blockingJudge{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (j *blockingJudge) judge(string, []string) zxcvbn.Result {
	n := j.inside.Add(1)
	for {
		m := j.most.Load()
		if n <= m || j.most.CompareAndSwap(m, n) {
			break
		}
	}
	j.entered <- struct{}{}
	<-j.release
	j.inside.Add(-1)
	return zxcvbn.Result{Score: 4}
}

// TestStrengthCheckerBoundsConcurrency: with 2 slots and a queue of 3, of 8
// parallel checks 2 run, 3 wait and 3 are refused at once with
// ErrStrengthBusy; once the judge lets go, the 5 accepted all finish, never
// more than 2 at a time. Nothing here depends on timing: the wait is far
// longer than the test, and progress is seen through channels.
func TestStrengthCheckerBoundsConcurrency(t *testing.T) {
	j := newBlockingJudge()
	c := NewStrengthChecker(StrengthOptions{Judge: j.judge, MaxConcurrent: 2, MaxQueued: 3, Wait: time.Hour})

	var wg sync.WaitGroup
	results := make(chan error, 8)
	check := func() {
		wg.Go(func() {
			msg, err := c.Check(t.Context(), "correct horse battery staple")
			if err == nil && msg != "" {
				err = errors.New("unexpected message " + msg)
			}
			results <- err
		})
	}
	check()
	check()
	<-j.entered
	<-j.entered // both slots taken
	for range 3 {
		check()
	}
	for c.pool.Queued() < 3 { // until the three are queued
		waitBriefly()
	}
	for range 3 {
		check()
	}
	for range 3 {
		if err := <-results; !errors.Is(err, ErrStrengthBusy) {
			t.Fatalf("with 2 running and 3 queued: %v, want ErrStrengthBusy", err)
		}
	}
	close(j.release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("accepted check: %v", err)
		}
	}
	if got := j.most.Load(); got != 2 {
		t.Errorf("at most %d checks ran at once, want 2", got)
	}
	if c.pool.InUse() != 0 || c.pool.Queued() != 0 {
		t.Errorf("after all checks: %d slots, %d queued still taken", c.pool.InUse(), c.pool.Queued())
	}
}

// TestStrengthCheckerContext: a queued check whose context ends gives up
// with ErrStrengthBusy matching the context's error and leaves the queue;
// a check with an ended context never reaches the judge.
func TestStrengthCheckerContext(t *testing.T) {
	j := newBlockingJudge()
	c := NewStrengthChecker(StrengthOptions{Judge: j.judge, MaxConcurrent: 1, MaxQueued: 1, Wait: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Check(t.Context(), "correct horse battery staple")
	}()
	<-j.entered

	ctx, cancel := context.WithCancel(t.Context())
	queued := make(chan error, 1)
	go func() {
		_, err := c.Check(ctx, "correct horse battery staple")
		queued <- err
	}()
	for c.pool.Queued() < 1 {
		waitBriefly()
	}
	cancel()
	if err := <-queued; !errors.Is(err, ErrStrengthBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while queued: %v, want ErrStrengthBusy and context.Canceled", err)
	}
	if c.pool.Queued() != 0 {
		t.Errorf("the cancelled check is still queued")
	}
	if _, err := c.Check(ctx, "correct horse battery staple"); !errors.Is(err, ErrStrengthBusy) {
		t.Errorf("ended context: %v, want ErrStrengthBusy", err)
	}
	close(j.release)
	<-done
	if got := j.most.Load(); got != 1 {
		t.Errorf("judge entered by %d at once, want 1", got)
	}
}

// TestStrengthCheckerJudges: Check gives CheckPasswordStrength's answers
// with the real estimator, bounded input included.
func TestStrengthCheckerJudges(t *testing.T) {
	c := NewStrengthChecker(StrengthOptions{})
	hints := PasswordHints("ada@example.com", "Ada Lovelace")
	for _, pw := range []string{"correct horse battery staple", "Ada Lovelace 1815", "password1234"} {
		got, err := c.Check(t.Context(), pw, hints...)
		if err != nil {
			t.Fatal(err)
		}
		if want := CheckPasswordStrength(pw, hints...); got != want {
			t.Errorf("Check(%q) = %q, CheckPasswordStrength says %q", pw, got, want)
		}
	}
}

// waitBriefly yields so that goroutines started by the test can reach the
// state the test waits for; the loops around it poll a condition, not a
// clock.
func waitBriefly() { runtime.Gosched() }
