package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/throttle"
	"github.com/realclientip/realclientip-go"
)

// fakeHistory is a LoginHistory: the pairs "userID network" in known have
// signed in recently (set by the test, or by a successful login).
type fakeHistory struct {
	mu    sync.Mutex
	known map[string]bool
	asked []time.Time // the since of each question
}

func (h *fakeHistory) KnownNetwork(_ context.Context, userID int64, network string, since time.Time) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked = append(h.asked, since)
	return h.known[fmt.Sprintf("%d %s", userID, network)], nil
}

func (h *fakeHistory) RecordNetworkLogin(_ context.Context, userID int64, network string, _ time.Time) error {
	h.set(userID, network)
	return nil
}

func (h *fakeHistory) set(userID int64, network string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.known[fmt.Sprintf("%d %s", userID, network)] = true
}

// newThrottledApp is newTestApp with throttling on quotas q (counters in
// memory, on the app's fake clock). Every test client comes from 127.0.0.1.
func newThrottledApp(t *testing.T, q throttle.Quotas) (*testApp, *throttle.Limiter, *fakeHistory) {
	t.Helper()
	a := newTestApp(t)
	lim, err := throttle.NewMemory(q, 0, a.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	hist := &fakeHistory{known: map[string]bool{}}
	a.srv.throttle = Throttle{Limiter: lim, History: hist}
	return a, lim, hist
}

func loginAs(c *client, email, pw string) (*http.Response, string) {
	return c.do("POST", "/login", url.Values{"email": {email}, "password": {pw}})
}

func TestLoginThrottledWithoutHashing(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{AccountIP: throttle.Quota{Count: 3, Period: 30 * time.Minute}})
	c := a.newClient(firefoxAgent)
	for range 3 {
		res, body := loginAs(c, "bob@example.com", "wrong password")
		wantStatus(t, res, body, http.StatusUnauthorized)
	}
	verifies := a.hasher.count()

	// The right password is refused too, without being checked.
	res, body := loginAs(c, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusTooManyRequests)
	if got := res.Header.Get("Retry-After"); got != "600" {
		t.Errorf("Retry-After = %q, want 600 (one attempt back every 10 minutes)", got)
	}
	mustContain(t, body, "Too many attempts. Try again in 600 seconds.")
	if a.hasher.count() != verifies {
		t.Errorf("a throttled login hashed the password (%d verifications, want %d)", a.hasher.count(), verifies)
	}
	if len(res.Cookies()) != 0 {
		t.Errorf("a throttled login set cookies: %v", res.Header.Values("Set-Cookie"))
	}

	a.clock.Advance(599 * time.Second)
	res, body = loginAs(c, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusTooManyRequests)
	if got := res.Header.Get("Retry-After"); got != "1" {
		t.Errorf("a second before: Retry-After = %q, want 1", got)
	}
	mustContain(t, body, "Try again in 1 second.")

	a.clock.Advance(time.Second)
	res, body = loginAs(c, "bob@example.com", "pw-bob")
	wantRedirect(t, res, body, "/profile")
}

func TestThrottleSameForUnknownAccounts(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{AccountIP: throttle.Quota{Count: 2, Period: 10 * time.Minute}})
	type answer struct {
		status     int
		retryAfter string
		main       string
	}
	var got []answer
	for _, email := range []string{"bob@example.com", "nobody@example.com"} {
		c := a.newClient(firefoxAgent)
		for range 2 {
			res, body := loginAs(c, email, "wrong password")
			wantStatus(t, res, body, http.StatusUnauthorized)
		}
		res, body := loginAs(c, email, "wrong password")
		got = append(got, answer{res.StatusCode, res.Header.Get("Retry-After"), mainOf(body)})
	}
	if got[0] != got[1] || got[0].status != http.StatusTooManyRequests {
		t.Errorf("existing and unknown accounts answered differently:\n%+v\n%+v", got[0], got[1])
	}
}

func TestKnownIPPassesAccountQuota(t *testing.T) {
	a, lim, hist := newThrottledApp(t, throttle.Quotas{
		Account:   throttle.Quota{Count: 3, Period: time.Hour},
		AccountIP: throttle.Quota{Count: 2, Period: 30 * time.Minute},
	})
	// An attack from elsewhere uses up bob's per-account quota.
	for i := range 3 {
		if r, err := lim.ReserveLogin(t.Context(), "bob@example.com", fmt.Sprintf("192.0.2.%d", i+1), false); err != nil || r.Limited() {
			t.Fatal(r, err)
		}
	}
	c := a.newClient(firefoxAgent)
	res, body := loginAs(c, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusTooManyRequests)
	if got := res.Header.Get("Retry-After"); got != "1200" {
		t.Errorf("Retry-After = %q, want 1200 (the account quota)", got)
	}

	hist.set(bobID, "127.0.0.1")
	res, body = loginAs(c, "bob@example.com", "pw-bob")
	wantRedirect(t, res, body, "/profile")
	if want := a.clock.Now().Add(-DefaultKnownIPWindow); len(hist.asked) == 0 || !hist.asked[len(hist.asked)-1].Equal(want) {
		t.Errorf("history asked since %v, want %v", hist.asked, want)
	}

	// The per-account-and-IP quota still holds from the known IP.
	c2 := a.newClient(firefoxAgent)
	for range 2 {
		res, body := loginAs(c2, "bob@example.com", "wrong password")
		wantStatus(t, res, body, http.StatusUnauthorized)
	}
	res, body = loginAs(c2, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusTooManyRequests)

	// Another account known from 127.0.0.1 does not make it known for bob.
	a2, lim2, hist2 := newThrottledApp(t, throttle.Quotas{Account: throttle.Quota{Count: 1, Period: time.Hour}})
	if r, err := lim2.ReserveLogin(t.Context(), "bob@example.com", "192.0.2.1", false); err != nil || r.Limited() {
		t.Fatal(r, err)
	}
	hist2.set(adminID, "127.0.0.1")
	res, body = loginAs(a2.newClient(firefoxAgent), "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusTooManyRequests)
}

func TestThrottledLoginsAuditedOncePerMinute(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{AccountIP: throttle.Quota{Count: 1, Period: time.Hour}})
	c := a.newClient(firefoxAgent)
	res, body := loginAs(c, "Bob@Example.com", "wrong password")
	wantStatus(t, res, body, http.StatusUnauthorized)
	throttled := func() []audit.Event {
		var out []audit.Event
		for _, e := range a.audit.all() {
			if e.Type == audit.LoginFailed && strings.HasPrefix(e.Detail, "throttled") {
				out = append(out, e)
			}
		}
		return out
	}
	for range 5 {
		res, body := loginAs(c, "Bob@Example.com", "wrong password")
		wantStatus(t, res, body, http.StatusTooManyRequests)
	}
	got := throttled()
	if len(got) != 1 {
		t.Fatalf("%d throttled events after 5 refusals in a minute, want 1: %+v", len(got), got)
	}
	if e := got[0]; e.SubjectID != bobID || e.Email != "Bob@Example.com" || e.IP != "127.0.0.1" ||
		e.Detail != "throttled (account+ip quota; retry in 3600 s)" {
		t.Errorf("throttled event = %+v", e)
	}
	a.clock.Advance(time.Minute)
	res, body = loginAs(c, "Bob@Example.com", "wrong password")
	wantStatus(t, res, body, http.StatusTooManyRequests)
	if n := len(throttled()); n != 2 {
		t.Errorf("%d throttled events a minute later, want 2", n)
	}
}

func TestRegistrationThrottled(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.Quotas{Register: throttle.Quota{Count: 2, Period: time.Hour}})
	c := a.newClient(firefoxAgent)
	register := func(email, pw string) (*http.Response, string) {
		return c.do("POST", "/register", url.Values{"email": {email}, "name": {"N"}, "password": {pw}})
	}
	// Invalid forms are answered without hashing and are not counted.
	for range 3 {
		res, body := register("new@example.com", "short")
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
	}
	res, body := register("new1@example.com", "a long enough password")
	wantRedirect(t, res, body, "/login")
	res, body = register("bob@example.com", "a long enough password") // taken: counts too
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	res, body = register("new2@example.com", "a long enough password")
	wantStatus(t, res, body, http.StatusTooManyRequests)
	if got := res.Header.Get("Retry-After"); got != "1800" {
		t.Errorf("Retry-After = %q, want 1800", got)
	}
	mustContain(t, body, "Too many attempts. Try again in 1800 seconds.")
	if _, err := a.users.UserByEmail(t.Context(), "new2@example.com"); err == nil {
		t.Error("a throttled registration created the account")
	}
}

// failingLimiter is a LoginLimiter whose counters cannot be reached.
type failingLimiter struct{}

var errCounters = fmt.Errorf("redis: %w", throttle.ErrUnavailable)

func (failingLimiter) ReserveLogin(context.Context, string, string, bool) (throttle.Reservation, error) {
	return throttle.Reservation{}, errCounters
}
func (failingLimiter) Refund(context.Context, throttle.Reservation) error { return errCounters }
func (failingLimiter) Register(context.Context, string) (throttle.Verdict, error) {
	return throttle.Verdict{}, errCounters
}

func TestThrottleUnavailableFailsClosed(t *testing.T) {
	a := newTestApp(t)
	a.srv.throttle = Throttle{Limiter: failingLimiter{}}
	c := a.newClient(firefoxAgent)
	verifies := a.hasher.count()
	res, body := loginAs(c, "bob@example.com", "pw-bob")
	wantStatus(t, res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	mustContain(t, body, "cannot check sign-in attempts")
	if a.hasher.count() != verifies {
		t.Error("the password was checked although the counters were unreachable")
	}
	res, body = c.do("POST", "/register", url.Values{"email": {"new@example.com"}, "name": {"N"}, "password": {"a long enough password"}})
	wantStatus(t, res, body, http.StatusServiceUnavailable)
}

// TestForwardedZonesShareOneQuota: behind a trusted proxy, a client that
// puts a different zone on its address in X-Forwarded-For each time
// ("::ffff:10.3.3.3%z1", "10.3.3.3%q2", …) is still one address: with the
// default account+IP quota (5 per 15 minutes) 5 wrong passwords are
// answered and the next 3 refused, and the audit events record
// "10.3.3.3", not the client's text.
func TestForwardedZonesShareOneQuota(t *testing.T) {
	a, _, _ := newThrottledApp(t, throttle.DefaultQuotas())
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	a.srv.trustedNets = []net.IPNet{*loopback}
	strat, err := realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", a.srv.trustedNets)
	if err != nil {
		t.Fatal(err)
	}
	a.srv.proxies = strat

	var statuses []int
	for i := range 8 {
		fwd := fmt.Sprintf("::ffff:10.3.3.3%%z%d", i)
		if i%2 == 1 {
			fwd = fmt.Sprintf("10.3.3.3%%q%d", i)
		}
		form := url.Values{"email": {"bob@example.com"}, "password": {"wrong password"}}
		req, err := http.NewRequestWithContext(t.Context(), "POST", a.ts.URL+"/login", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "198.51.100.99, "+fwd)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		statuses = append(statuses, res.StatusCode)
	}
	want := []int{401, 401, 401, 401, 401, 429, 429, 429}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses = %v, want %v (one address, one account+IP quota)", statuses, want)
	}
	for _, ev := range a.audit.all() {
		if ev.IP != "10.3.3.3" {
			t.Errorf("audit event %s recorded IP %q, want 10.3.3.3", ev.Type, ev.IP)
		}
	}
	if ev, ok := a.audit.last(audit.LoginFailed); !ok {
		t.Error("no login.failed audit event")
	} else if ev.IP != "10.3.3.3" {
		t.Errorf("login.failed IP = %q, want 10.3.3.3", ev.IP)
	}
}
