package server

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latch/latch/internal/session"
)

// TestDevicesPageListsWhatLoginsRecorded: with nothing put in the registry
// by the test, the devices page and the admin list show exactly the
// sessions the logins created, as the session manager recorded them
// (session.Manager's record, passed to the store with each commit), and a
// logout takes its session off the list. A manager that stopped
// recording, or recorded the wrong account, handle, IP or User-Agent,
// fails this test (the fake registry was once filled by the login helper
// instead, and would not have noticed).
func TestDevicesPageListsWhatLoginsRecorded(t *testing.T) {
	a := newTestApp(t)
	laptop := a.login("bob@example.com", false)
	mac := a.loginWith("bob@example.com", macChrome, true)
	admin := a.login("admin@example.com", false)

	recs, err := a.sessions.UserSessions(t.Context(), bobID)
	if err != nil {
		t.Fatal(err)
	}
	want := []session.Record{
		{Handle: laptop.handle, UserID: bobID, IP: "127.0.0.1", UserAgent: firefoxAgent, Remember: false},
		{Handle: mac.handle, UserID: bobID, IP: "127.0.0.1", UserAgent: macChrome, Remember: true},
	}
	ignoreTimes := cmp.Transformer("times", func(r session.Record) session.Record {
		r.Created, r.LastSeen, r.AbsoluteDeadline, r.Expiry = t0, t0, t0, t0
		return r
	})
	if diff := cmp.Diff(want, recs, ignoreTimes); diff != "" {
		t.Fatalf("bob's sessions in the registry (-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if !r.Created.Equal(t0) || !r.LastSeen.Equal(t0) || !r.AbsoluteDeadline.After(t0) || !r.Expiry.After(t0) {
			t.Errorf("session %s: created %v, last seen %v, deadlines %v, %v; want created and seen at %v",
				r.Handle, r.Created, r.LastSeen, r.AbsoluteDeadline, r.Expiry, t0)
		}
	}

	res, body := laptop.get("/sessions")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body,
		`<h2 class="device-name">Firefox 128 on Linux <span class="badge">This device</span></h2>`,
		`<h2 class="device-name">Chrome 126 on macOS</h2>`,
		`<dd>127.0.0.1</dd>`,
		`action="/sessions/`+mac.handle+`/revoke"`,
	)
	mustNotContain(t, body, admin.handle, `action="/sessions/`+laptop.handle+`/revoke"`)

	res, body = admin.get("/admin/sessions")
	wantStatus(t, res, body, http.StatusOK)
	mustContain(t, body, "3 active sessions",
		`action="/admin/sessions/`+laptop.handle+`/kill"`, `action="/admin/sessions/`+mac.handle+`/kill"`)

	res, body = mac.post("/logout", nil)
	wantStatus(t, res, body, http.StatusSeeOther)
	if a.sessions.has(mac.handle) {
		t.Error("the session that logged out is still in the registry")
	}
	_, body = laptop.get("/sessions")
	mustNotContain(t, body, `Chrome 126 on macOS`, mac.handle)
}
