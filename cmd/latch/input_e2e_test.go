package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestNULRefusedBeforeTheStore is the regression test for issue 12.7: on
// PostgreSQL, /admin/users?q=%00 answered 500 (`invalid byte sequence for
// encoding "UTF8"`), since the NUL reached the query. Now a NUL or invalid
// UTF-8 in a query parameter or a form field is a 400 in plain words before
// any store call, on SQLite and PostgreSQL alike.
func TestNULRefusedBeforeTheStore(t *testing.T) {
	for _, b := range backends[:2] { // SQLite and PostgreSQL
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			u, pw := adminAccount(t, ta, "Admin")
			admin := ta.newBrowser()
			admin.login(u.Email, pw, false)

			for _, path := range []string{
				"/admin/users?q=%00", "/admin/users?q=a%00b", "/admin/users?q=%FF",
				"/admin/audit?user=%00", "/admin/audit?type=login.failed%00", "/admin/sessions?email=%00",
			} {
				p := admin.get(path)
				if p.status != http.StatusBadRequest || !strings.Contains(p.body, "contains a character that is not allowed") {
					t.Errorf("GET %s: status %d, want 400 with the message\n%s", path, p.status, p.body)
				}
			}
			if p := admin.get("/admin/users?q=admin"); p.status != http.StatusOK {
				t.Errorf("GET /admin/users?q=admin: status %d after the refusals", p.status)
			}

			anon := ta.newBrowser()
			for _, email := range []string{u.Email + "\x00", "a\x00@example.com", "\xff@example.com"} {
				p := anon.post("/login", url.Values{"email": {email}, "password": {pw}})
				if p.status != http.StatusBadRequest || !strings.Contains(p.body, "The form contains a character that is not allowed") {
					t.Errorf("POST /login with %q: status %d, want 400\n%s", email, p.status, p.body)
				}
			}
			if strings.Contains(ta.logs.String(), "invalid byte sequence") {
				t.Error("a NUL reached the database")
			}
		})
	}
}
