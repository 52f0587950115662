package server

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/session/sessiontest"
)

// twiceApp is a real app (Redis sessions) with bob signed in on another
// device and in the browser under test, whose password is no longer
// recent: a sensitive form asks for it.
type twiceApp struct {
	*realApp
	c     *client
	token string // the browser's session token before re-authentication
}

func newTwiceApp(t *testing.T, adjust ...func(*Config, *session.Options)) *twiceApp {
	t.Helper()
	a := newRealApp(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"), adjust...)
	a.signIn() // another device, to be signed out
	c := a.signIn()
	c.refreshCSRF()
	a.clock.Advance(DefaultReauthWindow + time.Minute)
	u, _ := url.Parse(a.ts.URL)
	ta := &twiceApp{realApp: a, c: c}
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == a.srv.sessions.CookieName() {
			ta.token = ck.Value
		}
	}
	if ta.token == "" {
		t.Fatal("no session cookie after signing in")
	}
	return ta
}

// post sends form to path with the session token, as a browser replaying
// the same form would.
func (a *twiceApp) post(path, token string, form url.Values) *http.Response {
	a.t.Helper()
	res, err := a.rawPost(path, token, form)
	if err != nil {
		a.t.Fatal(err)
	}
	return res
}

// get requests path with the session token and returns the response.
func (a *twiceApp) get(path, token string) *http.Response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.ts.URL+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("User-Agent", firefoxAgent)
	req.AddCookie(&http.Cookie{Name: a.srv.sessions.CookieName(), Value: token})
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		a.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// wantSentTwice checks a loser's answer: 303 to target with the "sent
// twice" note and no session cookie at all (neither a new one nor one
// that clears it).
func (a *twiceApp) wantSentTwice(res *http.Response, target, what string) {
	a.t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != target {
		a.t.Errorf("%s: %d → %q, want 303 → %q", what, res.StatusCode, res.Header.Get("Location"), target)
	}
	if v, sets := setCookie(res, a.srv.sessions.CookieName()); sets {
		a.t.Errorf("%s: sets the session cookie to %q (the browser would lose the winner's)", what, v)
	}
	if flash, _ := setCookie(res, a.srv.flashCookieName()); flash != string(flashSentTwice) {
		a.t.Errorf("%s: flash %q, want %q", what, flash, flashSentTwice)
	}
}

// wantSignedIn checks that token names a live session.
func (a *twiceApp) wantSignedIn(token, what string) {
	a.t.Helper()
	if res := a.get("/account", token); res.StatusCode != http.StatusOK {
		a.t.Errorf("%s: GET /account answered %d → %q, want 200", what, res.StatusCode, res.Header.Get("Location"))
	}
}

// expireRotationMarkers does what Redis does a minute after a rotation:
// the markers (P{b}:r:<sha256>) are gone.
func (a *twiceApp) expireRotationMarkers() {
	a.t.Helper()
	conn := a.pool.Get()
	defer conn.Close()
	n := 0
	for _, k := range sessiontest.RedisKeys(a.t, a.pool, a.prefix) {
		if strings.Contains(k, "}:r:") {
			if _, err := redis.Int(conn.Do("DEL", a.prefix+k)); err != nil {
				a.t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		a.t.Fatal("no rotation marker in Redis")
	}
}

// TestConfirmationSentTwiceInARow: the same sudo-mode confirmation sent
// again after the first one's answer (the old cookie: the browser sent it
// before the new one arrived). The first acts and sets a new cookie; the
// second finds no session under the old token, but the rotation marker
// says it was rotated a moment ago: it does nothing, leaves the cookie
// alone and says it was sent twice, and the new cookie works. A page
// loaded with the old cookie meanwhile goes to /login (which sends a
// browser with the new cookie back) without clearing the cookie, and so
// does a form that rotates nothing (sign out). Once
// the marker is gone the old cookie signs out as any revoked one.
func TestConfirmationSentTwiceInARow(t *testing.T) {
	a := newTwiceApp(t)
	form := url.Values{"csrf_token": {a.c.csrf}, "reauth_password": {"pw-bob"}}

	first := a.post("/sessions/revoke-others", a.token, form)
	newToken, sets := setCookie(first, a.srv.sessions.CookieName())
	if first.StatusCode != http.StatusSeeOther || first.Header.Get("Location") != "/sessions" || !sets || newToken == "" ||
		newToken == a.token {
		t.Fatalf("first confirmation: %d → %q, session cookie %v %q; want 303 → /sessions with a new token",
			first.StatusCode, first.Header.Get("Location"), sets, newToken)
	}
	second := a.post("/sessions/revoke-others", a.token, form)
	a.wantSentTwice(second, "/sessions", "second confirmation")
	a.wantSignedIn(newToken, "the new cookie after the second confirmation")

	page := a.get("/account", a.token)
	if page.StatusCode != http.StatusSeeOther || page.Header.Get("Location") != "/login?next=%2Faccount" {
		t.Errorf("GET with the old cookie: %d → %q, want 303 → /login?next=%%2Faccount",
			page.StatusCode, page.Header.Get("Location"))
	}
	if v, sets := setCookie(page, a.srv.sessions.CookieName()); sets {
		t.Errorf("GET with the old cookie sets the session cookie to %q", v)
	}
	if flash, sets := setCookie(page, a.srv.flashCookieName()); sets {
		t.Errorf("GET with the old cookie sets flash %q, want none", flash)
	}

	// A form that does not rotate the token (here: sign out) is no
	// double submission: sent to /login, the cookie and session left alone.
	out := a.post("/logout", a.token, url.Values{"csrf_token": {a.c.csrf}})
	if out.StatusCode != http.StatusSeeOther || out.Header.Get("Location") != "/login" {
		t.Errorf("POST /logout with the old cookie: %d → %q, want 303 → /login", out.StatusCode, out.Header.Get("Location"))
	}
	if v, sets := setCookie(out, a.srv.sessions.CookieName()); sets {
		t.Errorf("POST /logout with the old cookie sets the session cookie to %q", v)
	}
	if flash, sets := setCookie(out, a.srv.flashCookieName()); sets {
		t.Errorf("POST /logout with the old cookie sets flash %q, want none", flash)
	}
	a.wantSignedIn(newToken, "the new cookie after requests with the old one")

	events, _, err := a.db.AuditEvents(t.Context(), audit.Filter{Type: audit.SessionsRevoked, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Errorf("the action was carried out %d times, want once", len(events))
	}

	a.expireRotationMarkers() // the marker's minute has passed
	late := a.post("/sessions/revoke-others", a.token, form)
	if late.StatusCode != http.StatusSeeOther || late.Header.Get("Location") != "/login" {
		t.Errorf("old cookie after the marker: %d → %q, want 303 → /login", late.StatusCode, late.Header.Get("Location"))
	}
	if v, sets := setCookie(late, a.srv.sessions.CookieName()); !sets || v != "" {
		t.Errorf("old cookie after the marker: session cookie %v %q, want it cleared", sets, v)
	}
	if flash, _ := setCookie(late, a.srv.flashCookieName()); flash != string(flashExpired) {
		t.Errorf("old cookie after the marker: flash %q, want %q", flash, flashExpired)
	}
	a.wantSignedIn(newToken, "the new cookie at the end")
}

// TestConfirmationSentThreeTimesAtOnce: three parallel submissions of the
// same confirmation. Two load the session together (a barrier after the
// load), so one of them loses inside Reauthenticate (ErrRotated); the third
// is sent once the winner has rotated the token (its Reauthenticated
// audit event is there), so it finds no session at load and only the
// rotation marker tells it apart from a revoked one. Exactly one acts and
// sets the new cookie; each of the others sets no session cookie and says
// it was sent twice; the new cookie works.
func TestConfirmationSentThreeTimesAtOnce(t *testing.T) {
	var barrier sync.WaitGroup
	barrier.Add(2)
	var loads atomic.Int32
	a := newTwiceApp(t, func(c *Config, _ *session.Options) {
		c.AfterSessionLoad = func(r *http.Request) {
			if r.URL.Path == "/sessions/revoke-others" && loads.Add(1) <= 2 { // the first two load before either confirms
				barrier.Done()
				barrier.Wait()
			}
		}
	})
	form := url.Values{"csrf_token": {a.c.csrf}, "reauth_password": {"pw-bob"}}
	results := make(chan *http.Response, 3)
	send := func() {
		res, err := a.rawPost("/sessions/revoke-others", a.token, form)
		if err != nil {
			t.Error(err)
		}
		results <- res
	}
	go send()
	go send()
	deadline := time.Now().Add(30 * time.Second) // bounds the wait; nothing is timed
	for {
		events, _, err := a.db.AuditEvents(t.Context(), audit.Filter{Type: audit.Reauthenticated, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no re-authentication recorded by the first two submissions")
		}
		time.Sleep(5 * time.Millisecond) // the poll's interval
	}
	go send()

	var winners []string
	losers := 0
	for range 3 {
		res := <-results
		if res == nil {
			t.FailNow()
		}
		if v, sets := setCookie(res, a.srv.sessions.CookieName()); sets && v != "" && v != a.token {
			winners = append(winners, v)
			continue
		}
		a.wantSentTwice(res, "/sessions", "a losing confirmation")
		losers++
	}
	if len(winners) != 1 || losers != 2 {
		t.Fatalf("%d winners and %d losers, want 1 and 2", len(winners), losers)
	}
	a.wantSignedIn(winners[0], "the winner's cookie")
	events, _, err := a.db.AuditEvents(t.Context(), audit.Filter{Type: audit.SessionsRevoked, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Errorf("the action was carried out %d times, want once", len(events))
	}
}

// TestPasswordChangeSentTwiceInARow: a password change sent again after
// the first one's answer, with the old cookie, changes nothing more, keeps
// the cookie and says it was sent twice; the new cookie works.
func TestPasswordChangeSentTwiceInARow(t *testing.T) {
	a := newTwiceApp(t)
	form := url.Values{"csrf_token": {a.c.csrf}, "current_password": {"pw-bob"},
		"password": {"a new and long enough passphrase"}}
	first := a.post("/account/password", a.token, form)
	newToken, sets := setCookie(first, a.srv.sessions.CookieName())
	if first.StatusCode != http.StatusOK || !sets || newToken == "" || newToken == a.token {
		t.Fatalf("first password change: %d, session cookie %v %q; want 200 with a new token", first.StatusCode, sets, newToken)
	}
	second := a.post("/account/password", a.token, form)
	a.wantSentTwice(second, "/account", "second password change")
	a.wantSignedIn(newToken, "the new cookie after the second password change")
}
