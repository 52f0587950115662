package server

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/latch/latch/internal/user"
)

// After a registration the login form opens with the new account's email
// filled in (issue 11; README, "Registering"). The address travels in a
// short-lived cookie, like a flash, and not in the URL: a URL reaches
// access logs, browser history and Referer headers. The person is not
// signed in by registering: they log in once, which is the one place a
// session is created (loginCheck).

// loginEmailMaxAge is how long the address waits for the login page.
const loginEmailMaxAge = time.Minute

func (s *Server) loginEmailCookieName() string {
	if s.secure {
		return "__Host-latch_login_email"
	}
	return "latch_login_email"
}

// setLoginEmail makes the next login page show email (an address
// user.NormalizeEmail accepted) in its email field, within
// loginEmailMaxAge. The cookie holds the address base64url-encoded: an
// address may hold characters a cookie value cannot.
func (s *Server) setLoginEmail(w http.ResponseWriter, email string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.loginEmailCookieName(), Value: base64.RawURLEncoding.EncodeToString([]byte(email)), Path: "/",
		MaxAge: int(loginEmailMaxAge.Seconds()), Expires: time.Now().Add(loginEmailMaxAge),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// popLoginEmail returns the address setLoginEmail left for the login form
// and clears it; "" when there is none, or when the cookie does not hold
// an email address (it came from the client: anything else is ignored).
func (s *Server) popLoginEmail(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(s.loginEmailCookieName())
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.loginEmailCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return ""
	}
	email, _, err := user.NormalizeEmail(string(raw))
	if err != nil {
		return ""
	}
	return email
}
