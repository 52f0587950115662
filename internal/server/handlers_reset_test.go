package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/user"
)

// fakeResets is an in-memory PasswordResets; it issues tokens from a
// counter so tests can name them.
type fakeResets struct {
	mu     sync.Mutex
	users  *fakeUsers
	links  map[string]*fakeLink
	issued int
}

type fakeLink struct {
	userID  int64
	expires time.Time
	used    bool
}

var _ PasswordResets = (*fakeResets)(nil)

func (f *fakeResets) CreatePasswordReset(_ context.Context, userID int64, now time.Time) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued++
	token := strings.Repeat("t", 41) + string(rune('A'+f.issued/26)) + string(rune('A'+f.issued%26))
	f.links[token] = &fakeLink{userID: userID, expires: now.Add(30 * time.Minute)}
	return token, now.Add(30 * time.Minute), nil
}

func (f *fakeResets) PasswordResetUser(_ context.Context, token string, now time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[token]
	if !ok || l.used || !now.Before(l.expires) {
		return 0, user.ErrResetInvalid
	}
	return l.userID, nil
}

func (f *fakeResets) ResetPassword(ctx context.Context, token, hash string, now time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[token]
	if !ok || l.used || !now.Before(l.expires) {
		return 0, user.ErrResetInvalid
	}
	l.used = true
	return l.userID, f.users.SetPassword(ctx, l.userID, hash, now)
}

// withResets turns reset links on in a, and returns a link for account id.
func withResets(t *testing.T, a *testApp, id int64) (*fakeResets, string) {
	t.Helper()
	f := &fakeResets{users: a.users, links: map[string]*fakeLink{}}
	a.srv.resets = f
	a.rebuildAccounts() // the account operations use the reset links
	token, _, _ := f.CreatePasswordReset(t.Context(), id, a.clock.Now())
	return f, token
}

const resetInvalidText = "This password reset link does not work"

func TestResetLink(t *testing.T) {
	a := newTestApp(t)
	_, token := withResets(t, a, bobID)
	bobElsewhere := a.login("bob@example.com", false)
	visitor := a.newClient(firefoxAgent)

	res, body := visitor.get("/reset/" + token)
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "<h1>Choose a new password</h1>", `<strong id="reset-email">bob@example.com</strong>`,
		`<form method="post" action="/reset/`+token+`"`, `autocomplete="new-password"`)
	if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q on the reset page, want no-referrer", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}

	res, body = visitor.do("POST", "/reset/"+token, url.Values{"password": {"password1234"}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	mustContain(t, body, "This password is too easy to guess")
	res, body = visitor.do("POST", "/reset/"+token, url.Values{"password": {"examplebob1234"}})
	wantStatus(t, res, body, http.StatusUnprocessableEntity)
	mustContain(t, body, "it contains your name or email address")

	res, body = visitor.do("POST", "/reset/"+token, url.Values{"password": {newPassword}})
	wantRedirect(t, res, body, "/profile")
	res, body = visitor.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "<h1>Bob</h1>", "Your new password is set and you are signed in.")
	u, _ := a.users.UserByID(t.Context(), bobID)
	if u.PasswordHash != "plain:"+newPassword || !u.SessionsValidAfter.Equal(t0) {
		t.Errorf("after the reset: %+v", u)
	}
	if got := a.sessions.revokeUser; len(got) != 1 || got[0] != "2/" {
		t.Errorf("RevokeUser calls %q, want every session of Bob", got)
	}
	ev, ok := a.audit.last(audit.PasswordReset)
	if !ok || ev.ActorID != bobID || ev.SubjectID != bobID || ev.SessionHandle == "" || ev.SessionHandle == bobElsewhere.handle {
		t.Errorf("PasswordReset event %+v", ev)
	}

	// Used: the same one message as for an unknown link; the other session
	// (logged in in the same second as the reset, so the epoch keeps it)
	// was revoked in the registry.
	res, body = a.newClient(firefoxAgent).get("/reset/" + token)
	wantStatus(t, res, body, http.StatusNotFound)
	mustContain(t, body, resetInvalidText)
	res, body = a.newClient(firefoxAgent).do("POST", "/reset/"+token, url.Values{"password": {"another fine pass phrase"}})
	wantStatus(t, res, body, http.StatusNotFound)
	mustContain(t, body, resetInvalidText)

	if logs := a.logs.String(); strings.Contains(logs, token) {
		t.Errorf("the token is in the log:\n%s", logs)
	} else if !strings.Contains(logs, redactedResetPath) {
		t.Errorf("the log has no %s line:\n%s", redactedResetPath, logs)
	}
}

func TestResetLinkRefused(t *testing.T) {
	a := newTestApp(t)
	f, token := withResets(t, a, bobID)
	disabledToken, _, _ := f.CreatePasswordReset(t.Context(), malloryID, a.clock.Now())
	_ = a.users.SetDisabled(t.Context(), malloryID, true)
	for _, tt := range []struct {
		name, path string
		advance    time.Duration
	}{
		{"unknown", "/reset/" + strings.Repeat("x", 43), 0},
		{"malformed", "/reset/not-a-token", 0},
		{"with a slash", "/reset/" + token + "/x", 0},
		{"disabled account", "/reset/" + disabledToken, 0},
		{"expired", "/reset/" + token, 30 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a.clock.Advance(tt.advance)
			for _, method := range []string{"GET", "POST"} {
				res, body := a.newClient(firefoxAgent).do(method, tt.path, url.Values{"password": {newPassword}})
				wantStatus(t, res, body, http.StatusNotFound)
				mustContain(t, body, "<h1>This link cannot be used</h1>", resetInvalidText, "Ask an administrator for a new link.")
				if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
					t.Errorf("Referrer-Policy %q, want no-referrer", got)
				}
			}
		})
	}
	if u, _ := a.users.UserByID(t.Context(), bobID); u.PasswordHash != "plain:pw-bob" {
		t.Errorf("Bob's password changed: %q", u.PasswordHash)
	}

	// A cross-site form post is refused like a login's, and the log line
	// about it does not hold the token either.
	c := a.newClient(firefoxAgent)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", a.ts.URL+"/reset/"+token, strings.NewReader("password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", res.StatusCode)
	}
	if strings.Contains(a.logs.String(), token) || strings.Contains(a.logs.String(), disabledToken) {
		t.Error("a token is in the log")
	}

	// Without a reset store the routes do not exist.
	a.srv.resets = nil
	res, body := a.newClient(firefoxAgent).get("/reset/" + token)
	wantStatus(t, res, body, http.StatusNotFound)
	mustNotContain(t, body, resetInvalidText)
}

var resetLinkShown = regexp.MustCompile(`<code class="reset-link" id="reset-link">(http://127\.0\.0\.1:\d+/reset/[A-Za-z0-9_-]{43})</code>`)

func TestAdminResetLink(t *testing.T) {
	a := newTestApp(t)
	withResets(t, a, adminID)
	admin := a.login("admin@example.com", false)

	res, body := admin.get("/admin/users/2")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, `<form method="post" action="/admin/users/2/reset-link" class="inline-form">`, "Create reset link</button>")
	mustNotContain(t, body, `id="reset-link"`)

	res, body = admin.post("/admin/users/2/reset-link", nil)
	wantStatus(t, res, body, http.StatusOK)
	m := resetLinkShown.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no reset link on the page\n%s", mainOf(body))
	}
	mustContain(t, body, "<h1>Bob</h1>", "It works once, until", `<input type="hidden" name="next" value="/admin/users/2">`)
	link := m[1]
	ev, ok := a.audit.last(audit.PasswordResetLink)
	if !ok || ev.Via != audit.ViaAdmin || ev.ActorID != adminID || ev.SubjectID != bobID || !strings.HasPrefix(ev.Detail, "valid until ") {
		t.Errorf("PasswordResetLink event %+v", ev)
	}
	token := link[strings.LastIndex(link, "/")+1:]
	if strings.Contains(ev.Detail, token) || strings.Contains(a.logs.String(), token) {
		t.Error("the token is in the audit log or the log")
	}
	// The link works for Bob.
	res, body = a.newClient(firefoxAgent).get(strings.TrimPrefix(link, a.ts.URL))
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "bob@example.com")

	// The page with the link is not shown again.
	res, body = admin.get("/admin/users/2")
	wantStatus(t, res, body, http.StatusOK)
	mustNotContain(t, body, token)

	// A disabled account gets none, and no button.
	_ = a.users.SetDisabled(t.Context(), malloryID, true)
	res, body = admin.post("/admin/users/3/reset-link", nil)
	wantStatus(t, res, body, http.StatusBadRequest)
	mustContain(t, body, "Enable the account first")
	_, body = admin.get("/admin/users/3")
	mustNotContain(t, body, "/reset-link")

	// Not for a plain user.
	bob := a.login("bob@example.com", false)
	res, body = bob.post("/admin/users/3/reset-link", nil)
	wantStatus(t, res, body, http.StatusForbidden)
}

// TestResetSignInRecordsTheDevice: the session a reset link opens is a
// sign-in for new-device detection like a login (regression: it was not).
func TestResetSignInRecordsTheDevice(t *testing.T) {
	a, devices := newDeviceApp(t)
	a.loginWith("bob@example.com", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15", false) // Bob's usual device
	_, token := withResets(t, a, bobID)
	visitor := a.newClient(firefoxAgent)
	res, body := visitor.do("POST", "/reset/"+token, url.Values{"password": {newPassword}})
	wantRedirect(t, res, body, "/profile")
	devices.mu.Lock()
	n := len(devices.rows[bobID])
	devices.mu.Unlock()
	if n != 2 {
		t.Errorf("known devices of Bob after a reset from another browser: %d, want 2", n)
	}
	if ev := newDeviceEvents(a); len(ev) != 1 {
		t.Errorf("new-device events after the reset: %d, want 1", len(ev))
	}
}
