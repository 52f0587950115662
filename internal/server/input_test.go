package server

import (
	"net/http"
	"net/url"
	"testing"
)

// TestNULAndInvalidUTF8Refused (issue 12.7): a NUL byte or invalid UTF-8 in
// a query parameter (any route, signed in or not, static files included)
// or in a form field is answered 400 with a page in plain words, and the
// form is not acted on.
func TestNULAndInvalidUTF8Refused(t *testing.T) {
	a := newTestApp(t)
	anon := a.newClient(firefoxAgent)
	for _, path := range []string{
		"/login?next=%00", "/login?next=%C3", "/register?x%00=1", "/healthz?q=%FF",
		"/static/style.css?v=%00", "/nothing-here?%00", "/reset/x%00y", "/login%00",
	} {
		res, body := anon.get(path)
		wantStatus(t, res, body, http.StatusBadRequest)
		mustContain(t, body, "The address of this page contains a character that is not allowed")
	}

	before := len(a.audit.all())
	for _, form := range []url.Values{
		{"email": {"bob@example.com\x00"}, "password": {"pw-bob"}},
		{"email": {"bob@example.com"}, "password": {"pw-bob\x00"}},
		{"email": {"bob@example.com"}, "password": {"pw-bob"}, "next\x00": {"/"}},
		{"email": {"bob\xff@example.com"}, "password": {"pw-bob"}},
	} {
		res, body := anon.do("POST", "/login", form)
		wantStatus(t, res, body, http.StatusBadRequest)
		mustContain(t, body, "The form contains a character that is not allowed")
	}
	if got := len(a.audit.all()); got != before {
		t.Errorf("refused forms were acted on: %d audit events, want %d", got, before)
	}
	res, body := anon.do("POST", "/register", url.Values{"email": {"new@example.com"}, "name": {"N\x00"}, "password": {"purple monkey dishwasher"}})
	wantStatus(t, res, body, http.StatusBadRequest)
	if _, err := a.users.UserByEmail(t.Context(), "new@example.com"); err == nil {
		t.Error("a refused registration created the account")
	}

	// Signed in, on a POST with the CSRF token: refused the same way.
	bob := a.login("bob@example.com", false)
	res, body = bob.post("/account/password", url.Values{"current_password": {"pw-bob"}, "password": {"purple\x00monkey dishwasher"}})
	wantStatus(t, res, body, http.StatusBadRequest)
	res, body = bob.get("/profile?x=%00")
	wantStatus(t, res, body, http.StatusBadRequest)
}
