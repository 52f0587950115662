package main

import (
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latch/latch/internal/clocktest"
	"github.com/latch/latch/internal/throttle"
)

// TestSlowBodyActionAfterLogoutDoesNothing: a client sends a sensitive
// form's headers, waits, and sends the body only after its session was
// ended elsewhere. The action must be judged by the session as it is when
// the request is complete: it is not performed (regression: the session
// used to be loaded before the body was read).
func TestSlowBodyActionAfterLogoutDoesNothing(t *testing.T) {
	reading := make(chan struct{})
	cfg := testConfig(t, backends[0])
	cfg.ReauthWindow = time.Hour
	ta := startAppWrapped(t, cfg, clocktest.New(time.Now()),
		func(h http.Handler) http.Handler { return wrapBody(h, reading) })
	email, pw := ta.newUser("Slow")
	victim := ta.newBrowser()
	victim.login(email, pw, false)
	other := ta.newBrowser()
	other.login(email, pw, false)
	token, cookie := victim.csrfToken(), victim.sessionCookie()

	bodyR, bodyW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/sessions/revoke-others", bodyR)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		c := *ta.srv.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-reading // the server is waiting for the body
	if p := victim.post("/logout", url.Values{"csrf_token": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	_, _ = io.WriteString(bodyW, url.Values{"csrf_token": {token}}.Encode())
	bodyW.Close()
	if status := <-done; status != http.StatusSeeOther {
		t.Errorf("the late request: status %d, want 303 to /login", status)
	}
	if !other.signedIn() {
		t.Fatal("a request whose session had ended still signed out the other sessions")
	}
}

// TestKnownIPForgottenAfterPasswordChange: sign-ins from before a password
// change (maybe with the stolen old password) no longer exempt their IP
// from the per-account quota.
func TestKnownIPForgottenAfterPasswordChange(t *testing.T) {
	q := throttle.DefaultQuotas()
	q.Account = throttle.Quota{Count: 1, Period: time.Hour}
	ta := startApp(t, backends[0], withThrottle(q))
	email, pw := ta.newUser("Known")
	const ip = "198.51.100.20"
	br := ta.newBrowser()
	wantLoggedIn(t, br.loginAs(ip, email, pw), "login from the soon-known IP")
	u, err := ta.app.db.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.app.db.SetPassword(t.Context(), u.ID, u.PasswordHash, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	attacker := ta.newBrowser()
	if p := attacker.loginAs(ip, email, "wrong guess one"); p.status != http.StatusUnauthorized {
		t.Fatalf("first guess: %d", p.status)
	}
	wantThrottled(t, attacker.loginAs(ip, email, "wrong guess two"), "second guess from an IP known only before the change", 3600)
}
