package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
)

// TestRecentAuthWindow: the sensitive action runs without a prompt only
// while the password was entered within the window; only AuthenticatedAt
// counts, not activity (a remember-me session kept busy is still asked).
func TestRecentAuthWindow(t *testing.T) {
	tests := []struct {
		name     string
		remember bool
		steps    []time.Duration // clock advances, each followed by a page view
		prompted bool
	}{
		{"just logged in", false, nil, false},
		{"exactly at the window", false, []time.Duration{5 * time.Minute}, false},
		{"one second past the window", false, []time.Duration{5*time.Minute + time.Second}, true},
		{"busy remember-me session", true, []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t)
			c := a.login("bob@example.com", tt.remember)
			other := a.seedSession(bobID, "203.0.113.7", "", false)
			for _, d := range tt.steps {
				a.clock.Advance(d)
				res, body := c.get("/profile")
				wantStatus(t, res, body, http.StatusOK)
			}
			res, body := c.post("/sessions/revoke-others", nil)
			if tt.prompted {
				wantStatus(t, res, body, http.StatusOK)
				mustContain(t, body, "<h1>Confirm your password</h1>")
				if !a.sessions.has(other) {
					t.Error("the action ran before the password was confirmed")
				}
				return
			}
			wantRedirect(t, res, body, "/sessions")
			if a.sessions.has(other) {
				t.Error("the action did not run")
			}
		})
	}
}

func TestReauthPrompt(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("admin@example.com", false)
	a.clock.Advance(10 * time.Minute)

	// The prompt carries the original fields and posts back to the action.
	form := url.Values{"next": {"/admin/users?q=bob"}, "note": {`"quoted" <b>`}, "reauth_password_x": {"kept"}}
	res, body := admin.post("/admin/users/2/disable", form)
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body,
		"<title>Confirm your password · Latch</title>",
		`<form method="post" action="/admin/users/2/disable" class="form" novalidate>`,
		`<input type="hidden" name="csrf_token" value="`+admin.csrf+`">`,
		`<input type="hidden" name="next" value="/admin/users?q=bob">`,
		`<input type="hidden" name="note" value="&#34;quoted&#34; &lt;b&gt;">`,
		`<input type="hidden" name="reauth_password_x" value="kept">`,
		`name="reauth_password" autocomplete="current-password"`,
		`<a href="/admin/users?q=bob">Cancel</a>`,
	)
	if n := strings.Count(body, `name="csrf_token"`); n != 2 { // logout form + this form
		t.Errorf("%d csrf_token fields, want 2", n)
	}
	if u, _ := a.users.UserByID(t.Context(), bobID); u.Disabled {
		t.Fatal("the account was disabled before the password was confirmed")
	}

	tests := []struct {
		name     string
		password string
		status   int
		message  string
		verifies int // hasher calls
	}{
		{"empty", "", http.StatusUnprocessableEntity, "Enter your password.", 0},
		{"wrong", "pw-bob", http.StatusUnauthorized, "That password is not correct. Try again.", 1},
		{"too long", strings.Repeat("p", 1025), http.StatusUnauthorized, "That password is not correct. Try again.", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, events := a.hasher.count(), len(a.audit.all())
			f := url.Values{"next": {"/admin/users?q=bob"}, "reauth_password": {tt.password}}
			res, body := admin.post("/admin/users/2/disable", f)
			wantStatus(t, res, body, tt.status)
			mustContain(t, body, `<p class="alert" id="form-error" role="alert">`+tt.message+`</p>`,
				`<input type="hidden" name="next" value="/admin/users?q=bob">`)
			if tt.password != "" {
				mustNotContain(t, body, `value="`+tt.password) // never written back
			}
			if got := a.hasher.count() - before; got != tt.verifies {
				t.Errorf("%d password checks, want %d", got, tt.verifies)
			}
			if u, _ := a.users.UserByID(t.Context(), bobID); u.Disabled {
				t.Fatal("the account was disabled")
			}
			if tt.status == http.StatusUnauthorized {
				ev, _ := a.audit.last(audit.LoginFailed)
				if len(a.audit.all()) != events+1 || ev.ActorID != adminID || ev.SessionHandle != admin.handle {
					t.Errorf("failed confirmation not audited: %+v", ev)
				}
			}
		})
	}

	// The right password: token rotated, audited, and the action runs in
	// the same request.
	var oldCookie string
	for _, ck := range admin.http.Jar.Cookies(mustURL(t, a.ts.URL)) {
		if ck.Name == "latch_session" {
			oldCookie = ck.Value
		}
	}
	res, body = admin.post("/admin/users/2/disable", url.Values{"next": {"/admin/users?q=bob"}, "reauth_password": {"pw-admin"}})
	wantRedirect(t, res, body, "/admin/users?q=bob")
	if u, _ := a.users.UserByID(t.Context(), bobID); !u.Disabled {
		t.Error("the account was not disabled")
	}
	rotated := false
	for _, ck := range res.Cookies() {
		if ck.Name == "latch_session" && ck.Value != "" && ck.Value != oldCookie {
			rotated = true
		}
	}
	if !rotated {
		t.Error("re-authentication did not issue a new session token")
	}
	ev, ok := a.audit.last(audit.Reauthenticated)
	if !ok || ev.ActorID != adminID || ev.SubjectID != adminID || ev.SessionHandle != admin.handle || ev.Via != audit.ViaSelf {
		t.Errorf("reauthenticated event %+v", ev)
	}
	if _, ok := a.audit.last(audit.AccountDisabled); !ok {
		t.Error("the action was not audited")
	}

	// Within the window again: the next sensitive action needs no prompt.
	a.clock.Advance(time.Minute)
	res, body = admin.post("/admin/users/2/enable", nil)
	wantRedirect(t, res, body, "/admin/users/2")
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
