package server

import (
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	pagerLinkRe = regexp.MustCompile(`<a href="([^"]*)" rel="(prev|next)">`)
	killRe      = regexp.MustCompile(`action="/admin/sessions/([A-Za-z0-9_-]{22})/kill"`)
)

// pagerLink returns the href of body's pager link rel ("prev", "next"),
// unescaped, or "".
func pagerLink(body, rel string) string {
	for _, m := range pagerLinkRe.FindAllStringSubmatch(body, -1) {
		if m[2] == rel {
			return html.UnescapeString(m[1])
		}
	}
	return ""
}

// TestAdminSessionsCursorPages: following "Next page" from the first page
// of the admin sessions list to the last lists every session exactly once
// (all 160 seeded at the same time, so the order rests on the cursor's
// tie-break), every deep page is asked from a cursor with no offset, and
// "Previous page" from the last page back gives the same pages.
func TestAdminSessionsCursorPages(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("admin@example.com", false)
	want := map[string]bool{}
	for range 160 {
		want[a.seedSession(bobID, "192.0.2.1", firefoxAgent, false)] = true
	}
	var pages [][]string
	seen := map[string]bool{}
	path := "/admin/sessions"
	for path != "" && len(pages) < 10 {
		res, body := admin.get(path)
		wantStatus(t, res, body, http.StatusOK)
		if q := a.sessions.lastQuery; len(pages) > 0 && (q.After == nil || q.Offset != 0) {
			t.Errorf("page %d: query %+v, want one from a cursor without offset", len(pages)+1, q)
		}
		var page []string
		for _, m := range killRe.FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Errorf("page %d lists session %s again", len(pages)+1, m[1])
			}
			seen[m[1]] = true
			page = append(page, m[1])
		}
		pages = append(pages, page)
		path = pagerLink(body, "next")
	}
	if len(pages) != 4 {
		t.Errorf("%d pages, want 4 (161 sessions, 50 a page)", len(pages))
	}
	for h := range want {
		if !seen[h] {
			t.Errorf("session %s on no page", h)
		}
	}

	// Back from the last page.
	res, body := admin.get(pathOfPage(t, admin, len(pages)))
	wantStatus(t, res, body, http.StatusOK)
	for i := len(pages) - 2; i >= 0; i-- {
		prev := pagerLink(body, "prev")
		if prev == "" {
			t.Fatalf("page %d has no Previous link", i+2)
		}
		res, body = admin.get(prev)
		wantStatus(t, res, body, http.StatusOK)
		var page []string
		for _, m := range killRe.FindAllStringSubmatch(body, -1) {
			page = append(page, m[1])
		}
		if !slices.Equal(page, pages[i]) {
			t.Errorf("Previous to page %d lists %v, want %v", i+1, page, pages[i])
		}
	}
	if pagerLink(body, "prev") != "" {
		t.Error("the first page has a Previous link")
	}

	// Fewer than a page before the cursor (here: before page 1's last
	// session): the previous page is the first one.
	next := pagerLink(body, "next")
	res, body = admin.get(strings.Replace(next, "?after=", "?before=", 1))
	wantRedirect(t, res, body, "/admin/sessions")

	// A filtered list pages by ?page= alone (a cursor in its URL is not used).
	res, body = admin.get("/admin/sessions?ip=192.0.2.1&page=2&" + strings.TrimPrefix(next, "/admin/sessions?"))
	wantStatus(t, res, body, http.StatusOK)
	if q := a.sessions.lastQuery; q.After != nil || q.Offset != perPage || q.IP != "192.0.2.1" {
		t.Errorf("filtered list: query %+v, want by offset", q)
	}
}

// pathOfPage follows "Next page" from the first page n-1 times and
// returns the path of page n.
func pathOfPage(t *testing.T, c *client, n int) string {
	t.Helper()
	path := "/admin/sessions"
	for range n - 1 {
		_, body := c.get(path)
		path = pagerLink(body, "next")
	}
	return path
}
