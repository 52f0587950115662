package server

import (
	"net/http"
	"testing"

	"github.com/latch/latch/internal/audit"
)

// iPhoneAgent is the User-Agent of Safari 17 on iOS.
const iPhoneAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

// addSessions signs bob in on a phone and on a laptop (remember me, a
// hostile User-Agent) and the admin in on another browser, through the
// session manager (seedSession), and returns the three sessions' handles.
func addSessions(a *testApp) (bobPhone, bobLaptop, adminOther string) {
	a.t.Helper()
	bobPhone = a.seedSession(bobID, "203.0.113.7", iPhoneAgent, false)
	bobLaptop = a.seedSession(bobID, "2001:db8::1", hostileAgent, true)
	adminOther = a.seedSession(adminID, "198.51.100.4", firefoxAgent, false)
	return bobPhone, bobLaptop, adminOther
}

func TestSessionsPage(t *testing.T) {
	a := newTestApp(t)
	bobPhone, bobLaptop, adminOther := addSessions(a)
	c := a.login("bob@example.com", false)
	res, body := c.get("/sessions")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body,
		`<h2 class="device-name">Firefox 128 on Linux <span class="badge">This device</span></h2>`,
		`<h2 class="device-name">Safari 17 on iOS</h2>`,
		`<h2 class="device-name">Unknown browser</h2>`,
		`<dd>2001:db8::1</dd>`,
		`action="/sessions/`+bobPhone+`/revoke"`,
		`action="/sessions/`+bobLaptop+`/revoke"`,
		`action="/sessions/revoke-others"`,
	)
	// Only bob's sessions, and no button that would end the current one.
	mustNotContain(t, body, adminOther, `action="/sessions/`+c.handle+`/revoke"`)
}

func TestSessionRevoke(t *testing.T) {
	var bobPhone, adminOther string // each case's, set by addSessions
	tests := []struct {
		name    string
		handle  func(c *client) string
		status  int
		message string
		revoked bool
	}{
		{"own other session", func(*client) string { return bobPhone }, http.StatusSeeOther, "", true},
		{"someone else's session", func(*client) string { return adminOther }, http.StatusNotFound, "None of your active sessions has this name.", false},
		{"the current session", func(c *client) string { return c.handle }, http.StatusBadRequest, "To end it, use Log out.", false},
		{"ended session", func(*client) string { return "ended00000000000000000" }, http.StatusNotFound, "It may have ended already", false},
		{"malformed handle", func(*client) string { return "x'<>" }, http.StatusNotFound, "None of your active sessions", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t)
			bobPhone, _, adminOther = addSessions(a)
			c := a.login("bob@example.com", false)
			handle := tt.handle(c)
			res, body := c.post("/sessions/"+handle+"/revoke", nil)
			wantStatus(t, res, body, tt.status)
			if tt.message != "" {
				mustContain(t, body, tt.message)
			}
			ev, audited := a.audit.last(audit.SessionRevoked)
			if !tt.revoked {
				if audited || !a.sessions.has(adminOther) || !a.sessions.has(c.handle) {
					t.Error("a session was revoked")
				}
				return
			}
			wantRedirect(t, res, body, "/sessions")
			if a.sessions.has(handle) {
				t.Error("the session was not revoked")
			}
			if ev.Via != audit.ViaSelf || ev.ActorID != bobID || ev.SubjectID != bobID || ev.SessionHandle != handle ||
				ev.Detail != "Safari 17 on iOS, 203.0.113.7" {
				t.Errorf("event %+v", ev)
			}
			_, body = c.get("/sessions")
			mustContain(t, body, `<p class="flash" role="status">That session has been signed out.</p>`)
		})
	}
}

func TestSessionsRevokeOthers(t *testing.T) {
	a := newTestApp(t)
	bobPhone, bobLaptop, adminOther := addSessions(a)
	c := a.login("bob@example.com", false)
	res, body := c.post("/sessions/revoke-others", nil)
	wantRedirect(t, res, body, "/sessions")
	if a.sessions.has(bobPhone) || a.sessions.has(bobLaptop) || !a.sessions.has(c.handle) || !a.sessions.has(adminOther) {
		t.Error("wrong sessions revoked")
	}
	ev, _ := a.audit.last(audit.SessionsRevoked)
	if ev.Via != audit.ViaSelf || ev.ActorID != bobID || ev.SubjectID != bobID || ev.Detail != "2 sessions ended, all but the current one" {
		t.Errorf("event %+v", ev)
	}
	_, body = c.get("/sessions")
	mustContain(t, body, "All your other sessions have been signed out.")

	res, body = c.post("/sessions/revoke-others", nil)
	wantRedirect(t, res, body, "/sessions")
	_, body = c.get("/sessions")
	mustContain(t, body, "You had no other sessions to sign out.")
}

func TestSessionsStoreDown(t *testing.T) {
	a := newTestApp(t)
	c := a.login("bob@example.com", false)
	a.sessions.err = errFake
	res, body := c.get("/sessions")
	wantStatus(t, res, body, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}
