package server

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"

	"github.com/latch/latch/internal/throttle"
	"github.com/latch/latch/internal/user"
)

// spyJudge is a user.Judge that records what it is given and, when block
// is set, waits on it after announcing itself on entered.
type spyJudge struct {
	mu      sync.Mutex
	judged  []string
	entered chan struct{}
	block   chan struct{}
}

func (j *spyJudge) judge(pw string, hints []string) zxcvbn.Result {
	j.mu.Lock()
	j.judged = append(j.judged, pw)
	j.mu.Unlock()
	if j.block != nil {
		j.entered <- struct{}{}
		<-j.block
	}
	return zxcvbn.PasswordStrength(pw, hints)
}

func (j *spyJudge) calls() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.judged...)
}

// useJudge makes a's server judge new passwords with j, in a pool of
// slots checks at once and no queue.
func (a *testApp) useJudge(j *spyJudge, slots int) {
	a.strength = user.NewStrengthChecker(user.StrengthOptions{Judge: j.judge, MaxConcurrent: slots, MaxQueued: -1, Wait: time.Hour})
	a.rebuildAccounts() // the account operations judge new passwords
}

// fillStrengthPool gives a's server a strength pool of one slot and no
// queue, and holds that slot with a check that blocks until release is
// called (release returns once the check has ended).
func (a *testApp) fillStrengthPool(t *testing.T) (release func()) {
	t.Helper()
	blocked := &spyJudge{entered: make(chan struct{}, 1), block: make(chan struct{})}
	a.useJudge(blocked, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = a.strength.Check(t.Context(), "anything at all here")
	}()
	<-blocked.entered
	return func() {
		close(blocked.block)
		<-done
	}
}

// TestRegisterJudgesStrengthAfterQuota is the regression test for issue
// 12.2: the strength check ran before the registration quota, and an
// invalid email meant the quota never counted, so anyone could make Latch
// judge long passwords without limit. Now an invalid form and a refused
// quota never reach the judge, and the judge never sees more than
// user.MaxJudgedRunes characters.
func TestRegisterJudgesStrengthAfterQuota(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{Register: throttle.Quota{Count: 2, Period: time.Hour}})
	j := &spyJudge{}
	a.useJudge(j, 1)
	c := a.newClient(firefoxAgent)
	register := func(email, pw string) (*http.Response, string) {
		return c.do("POST", "/register", url.Values{"email": {email}, "name": {"N"}, "password": {pw}})
	}
	costly := strings.Repeat("!@#$%^&*()_+-=[]{};:,./<>?", 40)[:user.MaxPasswordBytes]

	for range 5 {
		res, body := register("not an address", costly)
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
	}
	if n := len(j.calls()); n != 0 {
		t.Fatalf("an invalid email still had the password judged %d times", n)
	}

	res, body := register("new1@example.com", "password1234")
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	mustContain(t, body, "it is a commonly used password")
	res, body = register("new2@example.com", costly)
	wantRedirect(t, res, body, "/login") // 24 symbols are hard to guess
	res, body = register("new3@example.com", costly)
	wantStatus(t, res, body, http.StatusTooManyRequests)

	calls := j.calls()
	if len(calls) != 2 {
		t.Fatalf("judge called %d times, want 2 (the two registrations within the quota)", len(calls))
	}
	for _, pw := range calls {
		if n := utf8.RuneCountInString(pw); n > user.MaxJudgedRunes {
			t.Errorf("judge saw %d characters, more than %d", n, user.MaxJudgedRunes)
		}
	}
}

// TestStrengthPoolFullAnswers503: with every strength slot taken (a judge
// that blocks), a registration is answered 503 with Retry-After at once
// instead of queueing without bound, and a login, which needs no strength
// check, still succeeds. Once the judge lets go the first registration
// completes.
func TestStrengthPoolFullAnswers503(t *testing.T) {
	a := newTestApp(t)
	j := &spyJudge{entered: make(chan struct{}, 1), block: make(chan struct{})}
	a.useJudge(j, 1)
	register := func(email string) (*http.Response, string) {
		return a.newClient(firefoxAgent).do("POST", "/register",
			url.Values{"email": {email}, "name": {"N"}, "password": {"purple monkey dishwasher"}})
	}

	first := make(chan int, 1)
	go func() {
		res, _ := register("first@example.com")
		first <- res.StatusCode
	}()
	<-j.entered

	res, body := register("second@example.com")
	wantStatus(t, res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	mustContain(t, body, "Latch is busy checking other new passwords")

	bob := a.newClient(firefoxAgent)
	res, body = loginAs(bob, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusSeeOther)

	close(j.block)
	if got := <-first; got != http.StatusSeeOther {
		t.Errorf("first registration: %d, want 303", got)
	}
	if _, err := a.users.UserByEmail(t.Context(), "second@example.com"); err == nil {
		t.Error("the refused registration created its account")
	}
}

// TestPasswordChangeJudgesAfterCurrentPassword: the strength check of a
// password change runs in the pool, and only once the current password was
// right; a full pool answers 503.
func TestPasswordChangeJudgesAfterCurrentPassword(t *testing.T) {
	a := newTestApp(t)
	j := &spyJudge{}
	a.useJudge(j, 1)
	bob := a.login("bob@example.com", false)

	res, body := bob.post("/account/password", url.Values{"current_password": {"pw-wrong"}, "password": {"password1234"}})
	wantStatus(t, res, body, http.StatusUnauthorized)
	if n := len(j.calls()); n != 0 {
		t.Errorf("a wrong current password still had the new one judged (%d calls)", n)
	}
	res, body = bob.post("/account/password", url.Values{"current_password": {"pw-bob"}, "password": {"password1234"}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	mustContain(t, body, "it is a commonly used password")
	if n := len(j.calls()); n != 1 {
		t.Errorf("judge called %d times, want 1", n)
	}

	release := a.fillStrengthPool(t)
	res, body = bob.post("/account/password", url.Values{"current_password": {"pw-bob"}, "password": {newPassword}})
	wantStatus(t, res, body, http.StatusServiceUnavailable)
	release()
}

// TestResetJudgesInThePool: a reset link's new password is judged in the
// strength pool, only for a usable link; a full pool answers 503 and the
// link stays usable.
func TestResetJudgesInThePool(t *testing.T) {
	a := newTestApp(t)
	_, token := withResets(t, a, bobID)
	j := &spyJudge{}
	a.useJudge(j, 1)
	visitor := a.newClient(firefoxAgent)

	res, body := visitor.do("POST", "/reset/"+strings.Repeat("u", 43), url.Values{"password": {"password1234"}})
	wantStatus(t, res, body, http.StatusNotFound)
	res, body = visitor.do("POST", "/reset/"+token, url.Values{"password": {"short"}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	if n := len(j.calls()); n != 0 {
		t.Errorf("judge called %d times for an unusable link and a too-short password", n)
	}

	release := a.fillStrengthPool(t)
	res, body = visitor.do("POST", "/reset/"+token, url.Values{"password": {newPassword}})
	wantStatus(t, res, body, http.StatusServiceUnavailable)
	release()

	a.useJudge(j, 1)
	res, body = visitor.do("POST", "/reset/"+token, url.Values{"password": {newPassword}})
	wantRedirect(t, res, body, "/profile")
	if n := len(j.calls()); n != 1 {
		t.Errorf("judge called %d times, want 1", n)
	}
}
