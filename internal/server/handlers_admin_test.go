package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch/latch/internal/audit"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/user"
)

func TestAdminAccess(t *testing.T) {
	gets := []string{"/admin", "/admin/sessions", "/admin/users", "/admin/users/2", "/admin/audit", "/admin/nothing-here"}
	a := newTestApp(t)
	bobPhone, _, _ := addSessions(a)
	posts := []string{"/admin/sessions/" + bobPhone + "/kill", "/admin/users/2/kill-sessions", "/admin/users/2/disable", "/admin/users/2/enable"}
	anon := a.newClient(firefoxAgent)
	for _, p := range gets {
		res, body := anon.get(p)
		wantRedirect(t, res, body, "/login?next="+url.QueryEscape(p))
	}

	bob := a.login("bob@example.com", false)
	for _, p := range gets {
		res, body := bob.get(p)
		wantStatus(t, res, body, http.StatusForbidden)
		mustContain(t, body, "This page is for administrators only.")
	}
	for _, p := range posts {
		res, body := bob.post(p, nil)
		wantStatus(t, res, body, http.StatusForbidden)
	}
	if !a.sessions.has(bobPhone) {
		t.Fatal("a non-admin killed a session")
	}
	if u, _ := a.users.UserByID(t.Context(), bobID); u.Disabled {
		t.Fatal("a non-admin disabled an account")
	}

	admin := a.login("admin@example.com", false)
	res, body := admin.get("/admin")
	wantRedirect(t, res, body, "/admin/users")
	for _, p := range gets[1:5] {
		res, body := admin.get(p)
		wantStatus(t, res, body, http.StatusOK)
	}
	// A POST without the CSRF token changes nothing.
	res, body = admin.post("/admin/users/2/disable", url.Values{"csrf_token": {"forged"}})
	wantStatus(t, res, body, http.StatusForbidden)

	// The role is read from the account on each request.
	_ = a.users.update(adminID, func(u *user.User) { u.Role = user.RoleUser })
	res, body = admin.get("/admin/users")
	wantStatus(t, res, body, http.StatusForbidden)
}

func TestAdminActions(t *testing.T) {
	var bobPhone, bobLaptop, adminOther string // each case's, set by addSessions
	tests := []struct {
		name     string
		path     func(admin *client) string
		form     url.Values
		status   int
		location string
		message  string
		before   func(t *testing.T, a *testApp) // set-up before the request, if any
		check    func(t *testing.T, a *testApp, admin *client)
		event    *audit.Event // the event recorded, without ID/Time/IP/UserAgent
		// eventSession is the session the event names, when not the
		// admin's own (its handle is known once the case has seeded it).
		eventSession func() string
	}{
		{
			name: "kill a session", path: func(*client) string { return "/admin/sessions/" + bobPhone + "/kill" },
			form:   url.Values{"next": {"/admin/sessions?ip=203.0.113.7&page=2"}},
			status: http.StatusSeeOther, location: "/admin/sessions?ip=203.0.113.7&page=2",
			check: func(t *testing.T, a *testApp, _ *client) {
				if a.sessions.has(bobPhone) || !a.sessions.has(bobLaptop) {
					t.Error("wrong sessions ended")
				}
			},
			event: &audit.Event{Type: audit.SessionRevoked, Via: audit.ViaAdmin, ActorID: adminID, SubjectID: bobID,
				Detail: "Safari 17 on iOS, 203.0.113.7"},
			eventSession: func() string { return bobPhone },
		},
		{
			name: "kill a session, next off-site", path: func(*client) string { return "/admin/sessions/" + bobPhone + "/kill" },
			form:   url.Values{"next": {"//evil.example/admin/"}},
			status: http.StatusSeeOther, location: "/admin/sessions",
		},
		{
			name: "kill own other session", path: func(*client) string { return "/admin/sessions/" + adminOther + "/kill" },
			status: http.StatusSeeOther, location: "/admin/sessions",
		},
		{
			name: "kill own current session", path: func(c *client) string { return "/admin/sessions/" + c.handle + "/kill" },
			status: http.StatusBadRequest, message: "This is the session you are using now",
		},
		{
			name: "kill an ended session", path: fixed("/admin/sessions/ended00000000000000000/kill"),
			status: http.StatusNotFound, message: "There is no active session with this name.",
		},
		{
			name: "kill a malformed handle", path: fixed("/admin/sessions/%3Cscript%3E/kill"),
			status: http.StatusNotFound,
		},
		{
			name: "kill all sessions of an account", path: fixed("/admin/users/2/kill-sessions"),
			status: http.StatusSeeOther, location: "/admin/users/2",
			check: func(t *testing.T, a *testApp, _ *client) {
				if got := a.sessions.revokeUser; len(got) != 1 || got[0] != "2/" {
					t.Errorf("RevokeUser calls %q, want [2/]", got)
				}
			},
			event: &audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaAdmin, ActorID: adminID, SubjectID: bobID,
				Detail: "2 sessions ended"},
		},
		{
			name: "kill all sessions of own account", path: fixed("/admin/users/1/kill-sessions"),
			status: http.StatusSeeOther, location: "/admin/users/1",
			check: func(t *testing.T, a *testApp, admin *client) {
				if !a.sessions.has(admin.handle) || a.sessions.has(adminOther) {
					t.Error("own current session ended, or the other one kept")
				}
			},
			event: &audit.Event{Type: audit.SessionsRevoked, Via: audit.ViaAdmin, ActorID: adminID, SubjectID: adminID,
				Detail: "1 session ended, all but the administrator's current one"},
		},
		{
			name: "disable an account", path: fixed("/admin/users/2/disable"),
			status: http.StatusSeeOther, location: "/admin/users/2",
			check: func(t *testing.T, a *testApp, _ *client) {
				if u, _ := a.users.UserByID(t.Context(), bobID); !u.Disabled {
					t.Error("not disabled")
				}
				if a.sessions.has(bobPhone) || a.sessions.has(bobLaptop) {
					t.Error("sessions not ended")
				}
			},
			event: &audit.Event{Type: audit.AccountDisabled, Via: audit.ViaAdmin, ActorID: adminID, SubjectID: bobID,
				Detail: "2 sessions ended"},
		},
		{
			name: "disable own account", path: fixed("/admin/users/1/disable"),
			status: http.StatusBadRequest, message: "You cannot disable your own account.",
		},
		{
			name: "enable an account", path: fixed("/admin/users/3/enable"),
			// Enabling acts on a disabled account (an enabled one is left
			// alone and nothing is recorded: internal/account Enable).
			before: func(t *testing.T, a *testApp) {
				if err := a.users.SetDisabled(t.Context(), malloryID, true); err != nil {
					t.Fatal(err)
				}
			},
			status: http.StatusSeeOther, location: "/admin/users/3",
			event: &audit.Event{Type: audit.AccountEnabled, Via: audit.ViaAdmin, ActorID: adminID, SubjectID: malloryID},
		},
		{name: "unknown account", path: fixed("/admin/users/999/disable"), status: http.StatusNotFound, message: "There is no account with this number."},
		{name: "id zero", path: fixed("/admin/users/0/enable"), status: http.StatusNotFound},
		{name: "id not a number", path: fixed("/admin/users/bob/kill-sessions"), status: http.StatusNotFound},
		{name: "id too large", path: fixed("/admin/users/99999999999999999999/disable"), status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t)
			bobPhone, bobLaptop, adminOther = addSessions(a)
			admin := a.login("admin@example.com", false)
			if tt.before != nil {
				tt.before(t, a)
			}
			before := len(a.audit.all())
			res, body := admin.post(tt.path(admin), tt.form)
			wantStatus(t, res, body, tt.status)
			if tt.location != "" {
				wantRedirect(t, res, body, tt.location)
			}
			if tt.message != "" {
				mustContain(t, body, tt.message)
			}
			if tt.check != nil {
				tt.check(t, a, admin)
			}
			events := a.audit.all()[before:]
			if tt.status != http.StatusSeeOther {
				if len(events) != 0 || len(a.sessions.revokeUser) != 0 || !a.sessions.has(admin.handle) {
					t.Errorf("a refused action changed something: events %+v", events)
				}
				return
			}
			if tt.event == nil {
				return
			}
			if len(events) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(events), events)
			}
			got := events[0]
			if got.IP != "127.0.0.1" || got.UserAgent != firefoxAgent {
				t.Errorf("IP %q, User-Agent %q", got.IP, got.UserAgent)
			}
			want := *tt.event
			want.SessionHandle = admin.handle // the admin's session, for actions not about one session
			if tt.eventSession != nil {
				want.SessionHandle = tt.eventSession()
			}
			got.ID, got.Time, got.IP, got.UserAgent = 0, time.Time{}, "", ""
			if got != want {
				t.Errorf("event\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestAdminListsBadInput(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("admin@example.com", false)
	tests := []struct {
		path    string
		status  int
		message string
	}{
		{"/admin/sessions?page=x", http.StatusBadRequest, "The page number must be a whole number, 1 or more."},
		{"/admin/sessions?page=0", http.StatusBadRequest, "The page number"},
		{"/admin/users?page=-1", http.StatusBadRequest, "The page number"},
		{"/admin/audit?page=1e3", http.StatusBadRequest, "The page number"},
		{"/admin/audit?page=99999999999999999999", http.StatusBadRequest, "The page number"},
		{"/admin/sessions?page=2", http.StatusNotFound, "This list has only 1 page."},
		{"/admin/sessions?after=garbage&page=2", http.StatusBadRequest, "This page link is not valid."},
		{"/admin/sessions?after=1773478800000&page=2", http.StatusBadRequest, "This page link is not valid."},
		{"/admin/sessions?before=-5.xG3GcMaTQNh_kGiVuXCfyQ&page=2", http.StatusBadRequest, "This page link is not valid."},
		{"/admin/sessions?after=1773478800000.short", http.StatusBadRequest, "This page link is not valid."},
		{"/admin/sessions?after=99999999999999999999.xG3GcMaTQNh_kGiVuXCfyQ", http.StatusBadRequest, "This page link is not valid."},
		{"/admin/sessions?after=1.xG3GcMaTQNh_kGiVuXCfyQ&before=1.xG3GcMaTQNh_kGiVuXCfyQ", http.StatusBadRequest, "This page link is not valid."},
		{"/admin/users?page=7", http.StatusNotFound, "This list has only 1 page."},
		{"/admin/sessions?ip=not-an-ip", http.StatusBadRequest, "Enter an IP address such as"},
		{"/admin/audit?from=2026-13-01", http.StatusBadRequest, `id="from-error">Enter a date as YYYY-MM-DD`},
		{"/admin/audit?to=yesterday", http.StatusBadRequest, `id="to-error">Enter a date as YYYY-MM-DD`},
		{"/admin/audit?from=2026-03-14&to=2026-03-01", http.StatusBadRequest, "The end date must not be before the start date."},
		{"/admin/audit?type=%3Cscript%3E", http.StatusBadRequest, "Choose an event type from the list."},
		{"/admin/users/abc", http.StatusNotFound, "There is no account with this number."},
		{"/admin/users/-4", http.StatusNotFound, "There is no account with this number."},
		{"/admin/users/404", http.StatusNotFound, "There is no account with this number."},
		{"/admin/sessions?email=nobody%40example.com", http.StatusOK, "No account has this email address."},
		{"/admin/audit?user=nobody%40example.com", http.StatusOK, "No account has this email address."},
		// Issue 12.7: NUL and invalid UTF-8 in a query are refused before any store call.
		{"/admin/sessions?email=%FF%FE", http.StatusBadRequest, "a NUL byte, or text that is not valid UTF-8"},
		{"/admin/users?q=%00", http.StatusBadRequest, "a NUL byte, or text that is not valid UTF-8"},
		{"/admin/audit?user=a%00b", http.StatusBadRequest, "a NUL byte, or text that is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := admin.get(tt.path)
			wantStatus(t, res, body, tt.status)
			mustContain(t, body, tt.message)
		})
	}
}

func TestAdminSessionsFilterAndPaging(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("admin@example.com", false)
	for range 120 {
		a.seedSession(bobID, "2001:db8::1", firefoxAgent, false)
	}

	res, body := admin.get("/admin/sessions?email=BOB%40example.com&ip=2001:0db8:0:0::1&page=3")
	wantStatus(t, res, body, http.StatusOK)
	if q := a.sessions.lastQuery; q != (session.Query{UserID: bobID, IP: "2001:db8::1", Offset: 100, Limit: 50, CountLimit: 1000}) {
		t.Errorf("query %+v", q)
	}
	mustContain(t, body,
		"120 active sessions",
		`<span class="pager-position">Page 3 of 3</span>`,
		`<a href="/admin/sessions?email=BOB%40example.com&amp;ip=2001%3A0db8%3A0%3A0%3A%3A1&amp;page=2" rel="prev">`,
		`<a href="/admin/users/2" class="cell-email" title="bob@example.com">bob@example.com</a><span class="cell-note">Bob</span>`,
		`<input type="hidden" name="next" value="/admin/sessions?email=BOB%40example.com&amp;ip=2001:0db8:0:0::1&amp;page=3">`,
	)
	mustNotContain(t, body, `rel="next"`)
	if n := strings.Count(body, "/kill\""); n != 20 {
		t.Errorf("%d Kill buttons, want 20", n)
	}
}

func TestAdminAuditFilters(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("admin@example.com", false)
	res, body := admin.get("/admin/audit?user=bob%40example.com&type=logout&from=2026-03-01&to=2026-03-14")
	wantStatus(t, res, body, http.StatusOK)
	want := audit.Filter{
		UserID: bobID, Type: audit.Logout,
		Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC),
		Limit: 50, CountLimit: 1000,
	}
	if got := a.audit.lastQuery; got != want {
		t.Errorf("filter\n got %+v\nwant %+v", got, want)
	}
	mustContain(t, body, `<option value="logout" selected>Signed out</option>`, "No events match.")

	res, body = admin.get("/admin/audit")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "Signed in<span class=\"cell-note\">login.succeeded</span>",
		`<a href="/admin/users/1" class="cell-email" title="admin@example.com">admin@example.com</a>`)
}

// fixed is a path that does not depend on the admin's session.
func fixed(path string) func(*client) string {
	return func(*client) string { return path }
}

// TestParseIDOneForm: an account number is read only in the form the
// pages write it (break-it review: "/admin/users/+1" and "01" were user 1).
func TestParseIDOneForm(t *testing.T) {
	for raw, want := range map[string]bool{"1": true, "42": true, "+1": false, "01": false, "0": false, "-1": false, " 1": false, "1e3": false, "": false} {
		if _, ok := parseID(raw); ok != want {
			t.Errorf("parseID(%q) ok = %v, want %v", raw, ok, want)
		}
	}
}
