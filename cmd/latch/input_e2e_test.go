package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch/latch/internal/store"
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

// TestLegacyLookAlikeAccountsSignIn (issue 12.4): accounts stored before
// addresses were normalised with NFKC and checked for look-alikes (a
// fullwidth address, a Cyrillic letter among Latin ones) still sign in with
// the address they have, on SQLite and PostgreSQL, while the same address
// can no longer be registered.
func TestLegacyLookAlikeAccountsSignIn(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			ta := startApp(t, b)
			db := ta.app.db
			for i, legacy := range []string{"ａｌｉｃｅ@example.com", "alіce@example.com"} {
				u, pw := adminAccount(t, ta, fmt.Sprintf("legacy%d", i))
				set := "UPDATE users SET email = ?, email_key = ? WHERE id = ?"
				if db.Dialect() == store.DialectPostgres {
					set = "UPDATE users SET email = $1, email_key = $2 WHERE id = $3"
				}
				if _, err := db.SQL().ExecContext(t.Context(), set, legacy, strings.ToLower(legacy), u.ID); err != nil {
					t.Fatal(err)
				}
				ta.newBrowser().login(legacy, pw, false)
			}
			p := ta.newBrowser().post("/register", url.Values{"email": {"bоb@example.com"}, "name": {"Bob"}, "password": {"correct horse battery staple"}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "mixes letters of different alphabets") {
				t.Errorf("registering a mixed-script address: status %d\n%s", p.status, p.body)
			}
		})
	}
}
