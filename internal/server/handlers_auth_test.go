package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latch/latch/internal/audit"
)

func TestLoginAudit(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		password string
		disable  bool
		status   int
		want     audit.Event
	}{
		{
			name: "success", email: " Bob@example.com", password: "pw-bob", status: http.StatusSeeOther,
			want: audit.Event{Type: audit.LoginSucceeded, ActorID: bobID, SubjectID: bobID, Email: "Bob@example.com"},
		},
		{
			name: "wrong password", email: "bob@example.com", password: "guess-123456", status: http.StatusUnauthorized,
			want: audit.Event{Type: audit.LoginFailed, SubjectID: bobID, Email: "bob@example.com", Detail: "wrong password"},
		},
		{
			name: "unknown email", email: "nobody@example.com", password: "guess-123456", status: http.StatusUnauthorized,
			want: audit.Event{Type: audit.LoginFailed, Email: "nobody@example.com", Detail: "unknown email"},
		},
		{
			name: "disabled account", email: "bob@example.com", password: "pw-bob", disable: true, status: http.StatusUnauthorized,
			want: audit.Event{Type: audit.LoginFailed, SubjectID: bobID, Email: "bob@example.com", Detail: "account disabled"},
		},
		{
			name: "password too long", email: "bob@example.com", password: strings.Repeat("x", 1025), status: http.StatusUnauthorized,
			want: audit.Event{Type: audit.LoginFailed, SubjectID: bobID, Email: "bob@example.com", Detail: "password too long"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t)
			if tt.disable {
				_ = a.users.SetDisabled(t.Context(), bobID, true)
			}
			c := a.newClient(firefoxAgent)
			res, body := c.do("POST", "/login", url.Values{"email": {tt.email}, "password": {tt.password}})
			wantStatus(t, res, body, tt.status)
			events := a.audit.all()
			if len(events) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(events), events)
			}
			got := events[0]
			if got.IP != "127.0.0.1" || got.UserAgent != firefoxAgent || !got.Time.Equal(t0) {
				t.Errorf("IP %q, User-Agent %q, time %v", got.IP, got.UserAgent, got.Time)
			}
			if tt.want.Type == audit.LoginSucceeded && len(got.SessionHandle) != 22 {
				t.Errorf("session handle %q, want the new session's", got.SessionHandle)
			}
			if strings.Contains(got.Detail+got.Email, tt.password) {
				t.Error("the event holds the password")
			}
			ignore := cmpopts.IgnoreFields(audit.Event{}, "ID", "Time", "IP", "UserAgent", "SessionHandle")
			if diff := cmp.Diff(tt.want, got, ignore); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuditFailureDoesNotBreakLoginOrLogout(t *testing.T) {
	a := newTestApp(t)
	a.audit.insertErr = errors.New("database is locked")
	c := a.newClient(firefoxAgent)
	res, body := c.do("POST", "/login", url.Values{"email": {"bob@example.com"}, "password": {"pw-bob"}})
	wantRedirect(t, res, body, "/profile")
	res, body = c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	c.csrf = csrfField.FindStringSubmatch(body)[1]
	res, body = c.post("/logout", nil)
	wantRedirect(t, res, body, "/login")
	if n := strings.Count(a.logs.String(), "audit event not recorded"); n != 2 {
		t.Errorf("%d audit failures logged, want 2 (login, logout)\n%s", n, a.logs.String())
	}
}

func TestLogoutAndRegisterAudit(t *testing.T) {
	a := newTestApp(t)
	c := a.login("bob@example.com", false)
	res, body := c.post("/logout", nil)
	wantRedirect(t, res, body, "/login")
	ev, ok := a.audit.last(audit.Logout)
	if !ok || ev.ActorID != bobID || ev.SubjectID != bobID || ev.SessionHandle != c.handle || ev.Via != audit.ViaSelf {
		t.Errorf("logout event %+v", ev)
	}

	res, body = a.newClient(firefoxAgent).do("POST", "/register", url.Values{
		"email": {"carol@example.com"}, "name": {"Carol"}, "password": {"a long pass phrase"}})
	wantRedirect(t, res, body, "/login")
	ev, ok = a.audit.last(audit.UserCreated)
	if !ok || ev.ActorID == 0 || ev.SubjectID != ev.ActorID || ev.Via != audit.ViaSelf || ev.Email != "carol@example.com" {
		t.Errorf("user created event %+v", ev)
	}
}

func TestProfileActivity(t *testing.T) {
	a := newTestApp(t)
	// A failed attempt on bob's account from a hostile client, then bob.
	a.newClient(hostileAgent).do("POST", "/login", url.Values{"email": {"bob@example.com"}, "password": {"guess-123456"}})
	c := a.login("bob@example.com", false)
	_, body := c.get("/profile")
	mustContain(t, body,
		"Recent security activity",
		`<span class="activity-what">Signed in</span>`,
		`<span class="activity-what">Failed sign-in</span>`,
		`127.0.0.1 · Firefox 128 on Linux`,
		`127.0.0.1 · Unknown browser`,
	)
	if q := a.audit.lastQuery; q.UserID != bobID || q.Limit != 10 {
		t.Errorf("activity query %+v, want bob's last 10", q)
	}

	a.audit.listErr = errFake
	res, body := c.get("/profile")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "Your recent activity cannot be shown right now.")
}
