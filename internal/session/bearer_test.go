package session_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// bearerHarness is a Manager on real Redis with both middlewares mounted:
//
//	POST /api/login    LoginApp of user 7 (device "Phone"); prints the token
//	GET  /api/whoami   user ID and handle of the bearer session
//	GET  /page/whoami  user ID of the cookie session
type bearerHarness struct {
	*harness
	api *httptest.Server
}

const (
	apiIdle     = 2 * time.Hour
	apiAbsolute = 5 * time.Hour
)

func newBearerHarness(t *testing.T) *bearerHarness {
	t.Helper()
	h := newHarness(t, func(o *session.Options) { o.APIIdleTimeout, o.APIAbsoluteTimeout = apiIdle, apiAbsolute })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		if err := h.mgr.LoginApp(r.Context(), &user.User{ID: 7}, "Phone"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, h.mgr.BearerTokenOf(r.Context()))
	})
	mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %v", h.mgr.UserID(r.Context()), h.mgr.BearerRefused(r.Context()))
	})
	api := httptest.NewServer(h.mgr.BearerMiddleware(mux))
	t.Cleanup(api.Close)
	return &bearerHarness{harness: h, api: api}
}

func (b *bearerHarness) call(method, path, token string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.api.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		b.t.Errorf("%s %s set a cookie: %q", method, path, sc)
	}
	return res, string(body)
}

func (b *bearerHarness) signIn() string {
	b.t.Helper()
	res, token := b.call("POST", "/api/login", "")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(token, session.BearerPrefix) || len(token) != len(session.BearerPrefix)+43 {
		b.t.Fatalf("app sign-in: %d %q", res.StatusCode, token)
	}
	return token
}

// TestBearerRequestCostsOneRedisCommand: an authenticated API request in
// the refresh interval is one store read (the same script as a cookie's),
// and a later one one read and one update-only write; the store holds the
// session under the hash of the token's random part only.
func TestBearerRequestCostsOneRedisCommand(t *testing.T) {
	b := newBearerHarness(t)
	token := b.signIn()
	b.call("GET", "/api/whoami", token) // loads the find script on a fresh Redis
	b.counter.Reset()
	if _, body := b.call("GET", "/api/whoami", token); body != "7 false" {
		t.Fatalf("whoami = %q", body)
	}
	if diff := cmp.Diff([]string{"EVALSHA"}, b.counter.Commands()); diff != "" {
		t.Errorf("steady-state bearer GET (-want +got):\n%s", diff)
	}
	b.clock.Advance(b.mgr.RefreshInterval())
	b.counter.Reset()
	b.call("GET", "/api/whoami", token)
	if diff := cmp.Diff([]string{"EVALSHA", "EVALSHA"}, b.counter.Commands()); diff != "" {
		t.Errorf("bearer GET after the refresh interval (-want +got):\n%s", diff)
	}
	for _, k := range b.keys() {
		if strings.Contains(k, strings.TrimPrefix(token, session.BearerPrefix)) {
			t.Errorf("store key %q holds the raw token", k)
		}
	}
	found := false
	for _, k := range b.keys() {
		found = found || strings.HasSuffix(k, session.HashToken(strings.TrimPrefix(token, session.BearerPrefix)))
	}
	if !found {
		t.Errorf("no store key is the token's hash: %q", b.keys())
	}
}

// TestBearerTimeouts: app sessions use the API timeouts: activity moves the
// idle deadline, never the absolute one.
func TestBearerTimeouts(t *testing.T) {
	b := newBearerHarness(t)
	token := b.signIn()
	b.clock.Advance(apiIdle - time.Minute)
	if _, body := b.call("GET", "/api/whoami", token); body != "7 false" {
		t.Fatalf("within the API idle timeout (longer than the browser one): %q", body)
	}
	// Keep it active until past the absolute timeout.
	for elapsed := apiIdle - time.Minute; elapsed < apiAbsolute-time.Hour; elapsed += time.Hour {
		b.clock.Advance(time.Hour)
		if _, body := b.call("GET", "/api/whoami", token); body != "7 false" {
			t.Fatalf("active session at %v: %q", elapsed+time.Hour, body)
		}
	}
	b.clock.Advance(time.Hour + time.Minute)
	if _, body := b.call("GET", "/api/whoami", token); body != "0 true" {
		t.Fatalf("past the API absolute timeout: %q, want anonymous and refused", body)
	}

	token = b.signIn()
	b.clock.Advance(apiIdle + time.Second)
	if _, body := b.call("GET", "/api/whoami", token); body != "0 true" {
		t.Fatalf("past the API idle timeout: %q, want anonymous and refused", body)
	}
}

// TestBearerAndCookieRefuseEachOther: the random part of an app token as a
// cookie, and a cookie's token as a bearer token, load no session; malformed
// headers are refused, not errors.
func TestBearerAndCookieRefuseEachOther(t *testing.T) {
	b := newBearerHarness(t)
	token := b.signIn()
	c := b.client()
	resp := b.login(c, 8, false)
	cookie := sessionCookie(t, resp)

	req, _ := http.NewRequest("GET", b.srv.URL+"/whoami", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: strings.TrimPrefix(token, session.BearerPrefix)})
	plain := *b.srv.Client() // a copy without the cookie jar that b.client() put on the shared client
	plain.Jar = nil
	res, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "0" {
		t.Errorf("app token as a cookie: whoami %q, want 0", body)
	}
	for _, bad := range []string{session.BearerPrefix + cookie.Value, cookie.Value, "latch_at_short", token + "x", "Basic " + token} {
		_, body := b.call("GET", "/api/whoami", bad)
		if body != "0 true" {
			t.Errorf("Authorization: Bearer %.20q…: %q, want anonymous and refused", bad, body)
		}
	}
	// Both still work in their own channel.
	if _, body := b.call("GET", "/api/whoami", token); body != "7 false" {
		t.Errorf("app session after the probes: %q", body)
	}
	if got := b.whoami(c); got != "8" {
		t.Errorf("browser session after the probes: %q", got)
	}
	recs, err := b.mgr.Registry().UserSessions(t.Context(), 7)
	if err != nil || len(recs) != 1 || recs[0].Kind != session.KindApp || recs[0].DeviceName != "Phone" {
		t.Fatalf("registry record of the app session: %+v, %v", recs, err)
	}
	recs, _ = b.mgr.Registry().UserSessions(t.Context(), 8)
	if len(recs) != 1 || recs[0].Kind != session.KindBrowser || recs[0].DeviceName != "" {
		t.Errorf("registry record of the browser session: %+v", recs)
	}
}
