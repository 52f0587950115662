package server

import (
	"net/http"
	"strings"
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
	)
	if next := pagerLink(body, "next"); !strings.HasPrefix(next, "/admin/sessions?after=") || !strings.HasSuffix(next, "&page=2") {
		t.Errorf("Next page link %q, want /admin/sessions?after=<cursor>&page=2", next)
	}

	// From a cursor the count reaches as far past the page as by offset.
	res, body = admin.get(pagerLink(body, "next"))
	wantStatus(t, res, body, http.StatusOK)
	if q := a.sessions.lastQuery; q.After == nil || q.Offset != 0 || q.CountLimit != perPage+countLimit {
		t.Errorf("query %+v, want After set, Offset 0, CountLimit %d", q, perPage+countLimit)
	}
	mustContain(t, body, "More than 1050 active sessions", `<span class="pager-position">Page 2 of more than 21</span>`)

	// Page 20 counts up to 950 + 1,000: the 1,200 (and admin's own) are exact.
	res, body = admin.get("/admin/sessions?page=20")
	wantStatus(t, res, body, http.StatusOK)
	mustNotContain(t, body, "More than")
	mustContain(t, body, `<span class="pager-position">Page 20 of 25</span>`)
}
