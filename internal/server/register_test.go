package server

import (
	"net/http"
	"net/url"
	"testing"
)

// TestRegisterTakenEmailSaysSo pins the account-enumeration policy of
// issue 12.11 (README, "Account enumeration"): registering an address that
// has an account says so, whatever its case or width, and creates nothing;
// such attempts count toward the per-IP registration quota like any other
// (TestRegistrationThrottled).
func TestRegisterTakenEmailSaysSo(t *testing.T) {
	a := newTestApp(t)
	c := a.newClient(firefoxAgent)
	for _, email := range []string{"bob@example.com", "Bob@Example.COM", "ｂｏｂ@example.com"} {
		res, body := c.do("POST", "/register", url.Values{"email": {email}, "name": {"Robert"}, "password": {"purple monkey dishwasher"}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		mustContain(t, body, "An account with this email address already exists. Log in instead.")
	}
	u, err := a.users.UserByEmail(t.Context(), "bob@example.com")
	if err != nil || u.ID != bobID || u.Name != "Bob" {
		t.Errorf("bob's account changed: %+v, %v", u, err)
	}
}

// TestRegisterInvisibleOrLoneMarkEmailRefused: an address that differs
// from another only by an invisible default-ignorable character (combining
// grapheme joiner, Hangul filler, variation selector) or by a combining
// mark no letter composes with is a 422 in plain words, and no account.
func TestRegisterInvisibleOrLoneMarkEmailRefused(t *testing.T) {
	a := newTestApp(t)
	c := a.newClient(firefoxAgent)
	const invisible = "The email address contains invisible formatting characters"
	const mark = "The email address contains an accent or mark that stands on its own"
	for _, tt := range []struct{ email, msg string }{
		{"alice\u034f@example.com", invisible}, // sent as alice%CD%8F@example.com
		{"alice\u3164@example.com", invisible},
		{"alice\ufe0f@example.com", invisible},
		{"alice@exam\u034fple.com", invisible},
		{"ali\u0307ce@example.com", mark},
	} {
		res, body := c.do("POST", "/register", url.Values{"email": {tt.email}, "name": {"Alice"}, "password": {"purple monkey dishwasher"}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		mustContain(t, body, tt.msg)
		if u, err := a.users.UserByEmail(t.Context(), tt.email); err == nil {
			t.Errorf("%q: account created: %+v", tt.email, u)
		}
	}
}

// TestRegisterFillsLoginEmail: after registering, the login page opens
// with the new address in the email field and the focus in the password
// field (issue 11); the address is not in the URL, and the next login
// page is empty again. A cookie that does not hold an address is ignored.
func TestRegisterFillsLoginEmail(t *testing.T) {
	a := newTestApp(t)
	c := a.newClient(firefoxAgent)
	res, body := c.do("POST", "/register", url.Values{"email": {"Carol@Example.com"}, "name": {"Carol"}, "password": {"purple monkey dishwasher"}})
	wantRedirect(t, res, body, "/login")
	_, body = c.get("/login")
	mustContain(t, body, `name="email" value="Carol@Example.com" autocomplete="username" required`,
		`autocomplete="current-password" required autofocus>`, "Your account has been created. Log in to continue.")
	_, body = c.get("/login")
	mustContain(t, body, `name="email" value="" autocomplete="username" autofocus required`)

	forged := a.newClient(firefoxAgent)
	u, err := url.Parse(a.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	forged.http.Jar.SetCookies(u, []*http.Cookie{{Name: a.srv.loginEmailCookieName(), Value: "PHNjcmlwdD4"}}) // "<script>"
	_, body = forged.get("/login")
	mustContain(t, body, `name="email" value="" autocomplete="username" autofocus required`)
}

// TestRegisterRefusesPasswordOfOnlyTheName: a password made only of the
// person's name (and address words), however cased or repeated, is a 422
// naming that cause, in English and Korean, and no account (zxcvbn alone
// scored "Grace grace grace" 3 for Grace, and it was accepted).
func TestRegisterRefusesPasswordOfOnlyTheName(t *testing.T) {
	a := newTestApp(t)
	for _, tt := range []struct{ lang, email, pw, why string }{
		{"en", "grace@example.com", "Grace grace grace", "This password is too easy to guess: it contains your name or email address"},
		{"ko", "grace@example.com", "GRACE example grace", "이름이나 이메일 주소가 들어 있습니다."},
	} {
		c := a.newClient(firefoxAgent)
		c.chooseLanguage(tt.lang)
		res, body := c.do("POST", "/register", url.Values{"email": {tt.email}, "name": {"Grace"}, "password": {tt.pw}})
		wantStatus(t, res, body, http.StatusUnprocessableEntity)
		mustContain(t, body, tt.why)
		if u, err := a.users.UserByEmail(t.Context(), tt.email); err == nil {
			t.Errorf("%s: account created with %q: %+v", tt.lang, tt.pw, u)
		}
	}
	// A phrase that merely contains the name passes.
	c := a.newClient(firefoxAgent)
	res, body := c.do("POST", "/register", url.Values{"email": {"grace@example.com"}, "name": {"Grace"}, "password": {"Grace purple monkey dishwasher"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("Grace purple monkey dishwasher: %d, want 303\n%s", res.StatusCode, body)
	}
}
