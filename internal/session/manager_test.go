package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/redisconn"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
)

func newFakeClock() *clocktest.Clock { return clocktest.New(time.Now()) }

const (
	idle        = 30 * time.Minute
	absolute    = 12 * time.Hour
	remIdle     = 336 * time.Hour
	remAbsolute = 720 * time.Hour
)

// harness is a Manager on real Redis behind a tiny HTTP app:
//
//	POST /login?uid=N[&remember=1]  Login
//	GET  /whoami                    prints the user ID (0 when anonymous)
//	POST /logout                    Logout
//	GET  /hold                      loads the session, signals held, waits for release
type harness struct {
	t       *testing.T
	mgr     *session.Manager
	clock   *clocktest.Clock
	srv     *httptest.Server
	counter *sessiontest.Counter
	keys    func() []string
	held    chan struct{}
	release chan struct{}
	errs    chan error // errors given to OnError
	prefix  string     // key prefix (set by clusterHarness)
}

func newHarness(t *testing.T, adjust ...func(*session.Options)) *harness {
	t.Helper()
	pool, counter := sessiontest.CountingPool(t)
	prefix := sessiontest.Prefix(t)
	keys := func() []string { return sessiontest.SessionHashes(sessiontest.RedisKeys(t, pool, prefix)) }
	return newHarnessOn(t, pool, counter, prefix, keys, adjust...)
}

// newHarnessOn is newHarness on src (whose commands counter counts) under
// prefix; keys lists the stored sessions' token hashes.
func newHarnessOn(t *testing.T, src redisconn.Source, counter *sessiontest.Counter, prefix string, keys func() []string,
	adjust ...func(*session.Options)) *harness {
	t.Helper()
	h := &harness{
		t: t, clock: newFakeClock(), counter: counter,
		keys:    keys,
		held:    make(chan struct{}, 1),
		release: make(chan struct{}),
		errs:    make(chan error, 10),
	}
	opts := session.Options{
		Store:       session.NewRedisStore(src, prefix, time.Second),
		IdleTimeout: idle, AbsoluteTimeout: absolute,
		RememberIdleTimeout: remIdle, RememberAbsoluteTimeout: remAbsolute,
		Secure: true,
		Clock:  h.clock.Now,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			select {
			case h.errs <- err:
			default: // a test that makes many failures reads only the first ones
			}
			status := http.StatusServiceUnavailable
			if errors.Is(err, session.ErrMalformedCookie) {
				status = http.StatusBadRequest
			}
			http.Error(w, err.Error(), status)
		},
	}
	for _, a := range adjust {
		a(&opts)
	}
	h.mgr = session.NewManager(opts)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		uid, _ := strconv.ParseInt(r.URL.Query().Get("uid"), 10, 64)
		if err := h.mgr.Login(r.Context(), uid, r.URL.Query().Get("remember") == "1"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/whoami", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, h.mgr.UserID(r.Context()))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := h.mgr.Logout(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /hold", func(w http.ResponseWriter, r *http.Request) {
		h.held <- struct{}{}
		<-h.release
		fmt.Fprint(w, h.mgr.UserID(r.Context()))
	})
	h.srv = httptest.NewTLSServer(h.mgr.Middleware(mux))
	t.Cleanup(h.srv.Close)
	return h
}

// client returns a browser-like client with its own cookie jar that does
// not follow redirects.
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := h.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func (h *harness) do(c *http.Client, method, path string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (h *harness) whoami(c *http.Client) string {
	h.t.Helper()
	_, body := h.do(c, "GET", "/whoami")
	return body
}

func (h *harness) login(c *http.Client, uid int, remember bool) *http.Response {
	h.t.Helper()
	path := fmt.Sprintf("/login?uid=%d", uid)
	if remember {
		path += "&remember=1"
	}
	resp, _ := h.do(c, "POST", path)
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login: status %d", resp.StatusCode)
	}
	return resp
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-latch_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %q", resp.Header.Values("Set-Cookie"))
	return nil
}

func TestLoginSetsHardenedCookie(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	resp := h.login(c, 7, false)
	ck := sessionCookie(t, resp)
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie attributes = %+v", ck)
	}
	if ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Errorf("non-remember cookie must be a browser-session cookie, got MaxAge %d Expires %v", ck.MaxAge, ck.Expires)
	}
	if len(ck.Value) != 43 {
		t.Errorf("token length %d, want 43 (256 bits base64url)", len(ck.Value))
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := h.whoami(c); got != "7" {
		t.Errorf("whoami = %s, want 7", got)
	}
}

func TestRememberMeCookiePersistsUntilAbsoluteDeadline(t *testing.T) {
	h := newHarness(t)
	ck := sessionCookie(t, h.login(h.client(), 7, true))
	want := int(remAbsolute.Seconds())
	if ck.MaxAge < want-5 || ck.MaxAge > want {
		t.Errorf("remember-me Max-Age = %d, want about %d", ck.MaxAge, want)
	}
}

func TestAuthenticatedGETCostsOneRedisCommand(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	h.login(c, 7, false)
	h.whoami(c) // on a fresh Redis the first find loads its script (EVALSHA, NOSCRIPT, EVAL)
	h.counter.Reset()
	resp, body := h.do(c, "GET", "/whoami")
	if body != "7" {
		t.Fatalf("whoami = %s", body)
	}
	if diff := cmp.Diff([]string{"EVALSHA"}, h.counter.Commands()); diff != "" {
		t.Errorf("commands of a steady-state authenticated GET (-want +got):\n%s", diff)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("steady-state GET re-sent the cookie: %q", sc)
	}
}

func TestLoginAndLogoutCommands(t *testing.T) {
	h := newHarness(t)
	warm := h.client() // loads the Lua scripts into Redis (EVAL on first use)
	h.login(warm, 1, false)
	h.do(warm, "POST", "/logout")

	c := h.client()
	h.counter.Reset()
	h.login(c, 7, false)
	if diff := cmp.Diff([]string{"EVALSHA"}, h.counter.Commands()); diff != "" {
		t.Errorf("login of an anonymous client (-want +got):\n%s", diff)
	}
	h.counter.Reset()
	h.do(c, "POST", "/logout")
	// A logout is a revocation: ROLE asks whether replicas must
	// acknowledge it (none here, so no WAIT; evalDurable).
	if diff := cmp.Diff([]string{"EVALSHA", "EVALSHA", "ROLE"}, h.counter.Commands()); diff != "" {
		t.Errorf("logout (-want +got):\n%s", diff)
	}
}

func TestIdleDeadlineRefreshedAtMostOncePerInterval(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	h.login(c, 7, false)
	h.whoami(c) // loads the find script on a fresh Redis
	interval := h.mgr.RefreshInterval()

	h.clock.Advance(interval / 2)
	h.counter.Reset()
	h.whoami(c)
	if got := h.counter.Commands(); len(got) != 1 {
		t.Fatalf("before the refresh interval: commands %v, want only GET", got)
	}

	h.clock.Advance(interval / 2)
	h.counter.Reset()
	resp, _ := h.do(c, "GET", "/whoami")
	if diff := cmp.Diff([]string{"EVALSHA", "EVALSHA"}, h.counter.Commands()); diff != "" {
		t.Errorf("after the refresh interval (-want +got):\n%s", diff)
	}
	sessionCookie(t, resp) // the refresh re-sends the cookie

	h.counter.Reset()
	h.whoami(c)
	if got := h.counter.Commands(); len(got) != 1 {
		t.Errorf("right after a refresh: commands %v, want only GET", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	h.login(c, 7, false)

	h.clock.Advance(idle - time.Minute)
	if got := h.whoami(c); got != "7" {
		t.Fatalf("just inside the idle timeout: whoami = %s, want 7", got)
	}
	// Activity moved the idle deadline: another almost-idle-timeout later
	// the session is still alive.
	h.clock.Advance(idle - time.Minute)
	if got := h.whoami(c); got != "7" {
		t.Fatalf("activity did not extend the idle deadline: whoami = %s", got)
	}
	h.clock.Advance(idle + time.Second)
	if got := h.whoami(c); got != "0" {
		t.Fatalf("after the idle timeout: whoami = %s, want 0", got)
	}
	if keys := h.keys(); len(keys) != 0 {
		t.Errorf("idle-expired session still stored: %v", keys)
	}
}

func TestAbsoluteTimeoutIsNotMovedByActivity(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	h.login(c, 7, false)
	step := idle / 2
	var elapsed time.Duration
	for elapsed+step < absolute {
		h.clock.Advance(step)
		elapsed += step
		if got := h.whoami(c); got != "7" {
			t.Fatalf("active session ended after %v: whoami = %s", elapsed, got)
		}
	}
	h.clock.Advance(absolute - elapsed + time.Second)
	if got := h.whoami(c); got != "0" {
		t.Fatalf("after the absolute timeout of an active session: whoami = %s, want 0", got)
	}
}

func TestRememberMeUsesLongerTimeouts(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	h.login(c, 7, true)
	h.clock.Advance(idle * 2)
	if got := h.whoami(c); got != "7" {
		t.Fatalf("remember-me session ended after twice the ordinary idle timeout")
	}
	h.clock.Advance(remIdle + time.Second)
	if got := h.whoami(c); got != "0" {
		t.Fatalf("remember-me session survived its idle timeout")
	}
}

// TestShortRememberIdleTimeoutIsRefreshedInTime is the regression test for
// a remember-me idle timeout shorter than the ordinary refresh interval:
// an active session must not end.
func TestShortRememberIdleTimeoutIsRefreshedInTime(t *testing.T) {
	h := newHarness(t, func(o *session.Options) { o.RememberIdleTimeout = 50 * time.Second })
	c := h.client()
	h.login(c, 7, true)
	for i := range 10 {
		h.clock.Advance(30 * time.Second)
		if got := h.whoami(c); got != "7" {
			t.Fatalf("active remember-me session ended after %d×30s", i+1)
		}
	}
}

func TestLoginRenewsTokenAgainstFixation(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	first := sessionCookie(t, h.login(c, 7, false))
	second := sessionCookie(t, h.login(c, 8, false))
	if first.Value == second.Value {
		t.Fatal("login reused the presented token")
	}
	if diff := cmp.Diff([]string{session.HashToken(second.Value)}, h.keys()); diff != "" {
		t.Errorf("stored sessions after re-login (-want +got):\n%s", diff)
	}
	// The pre-login token is dead.
	replay := h.client()
	replay.Jar.SetCookies(mustURL(t, h.srv.URL), []*http.Cookie{first})
	if got := h.whoami(replay); got != "0" {
		t.Errorf("pre-login token still works: whoami = %s", got)
	}
}

func TestLogoutReplayIsAnonymous(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ck := sessionCookie(t, h.login(c, 7, false))
	resp, _ := h.do(c, "POST", "/logout")
	cleared := false
	for _, sc := range resp.Cookies() {
		if sc.Name == ck.Name && sc.MaxAge < 0 && sc.Secure && sc.HttpOnly && sc.Path == "/" {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("logout did not expire the cookie with the same attributes: %q", resp.Header.Values("Set-Cookie"))
	}
	replay := h.client()
	replay.Jar.SetCookies(mustURL(t, h.srv.URL), []*http.Cookie{ck})
	if got := h.whoami(replay); got != "0" {
		t.Fatalf("replayed cookie after logout: whoami = %s, want 0", got)
	}
	if keys := h.keys(); len(keys) != 0 {
		t.Errorf("session still stored after logout: %v", keys)
	}
}

// TestRevokedSessionIsNotResurrectedByInFlightRequest holds a request that
// loaded the session (and is due to refresh it) across a logout; its
// commit must not bring the session back.
func TestRevokedSessionIsNotResurrectedByInFlightRequest(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ck := sessionCookie(t, h.login(c, 7, false))
	h.clock.Advance(h.mgr.RefreshInterval() + time.Second) // the held request will write

	done := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("GET", h.srv.URL+"/hold", nil)
		req.AddCookie(ck)
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		resp.Body.Close()
		done <- resp
	}()
	<-h.held
	if resp, _ := h.do(c, "POST", "/logout"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout status %d", resp.StatusCode)
	}
	close(h.release)
	resp := <-done
	if resp == nil {
		return
	}
	if keys := h.keys(); len(keys) != 0 {
		t.Fatalf("in-flight request resurrected the session: keys %v", keys)
	}
	replay := h.client()
	replay.Jar.SetCookies(mustURL(t, h.srv.URL), []*http.Cookie{ck})
	if got := h.whoami(replay); got != "0" {
		t.Fatalf("old cookie works again after logout: whoami = %s", got)
	}
	for _, sc := range resp.Cookies() {
		if sc.Name == ck.Name && sc.MaxAge >= 0 {
			t.Errorf("in-flight request re-sent a live session cookie")
		}
	}
}

func TestConcurrentRefreshesKeepSession(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	h.login(c, 7, false)
	h.clock.Advance(h.mgr.RefreshInterval() + time.Second)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if got := h.whoami(c); got != "7" {
				t.Errorf("concurrent request: whoami = %s", got)
			}
		})
	}
	wg.Wait()
	if got := h.whoami(c); got != "7" {
		t.Fatalf("after concurrent refreshes: whoami = %s", got)
	}
}

func TestAnonymousRequestsStoreNothing(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for range 50 {
		resp, _ := h.do(c, "GET", "/whoami")
		if len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatal("anonymous request got a cookie")
		}
	}
	if n := len(h.counter.Commands()); n != 0 {
		t.Errorf("anonymous requests sent %d Redis commands", n)
	}
}

func TestMalformedCookieIs400AndCleared(t *testing.T) {
	h := newHarness(t)
	for name, value := range map[string]string{
		"short":        "abc",
		"long":         strings.Repeat("a", 44),
		"bad alphabet": strings.Repeat("a", 42) + "!",
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.srv.URL+"/whoami", nil)
			req.Header.Set("Cookie", "__Host-latch_session="+value)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
				t.Errorf("cookie not cleared: %q", resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

func TestUnknownTokenIsAnonymousAndCleared(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest("GET", h.srv.URL+"/whoami", nil)
	req.Header.Set("Cookie", "__Host-latch_session="+strings.Repeat("A", 43))
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "0" || resp.StatusCode != 200 {
		t.Errorf("unknown token: %d %q, want 200 anonymous", resp.StatusCode, body)
	}
	if len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("unknown token's cookie not cleared: %q", resp.Header.Values("Set-Cookie"))
	}
}

// failingStore fails every operation: a unit-test fake for the store-down
// paths of the middleware alone (the real-Redis-down test is end to end).
type failingStore struct{ session.Store }

func (failingStore) FindCtx(context.Context, string) ([]byte, bool, error) {
	return nil, false, fmt.Errorf("find: %w", session.ErrUnavailable)
}
func (failingStore) CommitCtx(context.Context, string, []byte, time.Time) error {
	return fmt.Errorf("commit: %w", session.ErrUnavailable)
}
func (failingStore) DeleteCtx(context.Context, string) error {
	return fmt.Errorf("delete: %w", session.ErrUnavailable)
}

func TestFailedCommitReplacesRedirect(t *testing.T) {
	var gotErr error
	mgr := session.NewManager(session.Options{
		Store: failingStore{}, IdleTimeout: idle, AbsoluteTimeout: absolute,
		RememberIdleTimeout: remIdle, RememberAbsoluteTimeout: remAbsolute,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			gotErr = err
			w.Header().Set("Retry-After", "2")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		},
	})
	h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.Login(r.Context(), 1, false); err != nil {
			t.Fatal(err)
		}
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	if rec.Code != http.StatusServiceUnavailable || !errors.Is(gotErr, session.ErrUnavailable) {
		t.Fatalf("status %d err %v, want 503 ErrUnavailable", rec.Code, gotErr)
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("failed login kept Location %q", loc)
	}
	if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("failed login set cookies %q", sc)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
