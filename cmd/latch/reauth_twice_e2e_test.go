package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/session/sessiontest"
)

// TestDoubleSubmittedConfirmationAfterTheAnswer is the sudo-mode
// confirmation (re-authentication) sent twice where the second copy, with
// the old cookie, arrives after the first one's answer rotated the session
// token: it must not sign the person out (README, "Sudo mode"); the same
// for a password change. Then three at once, one of them sent after the
// winner rotated the token. On Redis and on the embedded store.
func TestDoubleSubmittedConfirmationAfterTheAnswer(t *testing.T) {
	for _, b := range []backend{backends[0], backends[2]} {
		t.Run(b.name, func(t *testing.T) { testDoubleSubmittedAfterTheAnswer(t, b) })
	}
}

func testDoubleSubmittedAfterTheAnswer(t *testing.T, b backend) {
	cfg := testConfig(t, b)
	cfg.ReauthWindow = time.Minute
	var gate atomic.Int32 // > 0: that many loads of revoke-others still wait for each other
	var barrier sync.WaitGroup
	ta := startAppWrapped(t, cfg, clocktest.New(time.Now()), nil, func(c *server.Config) {
		c.AfterSessionLoad = func(r *http.Request) {
			if r.URL.Path == "/sessions/revoke-others" && gate.Add(-1) >= 0 {
				barrier.Done()
				barrier.Wait()
			}
		}
	})

	// signIn signs a new user in on a browser and another device, and lets
	// the re-authentication window pass; it returns the browser, the form
	// that confirms "sign out my other sessions" with the password, and
	// the session cookie before confirming.
	signIn := func(t *testing.T, name string) (*browser, url.Values, *http.Cookie) {
		email, pw := ta.newUser(name)
		br, other := ta.newBrowser().as(t), ta.newBrowser().as(t)
		br.login(email, pw, false)
		other.login(email, pw, false)
		ta.clock.Advance(2 * time.Minute) // the password is no longer recent
		form := url.Values{"csrf_token": {br.csrfToken()}, "reauth_password": {pw}}
		return br, form, br.sessionCookie()
	}
	// replay sends form with the old cookie, as the browser's second copy.
	replay := func(t *testing.T, old *http.Cookie, form url.Values) page {
		rb := ta.newBrowser().as(t)
		rb.client.Jar.SetCookies(mustParseURL(t, ta.srv.URL), []*http.Cookie{old})
		return rb.post("/sessions/revoke-others", form)
	}
	wantSentTwice := func(t *testing.T, p page, what string) {
		t.Helper()
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/sessions" {
			t.Errorf("%s: %d → %q, want 303 → /sessions", what, p.status, p.header.Get("Location"))
		}
		for _, c := range p.resp.Cookies() {
			switch c.Name {
			case "__Host-latch_session":
				t.Errorf("%s: Set-Cookie %s (the browser would lose the new session token)", what, c)
			case "__Host-latch_flash":
				if c.Value != "sent_twice" {
					t.Errorf("%s: flash %q, want sent_twice", what, c.Value)
				}
			}
		}
	}
	revocations := func(t *testing.T) int { return len(auditLog(t, ta.app.db, audit.SessionsRevoked)) }

	t.Run("second copy after the first answer", func(t *testing.T) {
		before := revocations(t)
		br, form, old := signIn(t, "TwiceInARow")
		first := br.post("/sessions/revoke-others", form)
		if first.status != http.StatusSeeOther || first.header.Get("Location") != "/sessions" {
			t.Fatalf("first confirmation: %d → %q, want 303 → /sessions", first.status, first.header.Get("Location"))
		}
		if c := br.sessionCookie(); c == nil || c.Value == old.Value {
			t.Fatal("the first confirmation issued no new session token")
		}
		wantSentTwice(t, replay(t, old, form), "second copy")
		if !br.signedIn() {
			t.Error("signed out after the second copy: the new session token no longer works")
		}
		if n := revocations(t) - before; n != 1 {
			t.Errorf("the action was carried out %d times, want once", n)
		}

		// A minute later the marker is gone: the old token is a revoked
		// one, and its cookie is cleared as before.
		expireRotationMarkers(t, ta)
		late := replay(t, old, form)
		if late.status != http.StatusSeeOther || late.header.Get("Location") != "/login" {
			t.Errorf("old cookie after the marker: %d → %q, want 303 → /login", late.status, late.header.Get("Location"))
		}
		cleared := false
		for _, c := range late.resp.Cookies() {
			cleared = cleared || (c.Name == "__Host-latch_session" && c.Value == "" && c.MaxAge < 0)
		}
		if !cleared {
			t.Errorf("old cookie after the marker: not cleared (Set-Cookie %q)", late.header.Values("Set-Cookie"))
		}
		if !br.signedIn() {
			t.Error("the new session token stopped working")
		}
	})

	t.Run("password change sent again after the first answer", func(t *testing.T) {
		email, pw := ta.newUser("PasswordTwice")
		br := ta.newBrowser().as(t)
		br.login(email, pw, false)
		form := url.Values{"csrf_token": {br.csrfToken()}, "current_password": {pw},
			"password": {"another correct horse battery staple"}}
		old := br.sessionCookie()
		if p := br.post("/account/password", form); p.status != http.StatusOK {
			t.Fatalf("first password change: %d, want 200", p.status)
		}
		if c := br.sessionCookie(); c == nil || c.Value == old.Value {
			t.Fatal("the password change issued no new session token")
		}
		rb := ta.newBrowser().as(t)
		rb.client.Jar.SetCookies(mustParseURL(t, ta.srv.URL), []*http.Cookie{old})
		p := rb.post("/account/password", form)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/account" {
			t.Errorf("second copy: %d → %q, want 303 → /account", p.status, p.header.Get("Location"))
		}
		for _, c := range p.resp.Cookies() {
			if c.Name == "__Host-latch_session" {
				t.Errorf("second copy: Set-Cookie %s (the browser would lose the new session token)", c)
			}
		}
		if !br.signedIn() {
			t.Error("signed out after the second copy of the password change")
		}
	})

	t.Run("three at once", func(t *testing.T) {
		before := revocations(t)
		_, form, old := signIn(t, "ThreeAtOnce")
		barrier.Add(2)
		gate.Store(2) // the first two copies load the session before either confirms
		pages := make(chan page, 3)
		send := func() { pages <- replay(t, old, form) }
		go send()
		go send()
		deadline := time.Now().Add(30 * time.Second) // bounds the wait; nothing is timed
		for revocations(t) == before {               // the winner rotated the token and acted
			if time.Now().After(deadline) {
				t.Fatal("neither of the first two copies acted")
			}
			time.Sleep(5 * time.Millisecond) // the poll's interval
		}
		go send() // the third copy arrives after the rotation

		var winner *http.Cookie
		losers := 0
		for range 3 {
			p := <-pages
			var set *http.Cookie
			for _, c := range p.resp.Cookies() {
				if c.Name == "__Host-latch_session" {
					set = c
				}
			}
			if set != nil && set.Value != "" && set.Value != old.Value {
				winner = set
				continue
			}
			wantSentTwice(t, p, "a losing copy")
			losers++
		}
		if winner == nil || losers != 2 {
			t.Fatalf("winner %v and %d losers, want one and 2", winner, losers)
		}
		nb := ta.newBrowser().as(t)
		nb.client.Jar.SetCookies(mustParseURL(t, ta.srv.URL), []*http.Cookie{winner})
		if !nb.signedIn() {
			t.Error("the winner's session token does not work")
		}
		if n := revocations(t) - before; n != 1 {
			t.Errorf("the action was carried out %d times, want once", n)
		}
	})
}

// expireRotationMarkers does what a minute does to the rotation markers:
// on Redis they expire (P{b}:r:<sha256> keys), in the embedded store the
// rotation time falls out of the marker's minute.
func expireRotationMarkers(t *testing.T, ta *testApp) {
	t.Helper()
	if ta.prefix == "" {
		if _, err := ta.app.db.SQL().ExecContext(context.Background(),
			`UPDATE sessions SET rotated_at = rotated_at - 61000 WHERE rotated_at IS NOT NULL`); err != nil {
			t.Fatal(err)
		}
		return
	}
	pool := sessiontest.RedisPool(t)
	conn := pool.Get()
	defer conn.Close()
	n := 0
	for _, k := range sessiontest.RedisKeys(t, pool, ta.prefix) {
		if strings.Contains(k, "}:r:") {
			if _, err := conn.Do("DEL", ta.prefix+k); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no rotation marker in Redis")
	}
}
