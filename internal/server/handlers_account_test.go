package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

// SetPassword stores hash and moves the credential epoch, like the SQL
// store (user.NextCredentialEpoch).
func (f *fakeUsers) SetPassword(_ context.Context, id int64, hash string, at time.Time) error {
	return f.update(id, func(u *user.User) {
		u.PasswordHash = hash
		u.SessionsValidAfter = time.Unix(u.NextCredentialEpoch(at), 0).UTC()
	})
}

// newPassword passes the strength check for every test account.
const newPassword = "purple monkey dishwasher"

func TestPasswordChange(t *testing.T) {
	a := newTestApp(t)
	bob := a.login("bob@example.com", false)
	other := a.login("bob@example.com", true)
	a.seedSession(bobID, "203.0.113.7", iPhoneAgent, false)
	// Past the re-authentication window: the form asks for the current
	// password itself, so there is no separate "Confirm your password"
	// prompt.
	a.clock.Advance(20 * time.Minute)
	if res, body := bob.get("/profile"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /profile: %d", res.StatusCode)
	} else {
		mustContain(t, body, `<a href="/account/password">Change your password</a>`)
	}

	res, body := bob.get("/account/password")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<form method="post" action="/account/password"`, `name="current_password"`, `autocomplete="new-password"`)

	for _, tt := range []struct {
		name    string
		current string
		pw      string
		status  int
		message string
	}{
		{"no current password", "", newPassword, http.StatusUnprocessableEntity, "Enter your current password"},
		{"too short", "pw-bob", "short", http.StatusUnprocessableEntity, "Use at least 12 characters"},
		{"common", "pw-bob", "password1234", http.StatusUnprocessableEntity, "This password is too easy to guess: it is a commonly used password"},
		{"contains the name", "pw-bob", "bob@example.com2026", http.StatusUnprocessableEntity, "it contains your name or email address"},
		{"wrong current password", "pw-wrong", newPassword, http.StatusUnauthorized, "That is not your current password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, body := bob.post("/account/password", url.Values{"current_password": {tt.current}, "password": {tt.pw}})
			wantStatus(t, res, body, tt.status)
			mustContain(t, body, tt.message)
			mustNotContain(t, body, `value="`+tt.pw+`"`, `value="`+tt.current+`"`)
			if u, _ := a.users.UserByID(t.Context(), bobID); u.PasswordHash != "plain:pw-bob" || !u.SessionsValidAfter.IsZero() {
				t.Fatalf("account changed by a refused attempt: %+v", u)
			}
		})
	}
	if ev, ok := a.audit.last(audit.LoginFailed); !ok || ev.Detail != "wrong password when changing the password" || ev.SubjectID != bobID {
		t.Errorf("wrong current password audited as %+v", ev)
	}

	oldCookie := sessionCookieOf(t, bob)
	res, body = bob.post("/account/password", url.Values{"current_password": {"pw-bob"}, "password": {newPassword}})
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "<h1>Password changed</h1>", "Sessions signed out", "Safari 17 on iOS", "203.0.113.7")
	u, _ := a.users.UserByID(t.Context(), bobID)
	if u.PasswordHash != "plain:"+newPassword || !u.SessionsValidAfter.Equal(a.clock.Now()) {
		t.Errorf("after the change: hash %q, epoch %v; want the new hash and %v", u.PasswordHash, u.SessionsValidAfter, a.clock.Now())
	}
	if got := a.sessions.revokeUser; len(got) != 1 || got[0] != "2/"+bob.handle {
		t.Errorf("RevokeUser calls %q, want one for Bob except the current session", got)
	}
	if newCookie := sessionCookieOf(t, bob); newCookie == oldCookie || newCookie == "" {
		t.Error("the current session kept its token")
	}
	ev, ok := a.audit.last(audit.PasswordChanged)
	if !ok || ev.ActorID != bobID || ev.SubjectID != bobID || ev.Via != audit.ViaSelf || ev.SessionHandle != bob.handle ||
		ev.Detail != "2 sessions ended, all but the current one" {
		t.Errorf("PasswordChanged event %+v", ev)
	}

	// The epoch: the current session was re-authenticated after it and
	// stays; another session of the account that the registry still had
	// (here the fake's revocation does not touch the data) ends at its
	// next request.
	if res, body := bob.get("/profile"); res.StatusCode != http.StatusOK {
		t.Fatalf("the session that changed the password: GET /profile %d\n%s", res.StatusCode, mainOf(body))
	}
	res, body = other.get("/profile")
	wantRedirect(t, res, body, "/login?next=%2Fprofile")
	if res, body := other.get("/login"); !strings.Contains(body, "Your session has ended") {
		t.Errorf("login page after the epoch logout: %d, lacks the flash", res.StatusCode)
	}
}

// TestEpochEndsOlderSessions: a session is bound at login to the
// account's credential epoch; requireUser ends it as soon as the account's
// epoch is any other value (a change after the login, whatever its time —
// including one timestamped before the login, as a change that raced the
// login's password check would be).
func TestEpochEndsOlderSessions(t *testing.T) {
	tests := []struct {
		name  string
		epoch time.Duration // relative to the login; 0 = unchanged
		ends  bool
	}{
		{"no change", 0, false},
		{"changed, timestamped before the login", -time.Minute, true},
		{"changed in the second of the login", 900 * time.Millisecond, true},
		{"changed one second after the login", time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t)
			c := a.login("bob@example.com", false)
			if tt.epoch != 0 {
				_ = a.users.update(bobID, func(u *user.User) { u.SessionsValidAfter = t0.Add(tt.epoch).Truncate(time.Second) })
			}
			a.clock.Advance(2 * time.Second)
			res, body := c.get("/sessions")
			if tt.ends {
				wantRedirect(t, res, body, "/login?next=%2Fsessions")
				if res, _ := c.get("/profile"); res.StatusCode != http.StatusSeeOther {
					t.Error("the session came back")
				}
				return
			}
			wantStatus(t, res, body, http.StatusOK)
		})
	}
}

func sessionCookieOf(t *testing.T, c *client) string {
	t.Helper()
	u, _ := url.Parse(c.app.ts.URL)
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == session.CookieName(false) {
			return k.Value
		}
	}
	return ""
}

// TestOwnPasswordCheckReadsTheHashFromSQL: the principal carries no
// password hash, so the password change and the sudo-mode prompt read it
// from the store; a record without one fails closed (500) and is never
// verified.
func TestOwnPasswordCheckReadsTheHashFromSQL(t *testing.T) {
	a := newTestApp(t)
	c := a.login("bob@example.com", false)
	a.clock.Advance(DefaultReauthWindow + time.Minute)
	if err := a.users.update(bobID, func(u *user.User) { u.PasswordHash = "" }); err != nil {
		t.Fatal(err)
	}
	before := a.hasher.count()
	res, body := c.post("/account/password", url.Values{"current_password": {"pw-bob"}, "password": {"a new and long passphrase 42"}})
	wantStatus(t, res, body, http.StatusInternalServerError)
	res, body = c.post("/sessions/revoke-others", url.Values{"reauth_password": {"pw-bob"}})
	wantStatus(t, res, body, http.StatusInternalServerError)
	if got := a.hasher.count(); got != before {
		t.Errorf("%d password verifications against a missing hash, want none", got-before)
	}
}
