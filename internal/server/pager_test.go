package server

import (
	"net/http"
	"testing"
)

// TestAdminListSaysMoreThanWhenCountIsBounded: the admin sessions list asks
// for a count bounded at 1,000 past the page; when the store reports more,
// the page says "More than 1000" and keeps a Next link instead of claiming
// an exact total; below the bound it shows the exact count.
func TestAdminListSaysMoreThanWhenCountIsBounded(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("admin@example.com", false)
	for range 1200 {
		a.seedSession(bobID, "192.0.2.1", firefoxAgent, false)
	}
	res, body := admin.get("/admin/sessions")
	wantStatus(t, res, body, http.StatusOK)
	if q := a.sessions.lastQuery; q.CountLimit != countLimit {
		t.Errorf("query %+v, want CountLimit %d", q, countLimit)
	}
	mustContain(t, body,
		"More than 1000 active sessions",
		`<span class="pager-position">Page 1 of more than 20</span>`,
		`<a href="/admin/sessions?page=2" rel="next">`,
	)

	// Page 20 counts up to 950 + 1,000: the 1,200 (and admin's own) are exact.
	res, body = admin.get("/admin/sessions?page=20")
	wantStatus(t, res, body, http.StatusOK)
	mustNotContain(t, body, "More than")
	mustContain(t, body, `<span class="pager-position">Page 20 of 25</span>`)
}
